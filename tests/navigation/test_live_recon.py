"""Live reconstruction (issue 17 item 3): the incremental system matrix on a growing grid gives
exactly locate's image, frames merge while the probe stands still, memory is capped, after a
60 s sweep the live spots agree with `locate`'s (probe_nav.navigation.localise), and beside an
injection site the live spots, like locate's, are not drawn to its shine-through."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.navigation.farfield import FarField
from probe_nav.navigation.live_recon import MIN_POSES, LiveReconstruction, ReconSnapshot
from probe_nav.navigation.localise import localise, mlem
from probe_nav.navigation.response import ResponseModel
from probe_nav.simulator.physics import PointSource, ProbeModel
from probe_nav.simulator.scenario import Scenario
from probe_nav.simulator.sweeps import (
    freehand_sweep,
    hand_path,
    injection_site_sources,
    node_scenario,
)


@pytest.fixture(scope="module")
def model() -> ResponseModel:
    return ResponseModel(ProbeModel())


def _feed(rec: LiveReconstruction, tips: np.ndarray, axes: np.ndarray, live: np.ndarray,
          counts: np.ndarray, every: int = 25) -> None:
    for i in range(len(tips)):
        rec.add(tips[i], axes[i], live[i], counts[i])
        if i % every == every - 1:
            rec.update_image()


def test_the_growing_grid_gives_exactly_the_image_of_the_whole_matrix(
        model: ResponseModel) -> None:
    tips, axes = hand_path(300, 0.1, seed=5)  # 30 s: the grid grows as the raster goes on
    rng = np.random.default_rng(7)
    live = np.full(len(tips), 0.1)
    counts = rng.poisson(2.0, len(tips)).astype(float)
    rec = LiveReconstruction(model, background_cps=20.0, merge_mm=0.0)
    shapes = set()
    for i in range(len(tips)):
        rec.add(tips[i], axes[i], live[i], counts[i])
        if i % 25 == 24:
            snap = rec.update_image()
            assert snap.image is not None
            shapes.add(snap.image.grid.shape)
    assert len(shapes) >= 3  # it did grow
    image = rec.update_image().image
    assert image is not None and image.background_cps == 20.0
    system = model.matrix(tips, axes, image.grid.centres_mm)
    x, ll = mlem(system, live, counts, 20.0)
    # the same float32 matrix, whether built at once or by rows and grown columns
    np.testing.assert_allclose(image.activity_bq, x, rtol=1e-6, atol=1e-9 * x.max())
    assert image.log_likelihood == pytest.approx(ll, rel=1e-9)
    # the grid covers the sweep plus the margin
    assert image.grid.x_mm[0] < tips[:, 0].min() - 15
    assert image.grid.x_mm[-1] > tips[:, 0].max() + 15


def test_frames_merge_while_the_probe_stands_still(model: ResponseModel) -> None:
    rec = LiveReconstruction(model)
    down = (0.0, 0.0, -1.0)
    for _ in range(50):
        rec.add((0.0, 0.0, 0.0), down, 0.1, 3)
    rec.add((0.5, 0.0, 0.0), down, 0.1, 1)  # within 1 mm of the kept pose: merged
    tilted = (np.sin(np.radians(3.0)), 0.0, -np.cos(np.radians(3.0)))
    rec.add((0.5, 0.0, 0.0), tilted, 0.1, 1)  # 3 degrees: a new pose
    rec.add((2.0, 0.0, 0.0), tilted, 0.1, 1)  # 1.5 mm: a new pose
    snap = rec.snapshot()
    assert snap.n_frames == 53 and snap.n_poses == 3
    assert rec._live[0] == pytest.approx(5.1) and rec._counts[0] == 151
    rec.add((0.0, 0.0, 0.0), down, 0.0, 5)  # no live time: ignored
    assert rec.snapshot().n_frames == 53
    rec.reset()
    assert rec.snapshot().n_frames == 0 and rec.snapshot().image is None


def test_memory_is_capped_by_forgetting_the_oldest_poses(model: ResponseModel) -> None:
    tips, axes = hand_path(600, 0.1, seed=2)
    rng = np.random.default_rng(1)
    counts = rng.poisson(2.0, len(tips)).astype(float)
    rec = LiveReconstruction(model, background_cps=20.0, max_elements=100 * 8000)
    _feed(rec, tips, axes, np.full(len(tips), 0.1), counts)
    snap = rec.update_image()
    assert snap.image is not None
    voxels = snap.image.activity_bq.size
    assert snap.n_poses <= max(MIN_POSES, 100 * 8000 // voxels) and snap.dropped_frames > 0
    assert rec._rows * voxels <= 100 * 8000 + voxels * MIN_POSES
    assert rec._system.nbytes <= 4 * max(100 * 8000, voxels * 64)  # the capacity too
    assert sum(rec._merged) + snap.dropped_frames == snap.n_frames == 600
    # the rows kept are the newest poses'
    np.testing.assert_allclose(np.asarray(rec._tips), tips[-snap.n_poses:])


def test_background_alone_gives_no_confident_spot(model: ResponseModel) -> None:
    tips, axes = hand_path(600, 0.1, seed=3)
    rng = np.random.default_rng(11)
    live = np.full(len(tips), 0.1)
    counts = rng.poisson(20.0 * live).astype(float)
    rec = LiveReconstruction(model)
    for i in range(len(tips)):
        rec.add(tips[i], axes[i], live[i], counts[i])
        if i % 20 == 19:
            rec.update()
    snap = rec.finish_spots()
    assert all(s.sd_mm > 15 for s in snap.spots), snap.spots
    # b from 1200 counts over 60 s: sd sqrt(20 / 60) = 0.58 cps; 4 sd
    assert abs(snap.background_cps - 20.0) < 4 * np.sqrt(20.0 / 60.0)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_after_a_60_s_sweep_the_spots_agree_with_locate(model: ResponseModel) -> None:
    truth = np.array([5.0, -8.0, -15.0])
    node = PointSource("node", tuple(truth), 0.015)
    sweep = freehand_sweep(node_scenario((node,), frame_period_s=0.1), 60.0, seed=1)
    rec = LiveReconstruction(model)
    ages = []
    for i in range(len(sweep.frames)):
        rec.add(sweep.position_mm[i], sweep.axis[i], sweep.live_s[i], sweep.counts[i])
        if i % 5 == 4:  # 2 updates a second at 10 Hz
            snap = rec.update()
            ages.append(snap.spots_age_frames)
    assert max(ages[5:]) <= 2 * rec.spot_every_frames + 5  # the spots keep up with the sweep
    found = localise(model, sweep.position_mm, sweep.axis, sweep.live_s, sweep.counts,
                     voxel_mm=4.0)
    assert len(found.spots) == 1 and len(snap.spots) == 1
    ref, live = found.spots[0], snap.spots[0]
    gap = np.linalg.norm([live.x_mm - ref.x_mm, live.y_mm - ref.y_mm, live.z_mm - ref.z_mm])
    # both maximum-likelihood fits of the same model; the live one lacks up to
    # spot_every_frames of the last frames and may stop the optimiser elsewhere: within one
    # sd of the position (sd_mm ~2.6 mm here; measured 0.4 mm)
    assert gap < ref.sd_mm, (live, ref)
    final = rec.finish_spots()
    live = final.spots[0]
    gap = np.linalg.norm([live.x_mm - ref.x_mm, live.y_mm - ref.y_mm, live.z_mm - ref.z_mm])
    assert gap < 0.5 and final.spots_age_frames == 0  # the same frames: the optimiser's tolerance
    assert np.linalg.norm([ref.x_mm, ref.y_mm, ref.z_mm] - truth) < 5.0
    assert ref.swept_around and live.swept_around  # the raster went around the node


def _scenario_live(name: str, seconds: float, seed: int = 4) -> tuple[Scenario, ReconSnapshot]:
    """(scenario, the live reconstruction's final snapshot) of a built-in scenario's scripted
    path played for `seconds` with true poses, updated every 50 frames, then finished."""
    from probe_nav.simulator.engine import Simulation
    from probe_nav.simulator.scenario import load

    sc = load(name)
    sim = Simulation(sc, seed=seed)
    rec = LiveReconstruction(ResponseModel(sc.probe, sc.nuclide_name, tissue=sc.tissue))
    for i in range(int(seconds / sc.frame_period_s)):
        f = sim.step()
        rec.add(f.truth.position_mm, f.truth.axis, f.live_s, f.counts[0])
        if i % 50 == 49:
            rec.update()
    return sc, rec.finish_spots()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_line_sweep_over_a_node_localises_no_spot_it_went_around(model: ResponseModel) -> None:
    # The sln-scan training sweep: a line along x, back and forth over a 15 kBq node 20 mm deep.
    # Spots may be found (the counts do rise over the node) but none has the sweep on every
    # side: each has a mirror across the line and a deeper twin that fits as well (measured:
    # three spots 3-8 mm deep, 5-13 mm off, sd 1.4-9 mm), so none is swept around and the guide
    # leads to none.
    from probe_nav.gui.guide_state import is_guided

    _, snap = _scenario_live("sln-scan", 90.0)  # 90 s: the line twice each way
    assert snap.spots, "the node's counts give spots"
    assert not any(s.swept_around for s in snap.spots), snap.spots
    assert not any(is_guided(s) for s in snap.spots)


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_raster_training_sweep_guides_to_the_sentinel_node(model: ResponseModel) -> None:
    # sln-sweep: the same axilla as sln-scan crossed in lines 10 mm apart. After 100 s (two
    # passes over the node) the node 20 mm deep is a guided spot. Deterministic (seeded
    # simulation, deterministic fits); measured 1.4 mm off (sd 1.8 mm) and, with seed 5, 1.2 mm
    # (sd 2.5 mm): 5 mm is twice the larger sd.
    from probe_nav.gui.guide_state import is_guided

    sc, snap = _scenario_live("sln-sweep", 100.0)
    node = np.array(sc.sources[0].position_mm)
    spot = min(snap.spots, key=lambda s: np.linalg.norm([s.x_mm, s.y_mm, s.z_mm] - node))
    assert np.linalg.norm([spot.x_mm, spot.y_mm, spot.z_mm] - node) < 5.0, snap.spots
    assert spot.swept_around and is_guided(spot) and spot.relative_activity == 1.0


def test_frames_imaged_during_a_spot_fit_do_not_disturb_it(model: ResponseModel) -> None:
    # The Navigator images new frames from inside a long spot fit (between_steps): the fit
    # works on its own copies, so the spot it finds is the one it would have found anyway.
    node = PointSource("node", (0.0, 5.0, -12.0), 0.05)
    sweep = freehand_sweep(node_scenario((node,), frame_period_s=0.1), 20.0, seed=4)
    # 160 frames first: by then the raster has passed over the node (at 120 the tips reached
    # y = 0.1 mm, the node is at y = 5 mm, and there, as locate on those frames, the far
    # field takes its counts and no spot is found)
    first, rest = 160, range(160, len(sweep.frames))

    def run(interleave: bool) -> tuple[LiveReconstruction, list[int]]:
        rec = LiveReconstruction(model)
        for i in range(first):
            rec.add(sweep.position_mm[i], sweep.axis[i], sweep.live_s[i], sweep.counts[i])
        todo = list(rest)
        imaged: list[int] = []

        def between() -> None:
            if todo:
                i = todo.pop(0)
                rec.add(sweep.position_mm[i], sweep.axis[i], sweep.live_s[i], sweep.counts[i])
                imaged.append(rec.update_image().n_frames)

        rec.between_steps = between if interleave else None
        rec.update_image()
        rec.update_spots()  # a cycle of one seek: a fit from the best voxel
        return rec, imaged

    plain, _ = run(False)
    mixed, imaged = run(True)
    assert imaged and imaged[-1] > first  # frames came in and were imaged during the fit
    a, b = plain.snapshot().spots, mixed.snapshot().spots
    assert len(a) == len(b) == 1
    assert (a[0].x_mm, a[0].y_mm, a[0].z_mm) == (b[0].x_mm, b[0].y_mm, b[0].z_mm)
    assert mixed.snapshot().n_frames == first + len(imaged)
    assert mixed.snapshot().spots_age_frames == len(imaged)  # fitted on the first frames


def test_a_far_field_alone_gives_no_live_spot(model: ResponseModel) -> None:
    # Noise-free counts (as locate's test in tests/navigation/test_injection_site.py) of a
    # constant 20 cps plus a smooth far field (a site beyond +x, a little -y, 6 cps at the
    # centre): the live search models it as a far field and shows no spot. (With Poisson counts
    # of this weak a field, locate and the live search both fit the same sd-9 mm spot at the
    # field's steepest corner: the statistics, not the live path.)
    tips, axes = hand_path(600, 0.1, seed=2)
    live = np.full(len(tips), 0.1)
    theta = np.array([math.log(6.0), 1.2, -0.6, 0.4, -0.3])
    rate = 20.0 + FarField(tips, axes).rate(theta)
    rec = LiveReconstruction(model)
    _feed_updating(rec, tips, axes, live, live * rate, every=40)
    snap = rec.finish_spots()
    assert snap.spots == () and snap.hidden_spots == 0, snap
    assert snap.far_field_cps is not None
    # b and the field's level trade, so their sum is compared with the truth's mean; noise-free,
    # only the fit's tolerance is left (measured 28.51 against 28.53 cps)
    assert snap.background_cps + snap.far_field_cps == pytest.approx(rate.mean(), rel=0.01)
    # without the field the sweep's mean rate would be taken for a flat background
    assert snap.background_cps < rate.mean() - 3.0


def _feed_updating(rec: LiveReconstruction, tips: np.ndarray, axes: np.ndarray,
                   live: np.ndarray, counts: np.ndarray, every: int) -> None:
    for i in range(len(tips)):
        rec.add(tips[i], axes[i], live[i], counts[i])
        if i % every == every - 1:
            rec.update()


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~15-30 s each: a simulated sweep with scatter, fed live
@pytest.mark.parametrize("seed", [1, 2])
def test_beside_an_injection_site_the_live_spots_are_the_node(model: ResponseModel,
                                                               seed: int) -> None:
    # Seeds 1 (67 MBq 72 mm away, 17 mm deep node) and 2 (42 MBq 63 mm, a 12 mm deep node) of
    # injection_site_sources: two on which locate finds the node (tests/navigation/
    # test_injection_site.py, seeds 0-2; the one seed of 20 where locate fails is not among
    # them), the cheapest two of 0-3 to simulate. Before the far field and the edge rule the
    # live search put a confident spot (sd 2.8-4.7 mm) 41-51 mm off, towards the site, first on
    # both; now the node alone (measured: 1.1 and 2.5 mm off, sd 1.4-1.5 mm), and no confident
    # spot more than 25 mm off at any update of the sweep either (what the console shows).
    # Seeds 0-6 measured: the node first in all 7; seed 5 keeps a second confident spot 27 mm
    # off (locate has it too, 28 mm) and seed 6 shows one early for 4 updates (sd 13-15 mm).
    node, site = injection_site_sources(seed)
    sweep = freehand_sweep(node_scenario((node, site)), 60.0, seed=seed)
    rec = LiveReconstruction(model)
    wrong = []
    for i in range(len(sweep.frames)):  # 20 Hz frames, an update each second
        rec.add(sweep.position_mm[i], sweep.axis[i], sweep.live_s[i], sweep.counts[i])
        if i % 20 == 19:
            wrong += [(i, s) for s in rec.update().spots if s.sd_mm <= 15
                      and math.dist((s.x_mm, s.y_mm, s.z_mm), node.position_mm) > 25]
    assert not wrong, wrong
    snap = rec.finish_spots()
    assert snap.spots, snap
    off = [math.dist((s.x_mm, s.y_mm, s.z_mm), node.position_mm) for s in snap.spots]
    assert off[0] < 10.0, (off, snap.spots)
    assert not [d for d, s in zip(off, snap.spots, strict=True) if s.sd_mm <= 15 and d > 25], \
        (off, snap.spots)
    assert snap.far_field_cps is not None and snap.far_field_cps > 0  # the site is modelled
    image = snap.image
    assert image is not None and np.all(np.isfinite(image.activity_bq))
