"""The camera + ArUco tracker (probe_nav.drivers.tracking.aruco) on rendered frames of a known
pose (probe_nav.simulator.marker_camera): the acceptance "recovers a rendered pose within 1 mm /
1 degree" for the tip and axis of a probe, a partly hidden board, no board, a board that does
not fit its model, and ArucoPoseSource on a fake capture and on an image sequence."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from probe_nav.drivers.tracking.aruco import (
    MAX_REPROJ_PX,
    ArucoPoseSource,
    CameraError,
    detect_board,
    marker_pose,
)
from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard
from probe_nav.drivers.tracking.pose import PoseSample, PoseSource
from probe_nav.simulator.marker_camera import (
    BACKGROUND,
    RenderOptions,
    board_pose,
    random_board_pose,
    render_board,
)

CAMERA = CameraModel.from_fov(1280, 720, 65.0)  # a 720p webcam, fx ~1005 px
SMALL_BOARD = MarkerBoard()  # 3x2 markers of 10 mm: 34 x 22 mm
PROBE_BOARD = MarkerBoard(markers_x=4, markers_y=3, marker_mm=15.0, gap_mm=3.0)  # 69 x 51 mm
TIP_MM = (0.0, -120.0, 0.0)  # the tip 12 cm below the board's centre, down the shaft
AXIS = (0.0, -1.0, 0.0)
WEBCAM = RenderOptions(blur_sd_px=0.8, noise_sd=4.0)  # focus blur and sensor noise of a webcam


def _errors(truth: np.ndarray, found: np.ndarray) -> tuple[float, float]:
    """Tip error (mm) and axis error (degrees) of the probe for a found board pose."""
    a = PoseSample.from_matrix(truth, 0.0, TIP_MM, AXIS)
    b = PoseSample.from_matrix(found, 0.0, TIP_MM, AXIS)
    tip = float(np.linalg.norm(np.subtract(a.position_mm, b.position_mm)))
    axis = math.degrees(math.acos(min(1.0, float(np.dot(a.axis, b.axis)))))
    return tip, axis


def _sweep(board: MarkerBoard, distance_mm: tuple[float, float], n: int, seed: int
           ) -> tuple[np.ndarray, np.ndarray, int]:
    rng = np.random.default_rng(seed)
    tips, axes, missed = [], [], 0
    for k in range(n):
        pose = random_board_pose(rng, CAMERA, distance_mm, max_tilt_deg=45.0)
        found = marker_pose(render_board(board, CAMERA, pose, WEBCAM, seed=seed * 1000 + k),
                            board, CAMERA)
        if found is None:
            missed += 1
            continue
        tip, axis = _errors(pose, found.matrix)
        tips.append(tip)
        axes.append(axis)
    return np.array(tips), np.array(axes), missed


def test_the_probe_board_recovers_the_tip_within_1_mm_and_1_degree() -> None:
    """Acceptance: 40 random poses, 200-500 mm, tilts up to 45 degrees, webcam blur and noise,
    a 69 x 51 mm board 12 cm from the tip. Measured (seed 1): tip median 0.025 mm, max 0.38 mm;
    axis median 0.010, max 0.061 degrees; every frame gives a pose. (60 poses of another seed:
    tip max 0.67 mm, axis max 0.15 degrees.) The bound is the acceptance's, not a statistic."""
    tips, axes, missed = _sweep(PROBE_BOARD, (200.0, 500.0), 40, seed=1)
    print(f"probe board: tip median {np.median(tips):.3f} max {tips.max():.3f} mm, "
          f"axis median {np.median(axes):.3f} max {axes.max():.3f} deg, missed {missed}")
    assert missed == 0
    assert tips.max() <= 1.0 and axes.max() <= 1.0


def test_the_small_board_is_good_to_300_mm() -> None:
    """The default 3 x 2 board of 10 mm markers (34 x 22 mm) meets 1 mm / 1 degree at 200-300
    mm (measured, seed 2: tip median 0.073, max 0.22 mm; axis max 0.08 degrees); beyond, it does
    not (60 poses at 200-500 mm: tip p95 2.3 mm, max 3.0 mm: too few pixels for its 34 mm),
    hence the larger PROBE_BOARD for a camera further away."""
    tips, axes, missed = _sweep(SMALL_BOARD, (200.0, 300.0), 30, seed=2)
    print(f"small board: tip median {np.median(tips):.3f} max {tips.max():.3f} mm, "
          f"axis median {np.median(axes):.3f} max {axes.max():.3f} deg, missed {missed}")
    assert missed == 0
    assert tips.max() <= 1.0 and axes.max() <= 1.0


def test_refined_corners_beat_opencvs() -> None:
    """The edge-line refinement leaves rendered corners within ~0.05 px where OpenCV's
    sub-pixel refinement leaves them 0.1-0.4 px inside the marker (measured at 200-500 mm)."""
    pose = board_pose(400.0, 25.0, 60.0, 15.0)
    image = render_board(SMALL_BOARD, CAMERA, pose)
    rvec, _ = cv2.Rodrigues(pose[:3, :3])
    rms = {}
    for refine in (False, True):
        obj, img = detect_board(image, SMALL_BOARD, CAMERA, refine=refine)
        truth, _ = cv2.projectPoints(obj, rvec, pose[:3, 3], CAMERA.matrix, CAMERA.dist_coeffs)
        rms[refine] = float(np.sqrt(np.mean(np.sum((img - truth.reshape(-1, 2)) ** 2, axis=1))))
    assert rms[True] < 0.08 and rms[False] > 2 * rms[True], rms


def _hide_all_but(image: np.ndarray, board: MarkerBoard, pose: np.ndarray,
                  keep: set[int]) -> np.ndarray:
    """Paint background grey over every marker not in `keep` (a finger, a glove)."""
    out = image.copy()
    rvec, _ = cv2.Rodrigues(pose[:3, :3])
    for k, corners in enumerate(board.object_points()):
        if k in keep:
            continue
        centre = corners.mean(axis=0)
        grown = centre + 1.3 * (corners - centre)  # the marker and a little around it
        img, _ = cv2.projectPoints(grown, rvec, pose[:3, 3], CAMERA.matrix, CAMERA.dist_coeffs)
        cv2.fillConvexPoly(out, np.rint(img.reshape(-1, 2)).astype(np.int32), round(BACKGROUND))
    return out


def test_a_partly_hidden_board_still_works_and_one_marker_is_refused() -> None:
    pose = board_pose(300.0, 20.0, 200.0, 30.0, (10.0, -5.0))
    image = render_board(PROBE_BOARD, CAMERA, pose, WEBCAM, seed=5)
    two = _hide_all_but(image, PROBE_BOARD, pose, {0, 11})  # opposite corners of the board
    found = marker_pose(two, PROBE_BOARD, CAMERA)
    assert found is not None and found.n_markers == 2
    tip, axis = _errors(pose, found.matrix)
    assert tip <= 1.0 and axis <= 1.0, (tip, axis)
    one = _hide_all_but(image, PROBE_BOARD, pose, {5})
    assert len(detect_board(one, PROBE_BOARD, CAMERA)[0]) == 4  # the marker is seen ...
    assert marker_pose(one, PROBE_BOARD, CAMERA) is None  # ... but one is not enough


def test_no_board_no_pose() -> None:
    blank = np.full((720, 1280), 128, np.uint8)
    assert marker_pose(blank, SMALL_BOARD, CAMERA) is None
    noise = np.random.default_rng(0).integers(0, 256, (720, 1280), dtype=np.uint8)
    assert marker_pose(noise, SMALL_BOARD, CAMERA) is None
    # another board's markers (ids 10-15) are not this board's
    other = MarkerBoard(first_id=10)
    image = render_board(other, CAMERA, board_pose(250.0))
    assert marker_pose(image, SMALL_BOARD, CAMERA) is None
    assert marker_pose(image, other, CAMERA) is not None


def test_a_board_that_does_not_fit_its_model_is_refused() -> None:
    """A board printed with 3 mm gaps tracked as one with 2 mm: the markers do not sit where the
    model puts them, the reprojection error exceeds MAX_REPROJ_PX and the pose is refused."""
    printed = MarkerBoard(gap_mm=3.0)
    image = render_board(printed, CAMERA, board_pose(250.0, 15.0, 30.0, 0.0))
    assert marker_pose(image, SMALL_BOARD, CAMERA) is None
    loose = marker_pose(image, SMALL_BOARD, CAMERA, max_reproj_px=math.inf)
    assert loose is not None and loose.reproj_px > MAX_REPROJ_PX
    good = marker_pose(image, printed, CAMERA)
    assert good is not None and good.reproj_px < 0.2


class FakeCapture:
    """A cv2.VideoCapture stand-in: a list of frames, then the end of the 'file'."""

    def __init__(self, frames: list[np.ndarray]) -> None:
        self.frames = list(frames)
        self.released = False
        self.current: np.ndarray | None = None

    def isOpened(self) -> bool:  # OpenCV's name
        return True

    def grab(self) -> bool:
        if not self.frames:
            return False
        self.current = self.frames.pop(0)
        return True

    def retrieve(self) -> tuple[bool, np.ndarray | None]:
        return self.current is not None, self.current

    def release(self) -> None:
        self.released = True


class FakeClock:
    def __init__(self, start_s: float, step_s: float) -> None:
        self.now_s, self.step_s = start_s, step_s

    def __call__(self) -> float:
        self.now_s += self.step_s
        return self.now_s


def test_pose_source_on_a_fake_capture() -> None:
    poses = [board_pose(300.0, 10.0, 0.0, 0.0), board_pose(320.0, 25.0, 90.0, 40.0)]
    frames = [render_board(PROBE_BOARD, CAMERA, poses[0], WEBCAM, seed=1),
              np.full((720, 1280, 3), 90, np.uint8),  # the board out of view (a colour frame)
              cv2.cvtColor(render_board(PROBE_BOARD, CAMERA, poses[1], WEBCAM, seed=2),
                           cv2.COLOR_GRAY2BGR)]
    capture = FakeCapture(frames)
    source = ArucoPoseSource("fake.avi", PROBE_BOARD, CAMERA, TIP_MM, AXIS, latency_s=0.02,
                             capture_factory=lambda _: capture, clock=FakeClock(100.0, 1 / 30))
    assert isinstance(source, PoseSource)
    assert source.join(timeout_s=60.0)  # a safety limit only: the fake file has 3 frames
    samples = source.poll()
    assert source.poll() == []  # drained
    assert [s.valid for s in samples] == [True, False, True]
    # host_s: the grab time on the source's clock, less the camera's latency
    np.testing.assert_allclose([s.host_s for s in samples],
                               [100.0 + k / 30 - 0.02 for k in (1, 2, 3)], atol=1e-9)
    assert samples[1].position_mm == samples[0].position_mm  # not seen: the last known, invalid
    for sample, pose in zip((samples[0], samples[2]), poses, strict=True):
        truth = PoseSample.from_matrix(pose, 0.0, TIP_MM, AXIS)
        assert np.linalg.norm(np.subtract(sample.position_mm, truth.position_mm)) < 1.0
    assert source.frames == 3 and source.rejected == 1 and source.error is None
    assert source.fps == pytest.approx(30.0)
    assert not source.running
    source.close()
    assert capture.released


def test_pose_source_reads_an_image_sequence(tmp_path: Path) -> None:
    """Through the real cv2.VideoCapture: rendered frames saved as PNG files, read back."""
    rng = np.random.default_rng(4)
    poses = [random_board_pose(rng, CAMERA, (250.0, 400.0), 30.0) for _ in range(4)]
    for k, pose in enumerate(poses):
        cv2.imwrite(str(tmp_path / f"frame{k:03d}.png"),
                    render_board(PROBE_BOARD, CAMERA, pose, WEBCAM, seed=k))
    source = ArucoPoseSource(str(tmp_path / "frame%03d.png"), PROBE_BOARD, CAMERA, TIP_MM, AXIS)
    try:
        assert source.join(timeout_s=60.0)
        samples = source.poll()
    finally:
        source.close()
    assert len(samples) == 4 and all(s.valid for s in samples)
    assert all(b <= a for a, b in zip([s.host_s for s in samples][1:],
                                      [s.host_s for s in samples][:-1], strict=True))
    for sample, pose in zip(samples, poses, strict=True):
        truth = PoseSample.from_matrix(pose, 0.0, TIP_MM, AXIS)
        assert np.linalg.norm(np.subtract(sample.position_mm, truth.position_mm)) < 1.0


def test_a_camera_that_stops_delivering_frames_ends_with_an_error() -> None:
    capture = FakeCapture([])  # a live camera (an index, not a file) whose grabs all fail
    source = ArucoPoseSource(0, SMALL_BOARD, CAMERA, capture_factory=lambda _: capture)
    assert source.join(timeout_s=60.0)
    assert source.error is not None and "failed" in source.error and source.frames == 0
    source.close()
    assert capture.released and source.poll() == []


def test_a_camera_that_does_not_open_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CameraError, match="cannot open camera") as info:
        ArucoPoseSource(str(tmp_path / "missing.avi"), SMALL_BOARD, CAMERA)
    assert "\n" not in str(info.value)
