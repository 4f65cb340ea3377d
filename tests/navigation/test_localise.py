"""Localisation of hot tissue from a tracked sweep (issue 17 item 3): the response model against
the simulator, exact recovery from noise-free data, background alone, and the issue's acceptance
on simulated 60 s freehand sweeps (probe_nav.simulator.sweeps: tissue scatter on, ~20 cps of room
and blood-pool background, the default cdte-14 probe).

The acceptance tests run at 4 mm voxels to keep the suite's time down (the positions come from
the point-source fits, not the grid; benchmarks/bench_locate.py measures the 3 mm default)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.navigation.localise import localise, sweep_grid
from probe_nav.navigation.response import ResponseModel
from probe_nav.simulator.physics import PointSource, Pose, ProbeModel, source_rate_cps
from probe_nav.simulator.sweeps import freehand_sweep, hand_path, node_scenario

PROBE = ProbeModel()
VOXEL_MM = 4.0


@pytest.fixture(scope="module")
def model() -> ResponseModel:
    return ResponseModel(PROBE)


def _error_mm(spot, truth: np.ndarray) -> float:
    return float(np.linalg.norm([spot.x_mm - truth[0], spot.y_mm - truth[1],
                                 spot.z_mm - truth[2]]))


def test_response_is_the_simulators_primary_rate(model: ResponseModel) -> None:
    tips, axes = hand_path(40, 0.05, seed=3)
    source = PointSource("n", (4.0, -7.0, -18.0), 0.02)
    ours = model.block(tips, axes, np.array([source.position_mm]))[:, 0] * 0.02e6
    sim = [source_rate_cps(PROBE, Pose(tuple(t), tuple(a)), source, 0.0)
           for t, a in zip(tips, axes, strict=True)]
    np.testing.assert_allclose(ours, sim, rtol=1e-9)
    assert np.ptp(sim) > 0.1 * max(sim)  # the poses do differ
    # The skin plane shifts with everything else: the same geometry 7 mm higher
    lifted = ResponseModel(PROBE, skin_z_mm=7.0)
    shift = np.array([0.0, 0.0, 7.0])
    again = lifted.block(tips + shift, axes, np.array([source.position_mm]) + shift)[:, 0]
    np.testing.assert_allclose(again * 0.02e6, sim, rtol=1e-9)


def _poses(n: int = 1200, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tips, axes = hand_path(n, 0.05, seed=seed)
    return tips, axes, np.full(n, 0.05)


def test_noise_free_counts_of_a_point_at_a_voxel_centre_recover_it(model: ResponseModel) -> None:
    tips, axes, live = _poses()
    grid = sweep_grid(tips, 0.0, VOXEL_MM)
    centres = grid.centres_mm
    truth = centres[np.argmin(np.linalg.norm(centres - [6.0, -9.0, -14.0], axis=1))]
    b_cps, activity_bq = 20.0, 15e3
    counts = live * (b_cps + activity_bq * model.block(tips, axes, truth[None])[:, 0])
    result = localise(model, tips, axes, live, counts, voxel_mm=VOXEL_MM)
    assert len(result.spots) == 1
    spot = result.spots[0]
    # noise-free: only the optimiser's tolerance (xtol 1e-3 in mm and log activity) is left
    assert _error_mm(spot, truth) < 0.1
    assert spot.activity_bq == pytest.approx(activity_bq, rel=0.01)
    assert result.background_cps == pytest.approx(b_cps, rel=1e-3)
    assert spot.relative_activity == 1.0 and 0 < spot.sd_mm < 5


def test_background_alone_gives_no_confident_spot_and_almost_no_activity(
        model: ResponseModel) -> None:
    tips, axes, live = _poses(seed=1)
    rng = np.random.default_rng(5)
    b_cps = 20.0
    counts = rng.poisson(live * b_cps)
    result = localise(model, tips, axes, live, counts, voxel_mm=VOXEL_MM)
    assert all(s.sd_mm > 15 for s in result.spots), result.spots
    # b from 1200 counts: sd sqrt(20 / 60 s) = 0.58 cps; 4 sd
    assert abs(result.background_cps - b_cps) < 4 * math.sqrt(b_cps / live.sum())
    # The image explains a small part of the counts: what MLEM fits of the noise in 40 iterations
    grid = result.image.grid
    system = model.matrix(tips, axes, grid.centres_mm)
    explained = float(live @ (system @ result.image.activity_bq.astype(np.float32)))
    assert explained < 0.05 * counts.sum()


def _node_errors(model: ResponseModel, depth_mm: tuple[float, float], seeds: range
                 ) -> tuple[list[float], list[float]]:
    """3D and depth errors of the strongest spot (inf: no spot) for a 10-20 kBq node at a
    random depth in the range, within 15 mm of the sweep's centre in x and y."""
    errors, depth_errors = [], []
    for seed in seeds:
        rng = np.random.default_rng(1000 + seed)
        truth = np.array([rng.uniform(-15, 15), rng.uniform(-15, 15), -rng.uniform(*depth_mm)])
        node = PointSource("node", tuple(truth), rng.uniform(0.010, 0.020))
        sweep = freehand_sweep(node_scenario((node,)), 60.0, seed=seed)
        result = localise(model, sweep.position_mm, sweep.axis, sweep.live_s, sweep.counts,
                          voxel_mm=VOXEL_MM)
        if result.spots:
            errors.append(_error_mm(result.spots[0], truth))
            depth_errors.append(abs(result.spots[0].z_mm - truth[2]))
        else:
            errors.append(math.inf)
            depth_errors.append(math.inf)
    return errors, depth_errors


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~28 s alone on a quiet core: simulated 60 s sweeps with scatter
def test_a_node_10_to_20_mm_deep_is_found_within_5_mm(model: ResponseModel) -> None:
    # Measured per seed (6 seeds at 4 mm, 8 at 3 mm): errors 1-5 mm, one above 5 mm (p ~ 1/8;
    # an ideal localiser: ~2.6 mm). The median of 3 fails only with 2 such seeds:
    # binomial(3, 1/8) >= 2 has probability ~4% (5 seeds: ~2%, for 16 s more).
    errors, depth_errors = _node_errors(model, (10.0, 20.0), range(3))
    assert np.median(errors) <= 5.0, errors
    assert np.median(depth_errors) <= 5.0, depth_errors


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~57 s alone on a quiet core
def test_a_node_30_to_40_mm_deep_is_found_within_15_mm(model: ResponseModel) -> None:
    # At 30-40 mm a 10-20 kBq node gives 2 log L ~ 20-40 in 60 s: it is missed (no spot, an
    # infinite error here) or found at 2-19 mm; measured 3 of 8 seeds beyond 15 mm (p ~ 0.35).
    # The median of 7 fails with 4 such seeds: binomial(7, 0.35) >= 4, ~20%: the seeds are
    # fixed, so the test is deterministic, but it is a weak guarantee (docs/navigation.md).
    errors, depth_errors = _node_errors(model, (30.0, 40.0), range(7))
    assert np.median(errors) <= 15.0, errors
    assert np.median(depth_errors) <= 15.0, depth_errors


@pytest.mark.slow
def test_two_nodes_20_mm_apart_are_reported_as_two(model: ResponseModel) -> None:
    truth = np.array([[-10.0, 0.0, -12.0], [10.0, 0.0, -12.0]])
    nodes = tuple(PointSource(f"n{i}", tuple(p), 0.015) for i, p in enumerate(truth))
    sweep = freehand_sweep(node_scenario(nodes), 60.0, seed=1)
    result = localise(model, sweep.position_mm, sweep.axis, sweep.live_s, sweep.counts,
                      voxel_mm=VOXEL_MM)
    confident = [s for s in result.spots if s.sd_mm <= 15]
    assert len(confident) == 2, result.spots
    # each node has its own spot within 5 mm (a 15 kBq node at 12 mm: ~2 mm, the test above)
    for node in truth:
        assert min(_error_mm(s, node) for s in confident) <= 5.0, result.spots


@pytest.mark.slow
def test_a_background_only_sweep_has_no_confident_spot(model: ResponseModel) -> None:
    sweep = freehand_sweep(node_scenario(()), 60.0, seed=2)
    result = localise(model, sweep.position_mm, sweep.axis, sweep.live_s, sweep.counts,
                      voxel_mm=VOXEL_MM)
    assert all(s.sd_mm > 15 for s in result.spots), result.spots
    assert result.background_cps == pytest.approx(sweep.true_rate_cps.mean(), abs=2.5)


def test_the_hand_path_covers_the_square_with_bounded_tilts() -> None:
    tips, axes = hand_path(1200, 0.05, centre_xy_mm=(10.0, -5.0), seed=4)
    again, _ = hand_path(1200, 0.05, centre_xy_mm=(10.0, -5.0), seed=4)
    np.testing.assert_array_equal(tips, again)  # deterministic per seed
    # within the 60 mm square plus the jitter (sd 2 mm per axis: 5 sd = 10 mm)
    assert np.all(np.abs(tips[:, 0] - 10.0) < 40) and np.all(np.abs(tips[:, 1] + 5.0) < 40)
    assert np.ptp(tips[:, 0]) > 55 and np.ptp(tips[:, 1]) > 55 and np.all(tips[:, 2] == 0)
    tilt_deg = np.degrees(np.arccos(-axes[:, 2]))
    np.testing.assert_allclose(np.linalg.norm(axes, axis=1), 1.0, atol=1e-12)
    assert tilt_deg.max() <= 15.0 + 1e-9 and tilt_deg.mean() > 3.0
    # ~20 mm/s along the raster (the jitter adds a little): path length over 60 s
    speed = np.linalg.norm(np.diff(tips[:, :2], axis=0), axis=1).sum() / 60.0
    assert 18.0 < speed < 30.0


def test_a_sweeps_counts_are_drawn_at_its_poses(model: ResponseModel) -> None:
    node = PointSource("node", (0.0, 0.0, -10.0), 0.02)
    sweep = freehand_sweep(node_scenario((node,), background=None), 2.0, seed=1)
    assert len(sweep.frames) == 40 and len(sweep.poses) == 40
    rate = 0.02e6 * model.block(sweep.position_mm, sweep.axis,
                                np.array([node.position_mm]))[:, 0]
    # truth = our primary rate + 20 cps of background + the node's tissue scatter in the window
    excess = sweep.true_rate_cps - rate
    assert np.all(excess > 19.0) and np.all(excess < 20.0 + 0.2 * rate + 1.0)
