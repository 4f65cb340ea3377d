"""Tissue scatter (simulator/scatter.py) against an independent Monte Carlo (scatter_mc.py).

Acceptance (issue 16): in-window (Tc-99m 140.5 keV, window 126-154 keV, CdTe 8 % FWHM) scatter /
primary of model and MC within a factor 1.5, sources 20 and 40 mm deep, probe on the skin 0-100 mm
beside the source, axis tilted 0, 20, 45 deg towards (+) and away (-) from the source.

MC noise: each MC figure carries its standard error from the per-history sample variance (N =
400,000 histories per source depth and tip offset, half aimed at the tip, seed fixed). With the
default head it is 0.5-3 % in most poses and 4-13 % where little reaches the crystal; the test
requires it below 13 %, so a factor 1.5 (ln 1.5 = 0.41) is at least 3 standard errors of the log
ratio, and > 13 in most poses. The next-event estimator is heavy-tailed near the probe (its
sample variance converges slowly), which is why the emission is aimed and N is large.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.simulator.detector import default_crystal
from probe_nav.simulator.physics import ProbeModel, Tissue
from probe_nav.simulator.probe_geometry import ProbeResponse
from probe_nav.simulator.scatter import ScatterModel
from probe_nav.simulator.scatter_rows import mean_scattered_kev, scatter_rows
from probe_nav.simulator.spectrum import CENTRES_KEV, line_row
from tests.simulator import scatter_mc as mc

TC_KEV, WINDOW_KEV = 140.5, (126.0, 154.0)
E_MIN_KEV = 112.0  # below this the 126 keV window gets < 1e-4 of a line (3.8 sd below it)
HEAD = ProbeModel().geometry  # the simulator's default probe head (cdte-14)
AIM_MM = -HEAD.crystal_centre_z_mm  # scatter angles are taken towards the crystal's centre
N_PHOTONS = 400_000
CRYSTAL = default_crystal("CdTe")
IN_WINDOW = (WINDOW_KEV[0] <= CENTRES_KEV) & (WINDOW_KEV[1] > CENTRES_KEV)


@lru_cache(maxsize=1)
def response() -> ProbeResponse:
    return ProbeResponse(HEAD)


@lru_cache(maxsize=4)
def model(scale: float = 1.05) -> ScatterModel:
    return ScatterModel(response(), TC_KEV, Tissue(mu_scale_to_water=scale), AIM_MM)


@lru_cache(maxsize=1)
def one_bin_model() -> ScatterModel:
    return ScatterModel(response(), TC_KEV, Tissue(), AIM_MM, edges_deg=(0.0, 180.0))


@lru_cache(maxsize=1)
def window_of_energy() -> tuple[np.ndarray, np.ndarray]:
    grid = np.arange(100.0, TC_KEV + 0.5, 0.25)
    return grid, np.array([line_row(CRYSTAL, float(e))[IN_WINDOW].sum() for e in grid])


def in_window(e_kev: np.ndarray) -> np.ndarray:
    grid, frac = window_of_energy()
    return np.interp(e_kev, grid, frac)


@lru_cache(maxsize=1)
def histories(depth_mm: float, offset_mm: float) -> mc.Histories:
    """MC histories per source depth and tip offset, shared by every tilt (cached per session).

    Half the photons are aimed within 40 mm of the tip (importance sampling; unbiased)."""
    cone_deg = min(max(math.degrees(math.atan2(40.0, math.hypot(depth_mm, offset_mm))), 25.0),
                   80.0)
    return mc.transport((0.0, 0.0, -depth_mm), TC_KEV, Tissue(), N_PHOTONS, seed=16,
                        e_min_kev=E_MIN_KEV, towards_mm=(offset_mm, 0.0, 0.0), cone_deg=cone_deg)


def pose(offset_mm: float, tilt_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Tip on the skin offset along +x from the source; + tilts the axis towards the source."""
    a = math.radians(tilt_deg)
    return np.array([offset_mm, 0.0, 0.0]), np.array([-math.sin(a), 0.0, -math.cos(a)])


def model_in_window(depth_mm: float, offset_mm: float, tilt_deg: float) -> float:
    tip, axis = pose(offset_mm, tilt_deg)
    bins = model().rates(tip, axis, np.array([[0.0, 0.0, -depth_mm]]))[0]
    rows = scatter_rows(CRYSTAL, TC_KEV, model().edges_deg)
    return float(bins @ rows[:, IN_WINDOW].sum(axis=1))


TILTS_DEG = (0.0, 20.0, -20.0, 45.0, -45.0)


@pytest.mark.parametrize("depth_mm", [20.0, 40.0])
@pytest.mark.parametrize("offset_mm", [0.0, 20.0, 40.0, 70.0, 100.0])
def test_model_matches_monte_carlo(depth_mm: float, offset_mm: float) -> None:
    """Every tilt of one (depth, offset): one set of MC histories serves them all."""
    bad = []
    for tilt_deg in TILTS_DEG if offset_mm else (0.0, 20.0, 45.0):  # offset 0: +- alike
        tip, axis = pose(offset_mm, tilt_deg)
        tally = mc.score(histories(depth_mm, offset_mm), response(), tip, axis, AIM_MM,
                         in_window, E_MIN_KEV)
        primary = mc.primary(response(), TC_KEV, Tissue(), np.array([0.0, 0.0, -depth_mm]),
                             tip, axis)
        assert primary > 0
        assert tally.total_sem < 0.13 * tally.total, f"MC too noisy at tilt {tilt_deg}"
        ratio = model_in_window(depth_mm, offset_mm, tilt_deg) / tally.total
        if not 1 / 1.5 < ratio < 1.5:
            bad.append(f"tilt {tilt_deg:+.0f}: model/MC {ratio:.2f}, "
                       f"MC scatter/primary {tally.total / primary:.3g}")
    assert not bad, bad


def test_vertical_probe_beside_source_sees_little_scatter() -> None:
    """Issue 16: the old model put 25-83 times the primary in-window scatter on a vertical probe
    40-70 mm beside a source (27 of 47 cps over a node came from an injection site's scatter).
    Beside the source the shielded head sees almost no primary (wall leakage only), so the ratio
    is large whatever the scatter; what must hold is that the scatter itself is small against
    what the probe sees over the source (here < 2 % of it) and falls with the offset."""
    over = mc.primary(response(), TC_KEV, Tissue(), np.array([0.0, 0.0, -20.0]),
                      *pose(0.0, 0.0))
    values = [model_in_window(20.0, offset, 0.0) / over for offset in (40.0, 55.0, 70.0)]
    assert all(0.0 < v < 0.02 for v in values), values
    assert values == sorted(values, reverse=True)


positions = st.tuples(st.floats(-120, 120), st.floats(-120, 120), st.floats(-80, -1))


@settings(max_examples=25, deadline=None)
@given(src=positions, tilt=st.floats(0, 80), azimuth=st.floats(0, 6.28))
def test_non_negative_and_bins_sum_to_total(src, tilt, azimuth) -> None:
    tip = np.array([0.0, 0.0, 0.0])
    axis = np.array([math.sin(math.radians(tilt)) * math.cos(azimuth),
                     math.sin(math.radians(tilt)) * math.sin(azimuth),
                     -math.cos(math.radians(tilt))])
    bins = model().single_scatter(tip, axis, np.array([src]))
    assert (bins >= 0).all() and bins.sum() > 0
    whole = one_bin_model().single_scatter(tip, axis, np.array([src]))[0, 0]
    np.testing.assert_allclose(bins.sum(), whole, rtol=1e-5)  # float32 pair sums


def test_no_tissue_no_scatter() -> None:
    none = model(0.0).rates(np.zeros(3), np.array([0.0, 0.0, -1.0]),
                            np.array([[0.0, 0.0, -20.0], [10.0, 0.0, 5.0]]))
    assert (none == 0).all()


def test_scales_with_compton_coefficient_in_thin_limit() -> None:
    """Thin medium: attenuation -> 1, so scatter is proportional to n_e (to 0.1 %)."""
    tip, axis, src = np.zeros(3), np.array([0.0, 0.0, -1.0]), np.array([[20.0, 0.0, -20.0]])
    one, two = (model(s).single_scatter(tip, axis, src).sum() for s in (1e-5, 2e-5))
    assert two / one == pytest.approx(2.0, rel=1e-3)


def test_rows_sum_to_one_and_energy_falls_with_angle() -> None:
    edges = model().edges_deg
    rows = scatter_rows(CRYSTAL, TC_KEV, edges)
    np.testing.assert_allclose(rows.sum(axis=1), 1.0, rtol=1e-9)
    mean_kev = rows @ CENTRES_KEV
    assert np.all(np.diff(mean_kev) < 0)
    assert np.all(np.diff(mean_scattered_kev(TC_KEV, edges)) < 0)


def test_energy_nodes_are_converged() -> None:
    """17 nodes (log-linear in cos theta) against 65: within 1 % (measured 0.04-0.15 %)."""
    fine = ScatterModel(response(), TC_KEV, Tissue(), AIM_MM, n_nodes=65)
    src = np.array([[0.0, 0.0, -30.0]])
    for offset, tilt in ((0.0, 0.0), (40.0, 0.0), (70.0, -20.0), (20.0, -45.0)):
        tip, axis = pose(offset, tilt)
        coarse_bins, fine_bins = model().rates(tip, axis, src)[0], fine.rates(tip, axis, src)[0]
        assert coarse_bins.sum() == pytest.approx(fine_bins.sum(), rel=0.01)


def test_node_count_must_fit_the_angle_table() -> None:
    with pytest.raises(ValueError, match="n_nodes"):
        ScatterModel(response(), TC_KEV, Tissue(), AIM_MM, n_nodes=20)
