"""A reference board on the patient: poses in the patient's frame rather than the camera's.

A camera reports the probe's marker in the CAMERA's frame, which moves whenever the camera's
stand is touched. A second board laid flat on the skin beside the surgical field (the
"reference") fixes the patient's frame: its z is out of the printed face, so the skin is the
plane z = 0 and tissue lies at z < 0, the frame localisation and guidance work in
(docs/navigation.md). The probe in it is T_ref_probe = inv(T_cam_ref) T_cam_probe, what the PLUS
toolkit calls "ProbeToReference".

`ReferenceFilter` keeps the registration T_cam_ref: the mean of the reference's recent poses
while it is seen (camera on a stand, patient still: averaging removes the per-frame jitter),
restarted when the reference jumps (the patient or the camera moved: an old pose must not be
averaged with the new one), and none at all once the reference has not been seen for `hold_s`
(an old registration is not used for long). Pure: time comes with each update.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from probe_nav.drivers.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)

# A hand or the probe passing over the reference hides it for 0.1-0.5 s; a still patient does
# not move on that scale, so the registration is kept for 1 s. Longer would let a move that
# happened while the board was hidden go unnoticed for longer (the next sight of the board
# detects it as a jump and restarts).
HOLD_S = 1.0
# Averaging window: 30 frames at 30 fps cut the reference's jitter by sqrt(30) ~ 5.5; a slow
# skin motion (breathing, 0.25 Hz) is still followed at ~90 % of its amplitude (boxcar gain
# sin(pi f T) / (pi f T) with f T = 0.25).
WINDOW_S = 1.0
# A move of any point within JUMP_RADIUS_MM of the reference's centre by more than JUMP_MM
# restarts the registration. Per-frame jitter of a 4x3 board of 15 mm markers 520-550 mm from
# the camera, so measured against its mean, is median 0.19 mm, max 1.07 mm (150 rendered webcam
# frames of 5 scenes): 3 mm leaves room for a real camera's worse jitter, while a patient or
# camera that moved by more than a few mm is not averaged in.
JUMP_MM = 3.0
JUMP_RADIUS_MM = 100.0
# Frames that must agree after a (re)start before the registration is used: one outlier frame
# (a wrong IPPE branch, a mis-detected marker) is not trusted on its own.
CONFIRM_FRAMES = 3
# Markers the reference's pose needs (of its 12 by default): with only two, one of them partly
# hidden by the probe's card read 21 mm deep at 0.75 px RMS in a rendered scene; the
# registration is held for HOLD_S anyway, so a frame with fewer is better left out.
REFERENCE_MIN_MARKERS = 4


def rigid_inverse(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 4x4 rigid transform: (R^T, -R^T t)."""
    m = np.asarray(matrix, dtype=float)
    out = np.eye(4)
    out[:3, :3] = m[:3, :3].T
    out[:3, 3] = -m[:3, :3].T @ m[:3, 3]
    return out


def relative_pose(cam_from_ref: np.ndarray, cam_from_probe: np.ndarray) -> np.ndarray:
    """The probe in the reference's frame, inv(T_cam_ref) T_cam_probe (4x4 rigid, mm): both
    poses are board-to-camera transforms of the same camera frame."""
    return rigid_inverse(cam_from_ref) @ np.asarray(cam_from_probe, dtype=float)


def pose_change_mm(a: np.ndarray, b: np.ndarray, radius_mm: float = JUMP_RADIUS_MM) -> float:
    """How far two poses of one board move its points within `radius_mm` of its centre, at most
    (bounded by |t_a - t_b| + radius x the rotation angle between them)."""
    rot = np.asarray(a, float)[:3, :3].T @ np.asarray(b, float)[:3, :3]
    cos_angle = min(1.0, max(-1.0, (float(np.trace(rot)) - 1.0) / 2.0))
    shift = float(np.linalg.norm(np.asarray(a, float)[:3, 3] - np.asarray(b, float)[:3, 3]))
    return shift + radius_mm * math.acos(cos_angle)


def mean_pose(matrices: list[np.ndarray]) -> np.ndarray:
    """The mean of nearby rigid poses: mean translation, and the rotation nearest (Frobenius)
    to the mean rotation matrix (the chordal mean; exact for the small spread of jitter)."""
    stack = np.asarray(matrices, dtype=float)
    u, _, vt = np.linalg.svd(stack[:, :3, :3].mean(axis=0))
    rot = u @ vt
    if np.linalg.det(rot) < 0:
        u[:, -1] = -u[:, -1]
        rot = u @ vt
    out = np.eye(4)
    out[:3, :3] = rot
    out[:3, 3] = stack[:, :3, 3].mean(axis=0)
    return out


class ReferenceFilter:
    """The registration T_cam_ref from a stream of reference poses (see the module docstring).

    `update(host_s, pose_or_None)` for every camera frame returns the registration to use for
    that frame, or None: not seen for more than hold_s, or not yet confirmed after a start."""

    def __init__(self, hold_s: float = HOLD_S, window_s: float = WINDOW_S,
                 jump_mm: float = JUMP_MM, confirm_frames: int = CONFIRM_FRAMES,
                 name: str = "reference", log_clock: Callable[[], float] | None = None) -> None:
        for label, value in (("hold_s", hold_s), ("window_s", window_s), ("jump_mm", jump_mm)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"{label} must be a positive number, got {value}")
        if confirm_frames < 1:
            raise ValueError(f"confirm_frames must be >= 1, got {confirm_frames}")
        self.hold_s, self.window_s, self.jump_mm = hold_s, window_s, jump_mm
        self.confirm_frames, self.name = confirm_frames, name
        self._poses: deque[tuple[float, np.ndarray]] = deque()
        self._since_start = 0  # poses since the last (re)start
        self._confirmed = False
        self._last_seen_s: float | None = None
        self._mean: np.ndarray | None = None
        self.restarts = 0  # registrations abandoned because the reference jumped
        self.last_jump_mm = 0.0
        self._log = RateLimitedLog(log, clock=log_clock or time.monotonic)

    @property
    def registration(self) -> np.ndarray | None:
        """The current smoothed T_cam_ref (a copy), confirmed or not; None before any pose."""
        return None if self._mean is None else self._mean.copy()

    def age_s(self, host_s: float) -> float | None:
        """Seconds since the reference was last seen (None: never)."""
        return None if self._last_seen_s is None else host_s - self._last_seen_s

    def update(self, host_s: float, pose: np.ndarray | None) -> np.ndarray | None:
        """Take one frame's reference pose (None: not seen) and return the registration for
        this frame, or None if there is none to trust."""
        if pose is not None:
            self._add(host_s, np.asarray(pose, dtype=float))
        age = self.age_s(host_s)
        if age is None or age > self.hold_s or not self._confirmed or self._mean is None:
            return None
        return self._mean.copy()

    def _add(self, host_s: float, pose: np.ndarray) -> None:
        if self._mean is not None:
            change = pose_change_mm(self._mean, pose)
            if change > self.jump_mm:
                if self._confirmed:
                    self.restarts += 1
                    self.last_jump_mm = change
                    self._log.log(logging.WARNING, "jump",
                                  "%s board moved by %.1f mm (patient or camera moved): "
                                  "registration restarted", self.name, change)
                self._poses.clear()
                self._since_start = 0
                self._confirmed = False
        self._poses.append((host_s, pose))
        while self._poses and self._poses[0][0] < host_s - self.window_s:
            self._poses.popleft()
        self._since_start += 1
        if self._since_start >= self.confirm_frames:
            self._confirmed = True
        self._mean = mean_pose([p for _, p in self._poses])
        self._last_seen_s = host_s
