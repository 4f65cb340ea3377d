"""A tracked pose of the probe tip, and the small interface every pose source offers.

A tracker follows a marker (a rigid body) on the probe: it reports the marker's pose in the
tracker's frame as a 4x4 rigid transform T (mm). The tip sits at `tip_offset_mm` in the marker's
frame (pivot calibration, probe_nav.navigation.pivot) and the probe looks along `tool_axis` of
the marker's frame, so the tip is R p + t and the axis out of the tip R u. With the default
offset (0, 0, 0) and axis (0, 0, 1) the transform already describes the tip, as the simulator's
pose server and PLUS's "ProbeTipToTracker"-style tools send it.

`host_s` is the host's monotonic clock (time.monotonic) at the moment the pose was true: the
source removes what it knows of its own delay (a message timestamp, an entered latency), so
synchronisation with counts is one interpolation on one clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

Vec3 = tuple[float, float, float]
UNIT_AXIS_TOL = 1e-3  # |axis| must be 1 within this


@dataclass(frozen=True, slots=True)
class PoseSample:
    """The probe tip at one instant: position (mm) and unit axis out of the tip, tracker frame.

    `valid` is the tracker's quality flag: False when the tool is not seen (out of view, out of
    the field, occluded); then position and axis are the last known and must not be used.
    `error_mm` is the tracker's own error estimate when it reports one (NaN otherwise)."""

    host_s: float
    position_mm: Vec3
    axis: Vec3
    valid: bool = True
    error_mm: float = math.nan

    def __post_init__(self) -> None:
        if not all(math.isfinite(v) for v in (self.host_s, *self.position_mm, *self.axis)):
            raise ValueError("a pose must be finite")
        norm = math.sqrt(sum(a * a for a in self.axis))
        if abs(norm - 1.0) > UNIT_AXIS_TOL:
            raise ValueError(f"a pose axis must be a unit vector, |axis| = {norm:.6g}")

    @classmethod
    def from_matrix(cls, matrix: np.ndarray | Sequence[Sequence[float]], host_s: float,
                    tip_offset_mm: Vec3 = (0.0, 0.0, 0.0), tool_axis: Vec3 = (0.0, 0.0, 1.0),
                    valid: bool = True, error_mm: float = math.nan) -> PoseSample:
        """The tip pose of a marker transform (4x4, rotation orthonormal, mm): R p + t, R u."""
        m = np.asarray(matrix, dtype=float)
        if m.shape != (4, 4) or not np.all(np.isfinite(m)):
            raise ValueError("a transform must be a finite 4x4 matrix")
        rot, trans = m[:3, :3], m[:3, 3]
        if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-3) or np.linalg.det(rot) < 0:
            raise ValueError("a transform's rotation must be orthonormal and right-handed")
        tip = rot @ np.asarray(tip_offset_mm, float) + trans
        u = np.asarray(tool_axis, float)
        axis = rot @ (u / np.linalg.norm(u))
        axis = axis / np.linalg.norm(axis)
        return cls(float(host_s), (float(tip[0]), float(tip[1]), float(tip[2])),
                   (float(axis[0]), float(axis[1]), float(axis[2])), valid, float(error_mm))

    def to_matrix(self) -> np.ndarray:
        """A 4x4 transform whose translation is the tip and whose z column is the axis (the
        inverse of from_matrix with the default offset and axis; the roll about the axis,
        which a probe's response does not depend on, is chosen)."""
        z = np.asarray(self.axis, float)
        helper = np.array([1.0, 0.0, 0.0]) if abs(z[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        x = np.cross(helper, z)
        x /= np.linalg.norm(x)
        y = np.cross(z, x)
        m = np.eye(4)
        m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = x, y, z, self.position_mm
        return m


@runtime_checkable
class PoseSource(Protocol):
    """Where poses come from: a tracker client, a camera, the simulator, the training view."""

    name: str

    def poll(self) -> list[PoseSample]:
        """The samples received since the last call, oldest first; never blocks."""
        ...

    def close(self) -> None:
        """Stop receiving and release the connection or camera."""
        ...
