"""Peak fits by Poisson likelihood: unbiased at low counts, exact on noiseless spectra, sds that
match the scatter, and fits that do not settle (a Compton edge) refused."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.peaks import SIGMA_PER_FWHM, fit_peak


def _expected(centre: float, fwhm: float, area: float, bg: float, slope: float = 0.0,
              n: int = 200) -> np.ndarray:
    """Expected counts per channel: the fit's own model (density at the bin centre)."""
    x = np.arange(n, dtype=float)
    sigma = fwhm * SIGMA_PER_FWHM
    gauss = area / (sigma * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((x - centre) / sigma) ** 2)
    return gauss + bg + slope * (x - centre)


def test_low_count_peak_is_fitted_without_bias() -> None:
    # 150 net counts, FWHM 8 channels, 1 background count per channel: weighted least squares
    # (sqrt(y) weights) gave area -7.5 % and FWHM -6.1 % on average on these 400 spectra; the
    # Poisson likelihood fit gives -0.4 % and -0.6 %. Tolerance: 4 sd of the mean of K
    # estimates, the sd taken from the estimates' own spread (the sampling distribution, ~10 %
    # per fit, so 4 * 0.10 / sqrt(400) = 2 %), plus 1/N = 0.7 % for the maximum-likelihood
    # estimator's own O(1/N) bias (a Gaussian width's ML estimate is low by ~3/(4N)).
    area, fwhm, k = 150.0, 8.0, 400
    mean = _expected(100.3, fwhm, area, 1.0)
    fits = []
    for seed in range(k):
        y = np.random.default_rng(seed).poisson(mean)
        with contextlib.suppress(AnalysisError):
            fits.append(fit_peak(y, 100, fwhm))
    # a refused fit would select the sample: at most 1 % refused (none of these 400)
    assert len(fits) >= 0.99 * k
    areas = np.array([f.area for f in fits]) / area
    widths = np.array([f.fwhm_ch for f in fits]) / fwhm
    for values in (areas, widths):
        tolerance = 4 * values.std(ddof=1) / math.sqrt(len(values)) + 1 / area
        assert abs(values.mean() - 1.0) <= tolerance
    # The reported sds (inverse Fisher information) describe the spread: the sample sd of 400
    # estimates is itself uncertain by 1/sqrt(2 * 400) = 3.5 %; accept 4 of those, 14 %.
    assert np.mean([f.area_sd for f in fits]) / area == pytest.approx(areas.std(ddof=1),
                                                                       rel=0.14)
    assert np.mean([f.fwhm_sd_ch for f in fits]) / fwhm == pytest.approx(widths.std(ddof=1),
                                                                         rel=0.14)


@settings(max_examples=60, deadline=None)
@given(centre=st.floats(70.0, 130.0), fwhm=st.floats(4.0, 20.0), area=st.floats(3000.0, 1e5),
       bg=st.floats(0.5, 100.0), slope=st.floats(-0.003, 0.003))
def test_noiseless_spectrum_is_fitted_exactly(centre: float, fwhm: float, area: float,
                                              bg: float, slope: float) -> None:
    # The expected counts themselves are the likelihood's maximum (deviance 0 at the truth),
    # so the fit must return the generating parameters up to the optimiser's tolerance.
    y = _expected(centre, fwhm, area, bg, slope * bg)
    fit = fit_peak(y, round(centre), fwhm * 1.2)
    assert fit.centroid_ch == pytest.approx(centre, abs=1e-3 * fwhm)
    assert fit.fwhm_ch == pytest.approx(fwhm, rel=1e-3)
    assert fit.area == pytest.approx(area, rel=1e-3)
    assert fit.chi2_dof == pytest.approx(0.0, abs=1e-4)


@settings(max_examples=30, deadline=None)
@given(shift=st.integers(1, 40), seed=st.integers(0, 2**32 - 1))
def test_a_shifted_spectrum_gives_the_shifted_fit(shift: int, seed: int) -> None:
    # The same counts moved down by `shift` channels (a different offset of the same spectrum):
    # the fit sees the same numbers in its region, so the centroid moves by exactly `shift`
    # and the area, FWHM and their sds do not change.
    y = np.random.default_rng(seed).poisson(_expected(150.0, 8.0, 400.0, 3.0, n=300))
    base = fit_peak(y[:250], 150, 8.0)
    moved = fit_peak(y[shift:shift + 250], 150 - shift, 8.0)
    assert moved.centroid_ch == pytest.approx(base.centroid_ch - shift, abs=1e-6)
    assert moved.area == pytest.approx(base.area, rel=1e-6)
    assert moved.fwhm_ch == pytest.approx(base.fwhm_ch, rel=1e-6)
    assert moved.area_sd == pytest.approx(base.area_sd, rel=1e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_edge_that_keeps_moving_with_its_region_is_refused(seed: int) -> None:
    # A Compton-edge-like hump (a continuum rising as x^2 up to an edge that falls over ~30
    # channels): a Gaussian on a line fitted to it widens with every region it is given
    # (40 -> 43 -> 51 -> 55 -> 58 channels), so it is refused rather than reported as a peak.
    # (Settling is a necessary condition only: a steeper hump can settle and pass as a peak.)
    x = np.arange(300, dtype=float)
    edge = 20.0 + 200.0 * (x / 150.0) ** 2 / (1.0 + np.exp((x - 150.0) / 8.0))
    y = np.random.default_rng(seed).poisson(edge)
    with pytest.raises(AnalysisError, match="does not settle"):
        fit_peak(y, 145, 40.0)
