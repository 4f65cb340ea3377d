"""A camera and an ArUco marker board on the probe: the cheapest real tracker.

`marker_pose` finds the board's markers in one grey image (OpenCV's ArucoDetector, sub-pixel
corners, the board's missing markers sought again where the found ones predict them), and solves
the board's pose from every corner it has (IPPE for a plane, then Levenberg-Marquardt). It refuses
rather than guesses: fewer than MIN_MARKERS markers (one small square leaves the tilt ambiguous),
or an RMS reprojection error above MAX_REPROJ_PX (a corner that does not sit on the board's model:
a marker detected wrongly, a bent or mis-printed board, wrong intrinsics).

`ArucoPoseSource` runs a capture thread on a cv2.VideoCapture (a camera index or a video file or
image sequence) and implements PoseSource. The tracker frame is the CAMERA's (x right, y down, z
forward, mm); the marker is the board's frame, turned into the tip with the pivot calibration's
offset (PoseSample.from_matrix). host_s is the host's monotonic time at which the frame was
grabbed, less `latency_s` (the camera's exposure-to-delivery delay, if known).

With a `reference` board (flat on the patient's skin, its own markers) in the same image, the
tracker frame is the REFERENCE's instead (skin z = 0, tissue z < 0): the probe's marker is
composed with the smoothed registration (drivers.tracking.reference), and a frame without a
trusted registration (the reference unseen for more than its hold time, or just moved) gives an
invalid sample.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np

from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.tracking.aruco_corners import refine_corners
from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard, check_disjoint
from probe_nav.drivers.tracking.pose import PoseSample, Vec3
from probe_nav.drivers.tracking.reference import (
    HOLD_S,
    JUMP_MM,
    REFERENCE_MIN_MARKERS,
    ReferenceFilter,
    relative_pose,
)

log = logging.getLogger(__name__)

MIN_MARKERS = 2
# Rendered frames fit the board to 0.01-0.07 px RMS clean and to at most 0.66 px with webcam
# blur (0.8 px) and noise (sd 4 grey levels) at 200-500 mm, tilted up to 45 degrees (60 poses);
# a board printed with 3 mm gaps tracked as one with 2 mm reads 1.2-1.9 px and is refused. Not
# every wrong board can be caught: a print at the wrong scale fits exactly (at the wrong depth),
# gaps 0.5 mm off read 0.6-1.0 px (and 8-12 mm of depth): measure the print's check bar.
MAX_REPROJ_PX = 1.0
# A marker whose corners sit further than this (RMS px) from the board's fit, and 4 times further
# than the others' median, is dropped and the pose refitted: a marker partly hidden (a finger,
# the probe's card over the reference) is found with a wrong corner, 1-2.5 px off.
OUTLIER_PX = 0.5
QUEUE_LEN = 10_000  # samples kept between polls (a camera at 30 fps: 5 minutes)
FAILED_GRABS_LIMIT = 30  # consecutive failed grabs of a live camera before giving up


class CameraError(RuntimeError):
    """The camera cannot be opened or stopped delivering frames (one line, for the user)."""


class BoardPose(NamedTuple):
    """A board's pose in the camera's frame and how well it was measured: unpacks as
    (rvec, tvec, n_markers, reproj_px)."""

    rvec: np.ndarray  # Rodrigues vector, board to camera
    tvec: np.ndarray  # board origin in the camera frame, mm
    n_markers: int
    reproj_px: float  # RMS reprojection error over the corners used

    @property
    def matrix(self) -> np.ndarray:
        """The 4x4 board-to-camera transform (mm)."""
        m = np.eye(4)
        m[:3, :3], _ = cv2.Rodrigues(self.rvec)
        m[:3, 3] = self.tvec.ravel()
        return m


def make_detector() -> cv2.aruco.ArucoDetector:
    """The detector, with OpenCV's sub-pixel corners as the start of refine_corners."""
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    params.cornerRefinementWinSize = 5
    params.cornerRefinementMaxIterations = 50
    params.cornerRefinementMinAccuracy = 0.01
    return cv2.aruco.ArucoDetector(cv2.aruco.getPredefinedDictionary(cv2.aruco.DICT_4X4_50),
                                   params)


def _grid_board(board: MarkerBoard) -> cv2.aruco.GridBoard:
    return cv2.aruco.GridBoard((board.markers_x, board.markers_y), board.marker_mm, board.gap_mm,
                               board.aruco_dictionary, np.asarray(board.ids, dtype=np.int32))


def detect_board(image: np.ndarray, board: MarkerBoard, camera: CameraModel,
                 detector: cv2.aruco.ArucoDetector | None = None, refine: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The board's marker corners found in `image`: object points (N*4, 3) and image points
    (N*4, 2), one marker after another; empty arrays if none."""
    return detect_boards(image, (board,), camera, detector, refine)[0]


def detect_boards(image: np.ndarray, boards: Sequence[MarkerBoard], camera: CameraModel,
                  detector: cv2.aruco.ArucoDetector | None = None, refine: bool = True
                  ) -> list[tuple[np.ndarray, np.ndarray]]:
    """detect_board for several boards in one image, the markers detected once per dictionary
    (the boards must share no marker: marker_board.check_disjoint)."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    detector = detector if detector is not None else make_detector()
    grey_f = grey.astype(np.float32)
    found: dict[str, tuple[Any, Any, Any]] = {}
    out = []
    for board in boards:
        if board.dictionary not in found:
            detector.setDictionary(board.aruco_dictionary)
            found[board.dictionary] = detector.detectMarkers(grey)
        corners, ids, rejected = found[board.dictionary]
        if len(corners) and len(rejected):  # (ids is None, not empty, when nothing was found)
            # Markers the first pass missed (blur, a shadow) are sought where the board puts
            # them (on copies: the detections serve the next board too).
            detector.setDictionary(board.aruco_dictionary)
            corners, ids, _, _ = detector.refineDetectedMarkers(
                grey, _grid_board(board), tuple(c.copy() for c in corners), ids.copy(),
                tuple(r.copy() for r in rejected), camera.matrix, camera.dist_coeffs)
        out.append(_board_corners(grey_f, board, corners, ids, refine))
    return out


def _board_corners(grey_f: np.ndarray, board: MarkerBoard, corners: Sequence[np.ndarray],
                   ids: np.ndarray | None, refine: bool) -> tuple[np.ndarray, np.ndarray]:
    """Object and image points of the detected markers that are the board's."""
    objects = board.object_points()
    cells = board.aruco_dictionary.markerSize + 2
    index = {marker_id: k for k, marker_id in enumerate(board.ids)}
    obj: list[np.ndarray] = []
    img: list[np.ndarray] = []
    seen: set[int] = set()
    found_ids = np.asarray(ids).ravel() if len(corners) else np.zeros(0, dtype=int)
    for c, marker_id in zip(corners, found_ids, strict=True):
        k = index.get(int(marker_id))
        if k is None or k in seen:  # not this board's, or decoded twice: keep the first
            continue
        seen.add(k)
        obj.append(objects[k])
        img.append(refine_corners(grey_f, np.asarray(c, float), cells) if refine
                   else np.asarray(c, float).reshape(4, 2))
    if not obj:
        return np.zeros((0, 3)), np.zeros((0, 2))
    return np.concatenate(obj), np.concatenate(img)


def solve_board_pose(obj: np.ndarray, img: np.ndarray, camera: CameraModel
                     ) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(rvec, tvec, RMS reprojection px) of a planar board from matched corners, or None.

    IPPE gives both poses a plane can take in an image; the one with the smaller reprojection
    error is refined by Levenberg-Marquardt."""
    ok, rvecs, tvecs, errors = cv2.solvePnPGeneric(
        obj.astype(np.float64), img.astype(np.float64).reshape(-1, 1, 2), camera.matrix,
        camera.dist_coeffs, flags=cv2.SOLVEPNP_IPPE)
    if not ok or not len(rvecs):
        return None
    best = int(np.argmin(np.asarray(errors).ravel()))
    rvec, tvec = cv2.solvePnPRefineLM(obj, img.reshape(-1, 1, 2), camera.matrix,
                                      camera.dist_coeffs, rvecs[best].copy(), tvecs[best].copy())
    projected, _ = cv2.projectPoints(obj, rvec, tvec, camera.matrix, camera.dist_coeffs)
    rms = float(np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - img) ** 2, axis=1))))
    if float(tvec.ravel()[2]) <= 0 or not math.isfinite(rms):
        return None
    return rvec.reshape(3), tvec.reshape(3), rms


def marker_pose(image: np.ndarray, board: MarkerBoard, camera: CameraModel,
                detector: cv2.aruco.ArucoDetector | None = None,
                max_reproj_px: float = MAX_REPROJ_PX) -> BoardPose | None:
    """The board's pose in the camera's frame from one image, or None: fewer than MIN_MARKERS of
    its markers found, or an RMS reprojection error above max_reproj_px."""
    return marker_poses(image, (board,), camera, detector, max_reproj_px)[0]


def marker_poses(image: np.ndarray, boards: Sequence[MarkerBoard], camera: CameraModel,
                 detector: cv2.aruco.ArucoDetector | None = None,
                 max_reproj_px: float = MAX_REPROJ_PX,
                 min_markers: Sequence[int] | None = None) -> list[BoardPose | None]:
    """marker_pose of each of several boards seen in one image (markers detected once);
    `min_markers` per board (default MIN_MARKERS each)."""
    found = detect_boards(image, boards, camera, detector)
    least = [MIN_MARKERS] * len(boards) if min_markers is None else list(min_markers)
    return [fit_board(obj, img, camera, max_reproj_px, n)
            for (obj, img), n in zip(found, least, strict=True)]


def fit_board(obj: np.ndarray, img: np.ndarray, camera: CameraModel, max_reproj_px: float,
           min_markers: int = MIN_MARKERS) -> BoardPose | None:
    """The pose from matched corners, a marker whose corners miss the fit dropped (see
    OUTLIER_PX) while enough are left; None if too few markers or the fit is too poor."""
    while len(obj) // 4 >= max(min_markers, MIN_MARKERS):
        solved = solve_board_pose(obj, img, camera)
        if solved is None:
            return None
        rvec, tvec, rms = solved
        n_markers = len(obj) // 4
        if n_markers > max(min_markers, MIN_MARKERS):
            projected, _ = cv2.projectPoints(obj, rvec, tvec, camera.matrix, camera.dist_coeffs)
            per_marker = np.sqrt(np.mean(np.sum((projected.reshape(-1, 2) - img) ** 2, axis=1)
                                         .reshape(-1, 4), axis=1))
            worst = int(np.argmax(per_marker))
            others = np.delete(per_marker, worst)
            if per_marker[worst] > max(OUTLIER_PX, 4.0 * float(np.median(others))):
                keep = np.repeat(np.arange(n_markers) != worst, 4)
                obj, img = obj[keep], img[keep]
                continue
        if rms > max_reproj_px:
            return None
        return BoardPose(rvec, tvec, n_markers, rms)
    return None


class Capture(Protocol):
    """What ArucoPoseSource needs of a cv2.VideoCapture."""

    def isOpened(self) -> bool: ...  # OpenCV's name
    def grab(self) -> bool: ...
    def retrieve(self) -> tuple[bool, Any]: ...
    def release(self) -> None: ...


def _open_quietly(source: int | str) -> cv2.VideoCapture:
    """cv2.VideoCapture(source) without OpenCV's own warnings on stderr (a camera that does not
    open is reported once, by ArucoPoseSource, in one line), a live camera's buffer at 1."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        capture = cv2.VideoCapture(source)
    finally:
        cv2.utils.logging.setLogLevel(level)
    if isinstance(source, int):
        # Keep one frame in the driver, not several: a frame's grab time is then its delivery
        # time, not a frame period or more later (ignored by backends that cannot).
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)
    return capture


@dataclasses.dataclass(frozen=True)
class ArucoSample:
    """One camera frame's result: the tip pose, and the board's pose behind it (None when the
    board was not seen, then pose.valid is False). With a reference board: its pose in this
    frame (None if not seen) and the registration used (the smoothed reference-to-camera 4x4,
    None when there was none to trust, then pose.valid is False)."""

    pose: PoseSample
    board: BoardPose | None
    reference: BoardPose | None = None
    registration: np.ndarray | None = None

    @property
    def marker_matrix(self) -> np.ndarray | None:
        """The probe's board in the tracker frame (the reference's when there is one), or None."""
        if self.board is None:
            return None
        if self.registration is None:
            return self.board.matrix
        return relative_pose(self.registration, self.board.matrix)


class ArucoPoseSource:
    """PoseSource of a camera watching the probe's marker board (see the module's docstring)."""

    def __init__(self, camera_index_or_path: int | str, board: MarkerBoard, camera: CameraModel,
                 tip_offset_mm: Vec3 = (0.0, 0.0, 0.0), tool_axis: Vec3 = (0.0, 0.0, 1.0),
                 latency_s: float = 0.0, max_reproj_px: float = MAX_REPROJ_PX,
                 capture_factory: Callable[[int | str], Capture] | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 reference: MarkerBoard | None = None, reference_hold_s: float = HOLD_S,
                 reference_jump_mm: float = JUMP_MM) -> None:
        if reference is not None:
            check_disjoint(board, reference)  # BoardError before the camera is opened
        self.name = f"aruco:{camera_index_or_path}"
        self.board, self.camera, self.reference = board, camera, reference
        self.reference_filter = (None if reference is None else ReferenceFilter(
            reference_hold_s, jump_mm=reference_jump_mm, name=f"{self.name} reference"))
        self.tip_offset_mm, self.tool_axis = tip_offset_mm, tool_axis
        self.latency_s, self.max_reproj_px = latency_s, max_reproj_px
        self._clock = clock
        self._is_file = isinstance(camera_index_or_path, str)
        self._capture: Capture
        if capture_factory is None:
            self._capture = _open_quietly(camera_index_or_path)
        else:
            self._capture = capture_factory(camera_index_or_path)
        if not self._capture.isOpened():
            self._capture.release()
            raise CameraError(f"cannot open camera {camera_index_or_path!r} (not connected, "
                              "in use by another program, or not a video file)")
        self._lock = threading.Lock()
        self._queue: deque[ArucoSample] = deque(maxlen=QUEUE_LEN)
        self._grab_times: deque[float] = deque(maxlen=30)
        self._stop = threading.Event()
        self.frames = 0
        self.rejected = 0  # frames without a pose: board not seen, too few markers, bad fit
        self.no_reference = 0  # of them: the probe seen, but no trusted reference
        self.dropped = 0  # samples lost because nobody polled
        self.error: str | None = None
        self._last: PoseSample | None = None
        self._log = RateLimitedLog(log, clock=clock)
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    @property
    def fps(self) -> float:
        """Frame rate over the last 30 frames (0 before two)."""
        with self._lock:
            times = list(self._grab_times)
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    @property
    def running(self) -> bool:
        """Whether the capture thread still delivers frames (False at a file's end, an error or
        after close)."""
        return self._thread.is_alive()

    def join(self, timeout_s: float | None = None) -> bool:
        """Wait for the capture thread to end (a file's end); True if it has."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

    def poll(self) -> list[PoseSample]:
        """The poses since the last call, oldest first (PoseSource)."""
        return [s.pose for s in self.poll_samples()]

    def poll_samples(self) -> list[ArucoSample]:
        """As poll, with the board's pose and fit quality of each frame."""
        with self._lock:
            out = list(self._queue)
            self._queue.clear()
        return out

    def close(self) -> None:
        """Stop the capture thread and release the camera."""
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5.0)
        if self._thread.is_alive():
            log.warning("%s: the capture thread did not stop within 5 s", self.name)
            return  # releasing under a blocked grab can crash some backends
        self._capture.release()

    def _run(self) -> None:
        detector = make_detector()
        failed = 0
        while not self._stop.is_set():
            if not self._capture.grab():
                if self._is_file:
                    log.info("%s: end of the video after %d frames", self.name, self.frames)
                    return
                failed += 1
                if failed >= FAILED_GRABS_LIMIT:
                    self.error = f"camera {self.name}: {failed} frames in a row failed"
                    log.error("%s", self.error)
                    return
                continue
            grab_s = self._clock()
            failed = 0
            ok, frame = self._capture.retrieve()
            if not ok or frame is None:
                continue
            self._process(np.asarray(frame), grab_s - self.latency_s, detector)
            with self._lock:
                self._grab_times.append(grab_s)

    def _process(self, frame: np.ndarray, host_s: float, detector: cv2.aruco.ArucoDetector
                 ) -> None:
        """One frame to one sample (valid, or not with the last known pose)."""
        self.frames += 1
        boards = (self.board,) if self.reference is None else (self.board, self.reference)
        try:
            poses = marker_poses(frame, boards, self.camera, detector, self.max_reproj_px,
                                 (MIN_MARKERS, REFERENCE_MIN_MARKERS)[:len(boards)])
        except cv2.error as exc:  # a frame of an unexpected format: counted, not fatal
            self._log.log(logging.WARNING, "bad_frame", "%s: frame %d not processed: %s",
                          self.name, self.frames, exc)
            poses = [None] * len(boards)
        found, seen_reference = poses[0], (poses[1] if len(poses) > 1 else None)
        registration = None
        if self.reference_filter is not None:
            registration = self.reference_filter.update(
                host_s, None if seen_reference is None else seen_reference.matrix)
            if found is not None and registration is None:
                self.no_reference += 1
        result = ArucoSample(PoseSample(host_s, (0.0, 0.0, 0.0), (0.0, 0.0, 1.0), False), found,
                             seen_reference, registration)
        marker = result.marker_matrix
        if marker is None or (self.reference is not None and registration is None):
            self.rejected += 1
            last = self._last
            sample = PoseSample(host_s, last.position_mm if last else (0.0, 0.0, 0.0),
                                last.axis if last else (0.0, 0.0, 1.0), valid=False)
        else:
            sample = PoseSample.from_matrix(marker, host_s, self.tip_offset_mm, self.tool_axis)
            self._last = sample
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(dataclasses.replace(result, pose=sample))
