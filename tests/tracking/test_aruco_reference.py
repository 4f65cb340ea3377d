"""The reference board (probe_nav.drivers.tracking.reference and ArucoPoseSource's reference
option): the probe's tip in the reference's (the patient's) frame from rendered frames of both
boards within 1 mm / 1 degree, the skin plane at z = 0, the registration's hold time, a moved
reference restarting it, and boards that share markers refused."""

from __future__ import annotations

import logging
import math

import cv2
import numpy as np
import pytest

from probe_nav.drivers.tracking.aruco import (
    MAX_REPROJ_PX,
    ArucoPoseSource,
    fit_board,
    marker_poses,
    solve_board_pose,
)
from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import BoardError, MarkerBoard, check_disjoint
from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.drivers.tracking.reference import (
    REFERENCE_MIN_MARKERS,
    ReferenceFilter,
    mean_pose,
    pose_change_mm,
    relative_pose,
    rigid_inverse,
)
from probe_nav.simulator.marker_camera import RenderOptions, render_boards
from probe_nav.simulator.marker_scene import (
    MOUNT_AXIS,
    MOUNT_TIP_MM,
    PROBE_BOARD,
    REFERENCE_BOARD,
    reference_scene,
)
from tests.tracking.test_aruco import FakeCapture, FakeClock

CAMERA = CameraModel.from_fov(1280, 720, 65.0)
WEBCAM = RenderOptions(blur_sd_px=0.8, noise_sd=4.0)


def _random_rigid(rng: np.random.Generator, shift_mm: float = 300.0) -> np.ndarray:
    m = np.eye(4)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q @ np.diag(np.sign(np.diag(r)))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    m[:3, :3], m[:3, 3] = q, rng.uniform(-shift_mm, shift_mm, 3)
    return m


def test_the_composition_is_inverse_reference_times_probe() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        cam_ref, ref_probe = _random_rigid(rng), _random_rigid(rng)
        cam_probe = cam_ref @ ref_probe
        np.testing.assert_allclose(relative_pose(cam_ref, cam_probe), ref_probe, atol=1e-9)
        np.testing.assert_allclose(rigid_inverse(cam_ref) @ cam_ref, np.eye(4), atol=1e-12)
    # a point on the reference's plane stays at z = 0 whatever the camera
    cam_ref = _random_rigid(rng)
    on_skin = np.eye(4)
    on_skin[:3, 3] = (40.0, -25.0, 0.0)
    assert abs(relative_pose(cam_ref, cam_ref @ on_skin)[2, 3]) < 1e-9


def _tip_in_reference(image: np.ndarray) -> PoseSample | None:
    probe, ref = marker_poses(image, (PROBE_BOARD, REFERENCE_BOARD), CAMERA,
                              min_markers=(2, REFERENCE_MIN_MARKERS))
    if probe is None or ref is None:
        return None
    return PoseSample.from_matrix(relative_pose(ref.matrix, probe.matrix), 0.0, MOUNT_TIP_MM,
                                  MOUNT_AXIS)


def test_the_tip_in_the_reference_frame_within_1_mm_and_1_degree() -> None:
    """Acceptance: 30 rendered scenes, the camera 300-500 mm from the field and tilted up to 35
    degrees, the probe tilted up to 30 degrees and its tip 70-120 mm from the reference, tip on
    the skin, webcam blur and noise. Measured (seed 1, 40 scenes): tip median 0.10 mm, max 0.56
    mm; axis median 0.06, max 0.23 degrees; skin |z| at most 0.56 mm; 4 of 40 without a pose
    (the probe's card hides all but 2-3 of the reference's markers; it needs 4). The bounds are
    the acceptance's, not a statistic; the misses bound (a quarter) is a coarse check that the
    scene is mostly seen."""
    rng = np.random.default_rng(1)
    tips, axes, skin, missed = [], [], [], 0
    for k in range(30):
        scene = reference_scene(rng, CAMERA)
        image = render_boards([(REFERENCE_BOARD, scene.cam_from_ref),
                               (PROBE_BOARD, scene.cam_from_probe)], CAMERA, WEBCAM, seed=k)
        found = _tip_in_reference(image)
        if found is None:
            missed += 1
            continue
        tips.append(float(np.linalg.norm(np.subtract(found.position_mm, scene.tip_mm))))
        axes.append(math.degrees(math.acos(min(1.0, float(np.dot(found.axis, scene.axis))))))
        skin.append(abs(found.position_mm[2]))
    print(f"tip median {np.median(tips):.3f} max {max(tips):.3f} mm; axis median "
          f"{np.median(axes):.3f} max {max(axes):.3f} deg; |z| max {max(skin):.3f}; "
          f"missed {missed}/30")
    assert missed <= 7
    assert max(tips) <= 1.0 and max(axes) <= 1.0
    assert max(skin) <= 1.0  # the skin is the reference's plane z = 0


def test_the_height_above_the_skin_is_the_z_coordinate() -> None:
    """A tip held 20 mm above the skin reads z ~ +20, one touching it z ~ 0: z is measured,
    not assumed."""
    rng = np.random.default_rng(7)
    checked = 0
    for k, height_mm in enumerate((0.0, 20.0, 0.0, 20.0)):
        scene = reference_scene(rng, CAMERA, tip_z_mm=(height_mm, height_mm))
        image = render_boards([(REFERENCE_BOARD, scene.cam_from_ref),
                               (PROBE_BOARD, scene.cam_from_probe)], CAMERA, WEBCAM, seed=k)
        found = _tip_in_reference(image)
        if found is None:
            continue
        assert abs(found.position_mm[2] - height_mm) <= 1.0, (k, found.position_mm)
        checked += 1
    assert checked >= 3  # a hidden reference may cost one scene, not the test


def _offset(pose: np.ndarray, shift_mm: tuple[float, float, float]) -> np.ndarray:
    out = pose.copy()
    out[:3, 3] += shift_mm
    return out


def test_the_registration_is_held_for_the_hold_time_only() -> None:
    rng = np.random.default_rng(2)
    truth = _random_rigid(rng)
    ref = ReferenceFilter(hold_s=1.0, window_s=1.0, confirm_frames=3)
    out = [ref.update(k / 30, truth) for k in range(5)]
    assert [o is None for o in out] == [True, True, False, False, False]  # 3 to confirm
    last_seen_s = 4 / 30
    for k in range(5, 80):  # hidden from frame 5 on
        t = k / 30
        got = ref.update(t, None)
        assert (got is not None) == (t - last_seen_s <= 1.0), t
    assert ref.update(80 / 30, truth) is not None  # seen again where it was: trusted at once
    assert ref.restarts == 0


def test_jitter_is_averaged_and_a_jump_restarts_once(caplog: pytest.LogCaptureFixture) -> None:
    """Per-frame jitter of 0.2 mm (sd per axis) is averaged over the 1 s window (30 frames: the
    mean's sd 0.2/sqrt(30) = 0.037 mm; bound 0.15 mm is 4 sd); a 6 mm move restarts the
    registration: logged once, the new place used from the third frame on, not a mixture."""
    rng = np.random.default_rng(3)
    truth = _random_rigid(rng)
    ref = ReferenceFilter(window_s=1.0, jump_mm=3.0, confirm_frames=3)
    with caplog.at_level(logging.WARNING, logger="probe_nav.drivers.tracking.reference"):
        for k in range(60):
            got = ref.update(k / 30, _offset(truth, tuple(rng.normal(0.0, 0.2, 3))))
        assert got is not None and ref.restarts == 0
        assert np.linalg.norm(got[:3, 3] - truth[:3, 3]) < 0.15
        moved = _offset(truth, (6.0, 0.0, 0.0))
        after = [ref.update((60 + k) / 30, moved) for k in range(10)]
    assert ref.restarts == 1 and 5.7 < ref.last_jump_mm < 6.3  # from the noisy mean
    assert after[0] is None and after[1] is None  # the new place is confirmed first
    for got in after[2:]:
        assert got is not None
        np.testing.assert_allclose(got, moved, atol=1e-9)  # the old place not averaged in
    jumps = [r for r in caplog.records if "moved by" in r.getMessage()]
    assert len(jumps) == 1
    logged_mm = float(jumps[0].getMessage().split("moved by ")[1].split(" mm")[0])
    assert logged_mm == pytest.approx(ref.last_jump_mm, abs=0.05)


def test_one_outlier_frame_is_not_trusted() -> None:
    """A single wrong reference pose (a wrong IPPE branch) restarts the registration, but is
    not used: samples stay invalid until three frames agree again."""
    truth = _random_rigid(np.random.default_rng(4))
    ref = ReferenceFilter(confirm_frames=3)
    for k in range(10):
        ref.update(k / 30, truth)
    turned = truth @ np.array([[1, 0, 0, 0], [0, 0.996, -0.0872, 0], [0, 0.0872, 0.996, 0],
                               [0, 0, 0, 1.0]])  # 5 degrees
    assert ref.update(10 / 30, turned) is None
    results = [ref.update((11 + k) / 30, truth) for k in range(3)]
    assert [r is None for r in results] == [True, True, False]
    np.testing.assert_allclose(results[-1], truth, atol=1e-9)


def test_pose_helpers() -> None:
    rng = np.random.default_rng(5)
    pose = _random_rigid(rng)
    assert pose_change_mm(pose, _offset(pose, (3.0, 4.0, 0.0))) == pytest.approx(5.0)
    small = np.eye(4)
    small[:3, :3] = [[1, 0, 0], [0, math.cos(0.01), -math.sin(0.01)],
                     [0, math.sin(0.01), math.cos(0.01)]]
    assert pose_change_mm(pose, pose @ small, radius_mm=100.0) == pytest.approx(1.0, rel=1e-6)
    np.testing.assert_allclose(mean_pose([pose, pose, pose]), pose, atol=1e-12)
    mean = mean_pose([pose @ small, pose @ rigid_inverse(small)])
    np.testing.assert_allclose(mean, pose, atol=1e-9)


def test_boards_that_share_markers_are_refused() -> None:
    probe = MarkerBoard(markers_x=4, markers_y=3, marker_mm=15.0, gap_mm=3.0)
    check_disjoint(probe, REFERENCE_BOARD)  # ids 0-11 and 20-31: fine
    check_disjoint(probe, MarkerBoard("DICT_5X5_50"))  # other bit grids: fine
    for other in (MarkerBoard(first_id=10), MarkerBoard("DICT_4X4_100", first_id=5)):
        with pytest.raises(BoardError, match="share"):
            check_disjoint(probe, other)
    opened = []
    with pytest.raises(BoardError, match="share"):
        ArucoPoseSource("fake.avi", probe, CAMERA, reference=MarkerBoard(first_id=11),
                        capture_factory=lambda src: opened.append(src) or FakeCapture([]))
    assert opened == []  # refused before the camera is opened


def test_pose_source_with_a_reference_board() -> None:
    """Through ArucoPoseSource (fake capture, fake clock at 20 fps, hold 0.2 s): tips in the
    reference's frame; the reference hidden -> valid for 0.2 s, then invalid; the reference
    moved 10 mm -> a restart, then tips right in its new frame."""
    rng = np.random.default_rng(1)
    scene = reference_scene(rng, CAMERA)
    both = render_boards([(REFERENCE_BOARD, scene.cam_from_ref),
                          (PROBE_BOARD, scene.cam_from_probe)], CAMERA, WEBCAM, seed=1)
    probe_only = render_boards([(PROBE_BOARD, scene.cam_from_probe)], CAMERA, WEBCAM, seed=2)
    moved_ref = scene.cam_from_ref @ _offset(np.eye(4), (10.0, 0.0, 0.0))
    moved = render_boards([(REFERENCE_BOARD, moved_ref), (PROBE_BOARD, scene.cam_from_probe)],
                          CAMERA, WEBCAM, seed=3)
    frames = [both] * 4 + [probe_only] * 8 + [moved] * 4
    source = ArucoPoseSource("fake.avi", PROBE_BOARD, CAMERA, MOUNT_TIP_MM, MOUNT_AXIS,
                             capture_factory=lambda _: FakeCapture(frames),
                             clock=FakeClock(0.0, 0.05), reference=REFERENCE_BOARD,
                             reference_hold_s=0.2)
    assert source.join(timeout_s=120.0)  # a safety limit only: the fake file has 16 frames
    samples = source.poll_samples()
    source.close()
    valid = [s.pose.valid for s in samples]
    # 3 frames to confirm; hidden at frame 4 (0.05 s after the last sight), held while <= 0.2 s
    # (frames 4-6; frame 7 is 0.2 s after: float rounding may go either way) then invalid;
    # moved at 12: restart, confirmed at 14.
    assert valid[:7] == [False, False, True, True, True, True, True]
    assert valid[8:14] == [False] * 6 and valid[14:] == [True, True]
    truth_tip = np.asarray(scene.tip_mm)
    for s in samples[2:7]:
        assert np.linalg.norm(np.subtract(s.pose.position_mm, truth_tip)) < 1.0
    assert samples[5].reference is None and samples[5].registration is not None
    moved_tip = truth_tip - (10.0, 0.0, 0.0)  # the reference moved +10 mm along its x
    for s in samples[14:]:
        assert np.linalg.norm(np.subtract(s.pose.position_mm, moved_tip)) < 1.0
    assert source.reference_filter is not None and source.reference_filter.restarts == 1
    # unconfirmed (2), stale (4 or 5) and restarted (2) frames: the probe seen in all
    assert source.no_reference == 2 + valid[7:12].count(False) + 2


def test_a_marker_off_the_fit_is_dropped() -> None:
    """Exact corners of a 12-marker board with one marker's corners moved 2 px (a partly hidden
    marker): the marker is dropped and the pose is exact; with every marker kept the moved one
    would pull the fit (checked: its error is > 0.5 px from the others' fit)."""
    pose = reference_scene(np.random.default_rng(9), CAMERA).cam_from_ref
    obj = REFERENCE_BOARD.object_points().reshape(-1, 3)
    rvec, _ = cv2.Rodrigues(pose[:3, :3])
    img, _ = cv2.projectPoints(obj, rvec, pose[:3, 3], CAMERA.matrix, CAMERA.dist_coeffs)
    img = img.reshape(-1, 2)
    img[20:24] += (2.0, -1.0)  # marker 5
    found = fit_board(obj, img, CAMERA, MAX_REPROJ_PX, REFERENCE_MIN_MARKERS)
    assert found is not None and found.n_markers == 11 and found.reproj_px < 1e-3
    np.testing.assert_allclose(found.matrix, pose, atol=1e-4)
    kept = solve_board_pose(obj, img, CAMERA)
    assert kept is not None and kept[2] > 0.3  # all 12: the moved marker spoils the fit
    # at the minimum number of markers nothing is dropped (the reprojection test decides)
    two = fit_board(obj[16:24], img[16:24], CAMERA, math.inf, 2)
    assert two is not None and two.n_markers == 2 and two.reproj_px > 0.3
