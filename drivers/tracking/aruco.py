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
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import cv2
import numpy as np

from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard
from probe_nav.drivers.tracking.pose import PoseSample, Vec3

log = logging.getLogger(__name__)

MIN_MARKERS = 2
# Rendered frames fit the board to 0.01-0.07 px RMS clean and to at most 0.66 px with webcam
# blur (0.8 px) and noise (sd 4 grey levels) at 200-500 mm, tilted up to 45 degrees (60 poses);
# a board printed with 3 mm gaps tracked as one with 2 mm reads 1.2-1.9 px and is refused. Not
# every wrong board can be caught: a print at the wrong scale fits exactly (at the wrong depth),
# gaps 0.5 mm off read 0.6-1.0 px (and 8-12 mm of depth): measure the print's check bar.
MAX_REPROJ_PX = 1.0
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


def refine_corners(grey: np.ndarray, corners: np.ndarray, cells: int) -> np.ndarray:
    """A marker's 4 corners (4, 2) moved to the intersections of its four outer edges, each edge a
    straight line fitted to where profiles across it end their black area (a moment method).

    OpenCV's sub-pixel refinement pulls a small marker's corners 0.1-0.4 px inwards (its window
    holds the marker's inner bits too), which at 300-500 mm is 0.5-1 mm of depth. The profiles
    here reach at most 0.6 of a cell either side of the edge: the black border inside, the white
    quiet zone outside, nothing else."""
    c = np.asarray(corners, float).reshape(4, 2)
    sides_px = np.linalg.norm(np.roll(c, -1, axis=0) - c, axis=1)
    reach_px = min(0.6 * float(sides_px.min()) / cells, 4.0)
    if reach_px < 0.8:
        return c  # too small to profile: keep the detector's corners
    centre = c.mean(axis=0)
    offsets = np.arange(-reach_px, reach_px + 1e-9, 0.2)
    lines = []
    for i in range(4):
        a, b = c[i], c[(i + 1) % 4]
        along = (b - a) / np.linalg.norm(b - a)
        normal = np.array([along[1], -along[0]])
        if normal @ (a - centre) < 0:
            normal = -normal  # outwards
        # avoid the corners (within a cell of them the other edge enters the profile)
        cell_px = float(sides_px[i]) / cells
        t = np.arange(cell_px, float(sides_px[i]) - cell_px, 0.5)
        if len(t) < 3:
            return c
        pts = (a + t[:, None] * along)[:, None, :] + offsets[None, :, None] * normal
        prof = cv2.remap(grey, pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        line = _edge_line(prof, offsets, reach_px, a, along, normal, t)
        if line is None:  # no clean edge along this side: the detector's corners define it
            n = normal
            line = (n, float(n @ (a + b) / 2))
        lines.append(line)
    out = np.empty((4, 2))
    for i in range(4):  # corner i lies on the edge before it (i-1 -> i) and the one after
        (n1, d1), (n2, d2) = lines[(i - 1) % 4], lines[i]
        m = np.array([n1, n2])
        if abs(np.linalg.det(m)) < 1e-6:
            return c
        out[i] = np.linalg.solve(m, [d1, d2])
    if np.max(np.linalg.norm(out - c, axis=1)) > max(1.5, 0.5 * float(sides_px.min()) / cells):
        return c  # the fit ran off: keep the detector's corners
    return out


def _edge_line(prof: np.ndarray, offsets: np.ndarray, reach_px: float, start: np.ndarray,
               along: np.ndarray, normal: np.ndarray, t: np.ndarray
               ) -> tuple[np.ndarray, float] | None:
    """The outer edge of one side from its profiles (rows: positions t along the side; columns:
    offsets along the outward normal), or None if fewer than 3 profiles show a clean edge.

    A clean profile is black at its inner end and white at its outer end. Where something
    darker lies in the quiet zone (a finger, a neighbour's edge under strong foreshortening) the
    profiles are cut shorter outside, down to 1 px; those still not clean are left out."""
    inner_end = prof[:, :2].mean(axis=1)
    inner_ok = inner_end <= prof.min(axis=1) + 0.25 * (prof.max(axis=1) - prof.min(axis=1))
    if inner_ok.sum() < 3:
        return None
    for cut in range(len(offsets), 0, -1):
        outer = offsets[cut - 1]
        if outer < 1.0:
            return None
        part = prof[:, :cut]
        lo, hi = part.min(axis=1), part.max(axis=1)
        outer_end = part[:, -2:].mean(axis=1)
        outer_ok = (outer_end >= hi - 0.25 * (hi - lo)) & (hi - lo > 20.0)
        clean = inner_ok & outer_ok
        if clean.sum() >= max(3.0, 0.8 * inner_ok.sum()):
            break
    part, t = part[clean], t[clean]
    # Black and white of this side: the clean profiles' inner and outer ends, over the side.
    black, white = float(np.median(inner_end[clean])), float(np.median(outer_end[clean]))
    # The edge sits where the black area ends: o_edge = -reach + integral of the black share
    # (exact for any blur that fits in the window, and for pixels' box integration).
    share = np.clip((white - part) / (white - black), 0.0, 1.0)
    o = -reach_px + np.trapezoid(share, offsets[:cut], axis=1)
    inside = (o > -reach_px + 0.5) & (o < outer - 0.5)  # the whole edge in the window
    if inside.sum() < 3:
        return None
    return _fit_line((start + t[:, None] * along + o[:, None] * normal)[inside])


def _fit_line(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The line n.x = d (unit n) through points by total least squares, refitted once without
    the points further than 3 robust sd from the first fit (a profile spoiled by a speck)."""
    for _ in range(2):
        mean = points.mean(axis=0)
        centred = points - mean
        _, vectors = np.linalg.eigh(centred.T @ centred)
        n = vectors[:, 0]  # the direction of least spread: the normal
        resid = centred @ n
        mad = float(np.median(np.abs(resid)))
        keep = np.abs(resid) <= max(3.0 * 1.4826 * mad, 0.05)
        if keep.all() or keep.sum() < 3:
            break
        points = points[keep]
    return n, float(n @ mean)


def _grid_board(board: MarkerBoard) -> cv2.aruco.GridBoard:
    return cv2.aruco.GridBoard((board.markers_x, board.markers_y), board.marker_mm, board.gap_mm,
                               board.aruco_dictionary, np.asarray(board.ids, dtype=np.int32))


def detect_board(image: np.ndarray, board: MarkerBoard, camera: CameraModel,
                 detector: cv2.aruco.ArucoDetector | None = None, refine: bool = True
                 ) -> tuple[np.ndarray, np.ndarray]:
    """The board's marker corners found in `image`: object points (N*4, 3) and image points
    (N*4, 2), one marker after another; empty arrays if none."""
    grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    detector = detector if detector is not None else make_detector()
    detector.setDictionary(board.aruco_dictionary)
    corners, ids, rejected = detector.detectMarkers(grey)
    if len(corners) and len(rejected):  # (ids is None, not empty, when nothing was found)
        # Markers the first pass missed (blur, a shadow) are sought where the board puts them.
        corners, ids, rejected, _ = detector.refineDetectedMarkers(
            grey, _grid_board(board), corners, ids, rejected, camera.matrix, camera.dist_coeffs)
    objects = board.object_points()
    grey_f = grey.astype(np.float32)
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
    obj, img = detect_board(image, board, camera, detector)
    n_markers = len(obj) // 4
    if n_markers < MIN_MARKERS:
        return None
    solved = solve_board_pose(obj, img, camera)
    if solved is None:
        return None
    rvec, tvec, rms = solved
    if rms > max_reproj_px:
        return None
    return BoardPose(rvec, tvec, n_markers, rms)


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


@dataclass(frozen=True)
class ArucoSample:
    """One camera frame's result: the tip pose, and the board's pose behind it (None when the
    board was not seen, then pose.valid is False)."""

    pose: PoseSample
    board: BoardPose | None


class ArucoPoseSource:
    """PoseSource of a camera watching the probe's marker board (see the module's docstring)."""

    def __init__(self, camera_index_or_path: int | str, board: MarkerBoard, camera: CameraModel,
                 tip_offset_mm: Vec3 = (0.0, 0.0, 0.0), tool_axis: Vec3 = (0.0, 0.0, 1.0),
                 latency_s: float = 0.0, max_reproj_px: float = MAX_REPROJ_PX,
                 capture_factory: Callable[[int | str], Capture] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = f"aruco:{camera_index_or_path}"
        self.board, self.camera = board, camera
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
        try:
            found = marker_pose(frame, self.board, self.camera, detector, self.max_reproj_px)
        except cv2.error as exc:  # a frame of an unexpected format: counted, not fatal
            self._log.log(logging.WARNING, "bad_frame", "%s: frame %d not processed: %s",
                          self.name, self.frames, exc)
            found = None
        if found is None:
            self.rejected += 1
            last = self._last
            sample = PoseSample(host_s, last.position_mm if last else (0.0, 0.0, 0.0),
                                last.axis if last else (0.0, 0.0, 1.0), valid=False)
        else:
            sample = PoseSample.from_matrix(found.matrix, host_s, self.tip_offset_mm,
                                            self.tool_axis)
            self._last = sample
        with self._lock:
            if len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(ArucoSample(sample, found))
