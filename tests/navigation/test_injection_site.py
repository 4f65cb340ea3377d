"""Localisation beside an injection site (issue 17: "a node 60-80 mm from the injection site found
within 10 mm"): the far field (probe_nav.navigation.farfield), sources beyond the search box, and
the acceptance on simulated 60 s freehand sweeps (tissue scatter on: most of a site's counts in
the window are photons scattered under the probe)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.navigation.farfield import FarField
from probe_nav.navigation.localise import localise
from probe_nav.navigation.response import ResponseModel
from probe_nav.simulator.physics import ProbeModel
from probe_nav.simulator.sweeps import (
    freehand_sweep,
    hand_path,
    injection_site_sources,
    node_scenario,
)

VOXEL_MM = 4.0  # as tests/navigation/test_localise.py: positions come from the point fits
THETA = np.array([math.log(6.0), 1.2, -0.6, 0.4, -0.3])  # a site beyond +x, a little -y


@pytest.fixture(scope="module")
def model() -> ResponseModel:
    return ResponseModel(ProbeModel())


def _poses(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tips, axes = hand_path(n, 0.05, seed=seed)
    return tips, axes, np.full(n, 0.05)


def test_the_far_field_fit_recovers_a_known_field() -> None:
    tips, axes, live = _poses()
    field = FarField(tips, axes)
    rate = 20.0 + field.rate(THETA)
    exact = field.fit(live, live * rate, np.zeros(len(live)), 25.0, True)
    # noise-free: only L-BFGS-B's tolerance is left
    np.testing.assert_allclose(exact.theta, THETA, atol=2e-3)
    assert exact.background_cps == pytest.approx(20.0, abs=0.01)
    # Poisson counts: each parameter within 4 sd of the truth, the sd from the inverse Fisher
    # information sum_f live_f d_k d_l / rate_f over (b, theta) (d the rate's derivatives)
    counts = np.random.default_rng(7).poisson(live * rate)
    noisy = field.fit(live, counts, np.zeros(len(live)), 25.0, True)
    grads = np.column_stack([np.ones(len(live)), field.features * field.rate(THETA)[:, None]])
    info = (grads * (live / rate)[:, None]).T @ grads
    sd = np.sqrt(np.diag(np.linalg.inv(info)))
    error = np.concatenate([[noisy.background_cps - 20.0], noisy.theta - THETA])
    assert np.all(np.abs(error) < 4 * sd), (error, sd)
    # a given background stays as given
    fixed = field.fit(live, live * rate, np.zeros(len(live)), 20.0, False)
    assert fixed.background_cps == 20.0
    np.testing.assert_allclose(fixed.theta, THETA, atol=2e-3)


def test_a_far_field_alone_gives_no_spot(model: ResponseModel) -> None:
    tips, axes, live = _poses(seed=2)
    rate = 20.0 + FarField(tips, axes).rate(THETA)
    result = localise(model, tips, axes, live, live * rate, voxel_mm=VOXEL_MM)
    assert result.spots == ()
    assert result.far_field_cps is not None
    np.testing.assert_allclose(result.background_cps + result.far_field_cps, rate, rtol=1e-3)


@pytest.mark.slow  # ~11 s: two locates
def test_a_source_beyond_the_sweep_is_not_reported_as_a_spot(model: ResponseModel) -> None:
    # noise-free counts of a 15 kBq node under the sweep and a 300 kBq point 25 mm deep at
    # x = 50 mm, beyond the search box (the tips reach x = 33 mm, the box 10 mm further), seen
    # through its primary photons only (the response model's own): without the far field it
    # is fitted against the box's side, and with it the far field takes it
    tips, axes, live = _poses(seed=3)
    node = np.array([2.0, -3.0, -14.0])
    site = np.array([50.0, 5.0, -25.0])
    rate = 20.0 + model.block(tips, axes, np.array([node, site])) @ np.array([15e3, 3e5])
    for far in (False, True):
        result = localise(model, tips, axes, live, live * rate, voxel_mm=VOXEL_MM,
                          far_field=far)
        assert len(result.spots) == 1, (far, result.spots)
        spot = result.spots[0]
        # what the far field does not explain moves the node a little (noise-free: measured
        # 0.0 mm without the far field, 0.3 mm with it)
        assert math.dist((spot.x_mm, spot.y_mm, spot.z_mm), node) < 1.5, (far, spot)
        # the site's rate is in the far field (mean 2.9 cps over the sweep), not in a spot
        assert result.far_field_cps is not None and result.far_field_cps.mean() > 0.3


@pytest.fixture(scope="module")
def site_sweeps() -> list[tuple[np.ndarray, object]]:
    """Sweeps 0-2 of injection_site_sources: the node under the centre, a 20-100 MBq site
    60-80 mm from it outside the swept square (seed 0: 60 MBq 61 mm away, 1: 67 MBq 72 mm,
    2: 42 MBq 63 mm)."""
    out = []
    for seed in range(3):
        node, site = injection_site_sources(seed)
        sweep = freehand_sweep(node_scenario((node, site)), 60.0, seed=seed)
        out.append((np.array(node.position_mm), sweep))
    return out


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~28 s alone: three simulated sweeps with scatter, three locates
def test_a_node_beside_an_injection_site_is_found_within_10_mm(
        model: ResponseModel, site_sweeps: list) -> None:
    # Measured over 20 seeds of injection_site_sources (4 mm voxels): the strongest spot within
    # 10 mm in 19 (median 2.4 mm), 43 mm off in one (63 MBq 61 mm away, a 10 kBq node: the far
    # field's straight slopes miss the curve of so close a site, and the node is lost). The
    # median of 3 fails only with 2 misses: binomial(3, 1/20) >= 2, ~0.7%. The seeds are fixed.
    # Before the far field (the same sweeps): a spurious deep spot towards the site, 41-64 mm
    # off, was the strongest in every one.
    errors = []
    for truth, sweep in site_sweeps:
        result = localise(model, sweep.position_mm, sweep.axis, sweep.live_s, sweep.counts,
                          voxel_mm=VOXEL_MM)
        spots = result.spots
        errors.append(math.dist((spots[0].x_mm, spots[0].y_mm, spots[0].z_mm), truth)
                      if spots else math.inf)
        # the old failure: a confident spot deep at the edge (the grid's floor is at 60 mm)
        assert not [s for s in spots if s.sd_mm <= 15 and s.z_mm < -40], spots
        assert result.far_field_cps is not None  # every one of these needs it
    assert np.median(errors) <= 10.0, errors
