"""Peak fitting, energy calibration, energy resolution and windows on simulated spectra."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.calibration.energy import (
    AmbiguousCalibration,
    EnergyCalibration,
    auto_calibrate,
    calibrate_energy,
    energy_resolution,
    find_peaks,
    fit_peak,
    window_for,
)
from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.nuclides import nuclide
from probe_nav.calibration.sources import calibration_lines
from probe_nav.simulator.benches import CalibrationSpectrum, bench_calibration_spectrum

from .conftest import coverage_bounds


def _gauss_spectrum(rng: np.random.Generator, centre: float, fwhm: float, area: float,
                    bg: float, n: int = 200) -> np.ndarray:
    x = np.arange(n)
    sigma = fwhm / (2 * math.sqrt(2 * math.log(2)))
    mean = bg + area / (sigma * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((x - centre) / sigma)
                                                                 ** 2)
    return rng.poisson(mean)


ISOLATED = {"Am-241": 0.3, "Co-57": 0.2, "Cs-137": 2.0}
GAMMAS_KEV = (59.5409, 122.0607, 661.657)  # their main gamma lines


def _bench_lines(s: CalibrationSpectrum) -> tuple[list[float], list[float]]:
    """Every line of the bench's sources with its yield relative to its source's strongest."""
    return calibration_lines(list(dict.fromkeys(name for _, name, _ in s.lines)))


def _used(cal: EnergyCalibration, energy_kev: float) -> bool:
    """Whether a line is one of the calibration's points (a single line, not a blend)."""
    return any(abs(e - energy_kev) < 1e-6 for e in cal.energies_kev)


def test_fit_peak_centroid_and_area_within_their_sd() -> None:
    rng = np.random.default_rng(3)
    n, c_hits, a_hits = 60, 0, 0
    for _ in range(n):
        centre = rng.uniform(80, 120)
        y = _gauss_spectrum(rng, centre, 8.0, 5000.0, 50.0)
        fit = fit_peak(y, round(centre))
        c_hits += abs(fit.centroid_ch - centre) <= 2 * fit.centroid_sd_ch
        a_hits += abs(fit.area - 5000.0) <= 2 * fit.area_sd
    lo, hi = coverage_bounds(n, 2.0)
    assert lo <= c_hits <= hi and lo <= a_hits <= hi


def test_no_peak_gives_a_clear_error() -> None:
    rng = np.random.default_rng(4)
    flat = rng.poisson(100.0, 200)
    with pytest.raises(AnalysisError, match=r"no significant peak|did not converge|degenerate"):
        fit_peak(flat, 100)
    assert find_peaks(flat) == []
    with pytest.raises(AnalysisError, match="too few counts"):
        fit_peak(np.zeros(200), 100, 8.0)
    with pytest.raises(AnalysisError, match="outside the spectrum"):
        fit_peak(flat, 500)
    with pytest.raises(AnalysisError, match="at least"):
        find_peaks([1, 2, 3])
    with pytest.raises(AnalysisError, match="found 0 peak"):
        auto_calibrate(flat, [122.1, 661.7])


def test_linear_calibration_recovers_known_peaks() -> None:
    # No hole tailing: the Gaussian model is exact and the coefficients land within their sd
    # (scaled by the Birge ratio sqrt(chi2/dof) when the residuals are wider than the sds).
    # Am-241, Co-57, Cs-137 (Ba-133's 356 keV peak is pulled ~0.3 keV by 384 keV on its flank).
    s = bench_calibration_spectrum(ISOLATED, tail_fraction=0.0, count_s=600.0, seed=11)
    energies, yields = _bench_lines(s)
    cal = auto_calibrate(s.spectrum, energies, yields=yields)
    assert len(cal.energies_kev) >= 4
    birge = max(1.0, math.sqrt(cal.chi2_dof or 1.0))
    for got, sd, want in zip(cal.coefficients, cal.coefficients_sd, s.coefficients[:2],
                             strict=True):
        assert abs(got - want) <= 3.5 * sd * birge
    for energy in GAMMAS_KEV:
        assert cal.to_channel(energy) == pytest.approx(s.channel_of(energy), abs=0.3)


def test_quadratic_calibration_recovers_a_nonlinear_gain() -> None:
    coefficients = (2.0, 0.7, 6e-5)
    s = bench_calibration_spectrum(ISOLATED, tail_fraction=0.0, count_s=600.0,
                                   coefficients=coefficients, seed=12)
    energies, yields = _bench_lines(s)
    # No straight line explains all the peaks: one reads the low-energy peaks, another the
    # high-energy ones, neither better; refused rather than one picked.
    with pytest.raises(AmbiguousCalibration, match=r"ambiguous: .*--order 2"):
        auto_calibrate(s.spectrum, energies, order=1, yields=yields)
    quad = auto_calibrate(s.spectrum, energies, order=2, yields=yields)
    assert quad.order == 2 and quad.chi2_dof is not None and len(quad.channels) >= 4
    for energy in GAMMAS_KEV:
        assert quad.to_kev(s.channel_of(energy)) == pytest.approx(energy, abs=0.4)


def test_cdte_tailing_biases_centroids_by_less_than_1_kev() -> None:
    s = bench_calibration_spectrum(seed=13)  # CdTe with 15 % hole tailing
    energies, yields = _bench_lines(s)
    cal = auto_calibrate(s.spectrum, energies, yields=yields)
    truth = EnergyCalibration(s.coefficients[:2], ((0, 0), (0, 0)), None, ())
    for energy in (*GAMMAS_KEV, 356.013):
        assert float(truth.to_kev(cal.to_channel(energy))) == pytest.approx(energy, abs=1.0)


def test_energy_resolution_matches_the_crystal() -> None:
    # Isolated lines (Co-57's 122.1 keV line has the 136.5 keV line on its flank, which biases
    # a single-Gaussian width by ~3 %: docs/qc-analyses.md).
    s = bench_calibration_spectrum(activities_mbq={"Tc-99m": 0.5, "Cs-137": 3.0},
                                   tail_fraction=0.0, count_s=600.0, seed=14)
    cal = calibrate_energy([(s.channel_of(140.5), 0.01, 140.5),
                            (s.channel_of(661.7), 0.01, 661.7)])
    for energy in (140.5, 661.7):
        r = energy_resolution(s.spectrum, cal, energy)
        # Gaussian FWHM of the crystal plus the 0.75 keV channel width in quadrature
        want = math.sqrt(s.fwhm_kev(energy) ** 2 + 0.75**2 / 12 * 8 * math.log(2))
        assert r.fwhm_kev == pytest.approx(want, abs=3.5 * r.fwhm_sd_kev + 0.01 * want)
        assert r.fwhm_pct == pytest.approx(100 * r.fwhm_kev / r.energy_kev)
    with pytest.raises(AnalysisError, match=r"no photopeak|no significant"):
        energy_resolution(s.spectrum, cal, 400.0)


def test_calibration_errors() -> None:
    with pytest.raises(AnalysisError, match="at least 3"):
        calibrate_energy([(10, 0.1, 20), (20, 0.1, 40)], order=2)
    with pytest.raises(AnalysisError, match="order"):
        calibrate_energy([(10, 0.1, 20), (20, 0.1, 40)], order=3)
    with pytest.raises(AnalysisError, match="distinct"):
        calibrate_energy([(10, 0.1, 20), (10, 0.1, 20)])
    with pytest.raises(AnalysisError, match="not rising"):
        calibrate_energy([(10, 0.1, 40), (20, 0.1, 20)])


@given(st.floats(-5, 5), st.floats(0.2, 3.0), st.floats(-2e-4, 2e-4), st.floats(0, 1000))
def test_channel_energy_round_trip(c0: float, c1: float, c2: float, x: float) -> None:
    cal = EnergyCalibration((c0, c1, c2), ((0,) * 3,) * 3, None, ())
    if cal.kev_per_channel(x) <= 0.05:
        return  # past the top of the quadratic: not a usable channel
    assert cal.to_channel(float(cal.to_kev(x))) == pytest.approx(x, abs=1e-6)


def test_windows() -> None:
    default = window_for("Tc-99m")
    assert (default.lo_kev, default.hi_kev) == (126.0, 155.0)
    cal = EnergyCalibration((0.0, 0.75), ((0, 0), (0, 0)), None, ())
    w = window_for("tc-99m", cal, fwhm_pct=8.0, fwhm_multiple=1.0)
    main_kev = nuclide("Tc-99m").main_line.energy_kev  # 140.5 keV
    assert w.lo_kev == pytest.approx(main_kev * 0.92) and w.hi_kev == pytest.approx(main_kev * 1.08)
    assert w.lo_channel == math.ceil(main_kev * 0.92 / 0.75)
    assert w.as_energy_window().name == "Tc-99m"
    with pytest.raises(AnalysisError):
        window_for("Tc-99m", fwhm_pct=0.0)


def _lines_and_yields(*names: str) -> tuple[list[float], list[float]]:
    from probe_nav.calibration.nuclides import nuclide

    lines = [line for name in names for line in nuclide(name).lines]
    return [line.energy_kev for line in lines], [line.yield_per_decay for line in lines]


def test_compton_edge_is_not_taken_for_a_line() -> None:
    # Am-241 + Co-57 + Cs-137 at 3 keV/channel: the Cs-137 Compton edge (477 keV) is found as a
    # peak but is too wide for a photopeak; 122.1/136.5 keV blend at 3 keV/channel.
    s = bench_calibration_spectrum({"Am-241": 0.4, "Co-57": 0.2, "Cs-137": 4.0},
                                   coefficients=(1.0, 3.0), n_channels=256, count_s=120.0,
                                   tail_fraction=0.0, seed=21)
    energies, yields = _lines_and_yields("Am-241", "Co-57", "Cs-137")
    assert any(abs(p.channel - s.channel_of(477.3)) < 10 for p in find_peaks(s.spectrum))
    cal = auto_calibrate(s.spectrum, energies, yields=yields)
    assert _used(cal, 661.657) and _used(cal, 59.5409)
    assert all(abs(c - s.channel_of(477.3)) > 10 for c in cal.channels)
    birge = max(1.0, math.sqrt(cal.chi2_dof or 1.0))
    assert abs(cal.coefficients[1] - 3.0) <= 3.5 * birge * cal.coefficients_sd[1]


def test_weak_flank_line_is_not_taken_for_the_main_line() -> None:
    # CdTe at 1 keV/channel: 136.5 keV is a shoulder of 122.1 keV, not a peak. Mapping the
    # 122 keV peak to 136.5 keV would also fit two points exactly, but leaves the strong
    # 122.1 keV line unfound: the weak line is the one missing.
    s = bench_calibration_spectrum({"Am-241": 0.4, "Co-57": 0.4}, coefficients=(0.5, 1.0),
                                   n_channels=256, count_s=300.0, tail_fraction=0.0, seed=22)
    energies, yields = _lines_and_yields("Am-241", "Co-57")
    cal = auto_calibrate(s.spectrum, energies, yields=yields)
    assert _used(cal, 59.5409) and _used(cal, 122.0607) and not _used(cal, 136.4736)
    assert cal.coefficients[1] == pytest.approx(1.0, abs=4 * cal.coefficients_sd[1] + 0.002)


def test_unresolved_doublet_is_one_blended_point() -> None:
    # CsI(Tl) (~24 keV FWHM at 122 keV): 122.1 and 136.5 keV are one peak, calibrated at the
    # yield-weighted energy with its spread as uncertainty; Am-241 is the other point.
    s = bench_calibration_spectrum({"Am-241": 0.4, "Co-57": 0.4}, coefficients=(0.5, 1.0),
                                   n_channels=256, count_s=300.0, detector="CsI(Tl)", seed=24)
    energies, yields = _lines_and_yields("Am-241", "Co-57")
    cal = auto_calibrate(s.spectrum, energies, yields=yields)
    blend = (122.0607 * 0.856 + 136.4736 * 0.1068) / (0.856 + 0.1068)
    assert cal.energies_kev[-2:] == pytest.approx((59.5409, blend))
    assert float(cal.to_kev(s.channel_of(122.1))) == pytest.approx(122.1, abs=3.0)


def test_co57_alone_is_refused_not_mismatched() -> None:
    # Without its 14.4 keV line, one resolved peak (122.1 with 136.5 on its flank) and the
    # backscatter/Compton hump: no plausible two-point calibration exists, and none is made up.
    s = bench_calibration_spectrum({"Co-57": 0.5}, coefficients=(0.5, 1.0), n_channels=256,
                                   count_s=60.0, seed=23)
    energies, yields = _lines_and_yields("Co-57")
    gammas = [(e, y) for e, y in zip(energies, yields, strict=True) if e > 100.0]
    with pytest.raises(AnalysisError, match="match at most one of the lines"):
        auto_calibrate(s.spectrum, [e for e, _ in gammas], yields=[y for _, y in gammas])
    # With it, 14.4 and 122.1 keV are two well-separated points (136.5 keV, 8x weaker than
    # the unfound 122.1 keV under the rival map, is not used in its place).
    cal = auto_calibrate(s.spectrum, energies, yields=yields)
    assert cal.energies_kev == (14.413, 122.0607)
    assert cal.coefficients[1] == pytest.approx(1.0, rel=0.01)


def test_peak_next_to_the_discriminator_is_fitted() -> None:
    # An I-125-like peak a few channels above the threshold (empty channels below it).
    rng = np.random.default_rng(5)
    y = _gauss_spectrum(rng, 16.0, 6.0, 20000.0, 40.0, n=120)
    y[:12] = 0
    fit = fit_peak(y, 16)
    assert fit.lo_ch >= 13 and fit.hi_ch - fit.lo_ch + 1 >= 7
    assert abs(fit.centroid_ch - 16.0) <= 4 * fit.centroid_sd_ch
