"""Pivot calibration: where the probe's tip is in the frame of the marker a tracker follows.

The surgeon (or technician) keeps the tip in a divot and pivots the probe about it while the
tracker reports the marker's pose (rotation R_i, translation t_i, tracker frame, mm). The tip,
at an unknown offset p in the marker's frame, stays at one unknown point q of the tracker frame:

    R_i p + t_i = q     for every pose i

so [R_i  -I] [p; q] = -t_i, stacked over the poses, is a linear least-squares problem in the six
unknowns (the algebraic one-step method of image-guided surgery toolkits, e.g. scikit-surgery's
pivot calibration). The RMS of |R_i p + t_i - q| is the calibration's residual: a tip that
slipped in the divot shows there. The six unknowns are determined only if the probe turned
about at least two axes; a sweep of less than MIN_SPREAD_DEG is refused rather than trusted.
Uncertainty: the residual variance (3N - 6 degrees of freedom) times (A^T A)^-1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_SPREAD_DEG = 15.0  # least rotation between poses about the second-weakest axis
MIN_POSES = 4
UNIT_QUATERNION_TOL = 1e-3


class PivotError(ValueError):
    """Poses from which no tip offset can be trusted (too few, too little rotation, bad
    rotations); the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class PivotResult:
    """The tip in the marker's frame and the pivot in the tracker's frame (mm), with 1 sd, the
    RMS residual (mm), how many poses and how far (degrees) the probe turned."""

    tip_mm: np.ndarray
    tip_sd_mm: np.ndarray
    pivot_mm: np.ndarray
    pivot_sd_mm: np.ndarray
    rms_mm: float
    max_residual_mm: float
    n_poses: int
    spread_deg: float


def quaternions_to_matrices(q: np.ndarray) -> np.ndarray:
    """Rotation matrices (N, 3, 3) from unit quaternions (N, 4) in (w, x, y, z) order, the order
    of OpenIGTLink's QTDATA and PLUS; PivotError for one that is not a unit quaternion."""
    q = np.asarray(q, dtype=float)
    if q.ndim != 2 or q.shape[1] != 4:
        raise PivotError(f"quaternions must be N x 4 (w, x, y, z), got shape {q.shape}")
    if not np.all(np.isfinite(q)):
        raise PivotError("a quaternion is not finite")
    norm = np.linalg.norm(q, axis=1)
    bad = np.flatnonzero(np.abs(norm - 1.0) > UNIT_QUATERNION_TOL)
    if bad.size:
        raise PivotError(f"pose {bad[0] + 1}: the quaternion's length is {norm[bad[0]]:.4g}, "
                         "not 1")
    w, x, y, z = (q / norm[:, None]).T
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)], axis=-1),
        np.stack([2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)], axis=-1),
        np.stack([2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)], axis=-1),
    ], axis=1)


def rotation_spread_deg(rotations: np.ndarray) -> float:
    """How far the probe turned about its second-best axis (degrees): twice the sd of the
    rotation vectors relative to their mean along the second principal direction. A probe turned
    only about one axis (0 here) leaves the tip's position along that axis undetermined."""
    mean = _mean_rotation(rotations)
    vectors = np.array([_rotation_vector(mean.T @ r) for r in rotations])
    centred = vectors - vectors.mean(axis=0)
    sd = np.sqrt(np.sort(np.linalg.eigvalsh(centred.T @ centred / len(vectors)))[::-1])
    return float(math.degrees(2.0 * sd[1]))


def _mean_rotation(rotations: np.ndarray) -> np.ndarray:
    """The rotation nearest (Frobenius) to the arithmetic mean of the matrices."""
    u, _, vt = np.linalg.svd(rotations.mean(axis=0))
    d = np.sign(np.linalg.det(u @ vt))
    return u @ np.diag([1.0, 1.0, d]) @ vt


def _rotation_vector(r: np.ndarray) -> np.ndarray:
    """Axis times angle (rad) of a rotation matrix."""
    angle = math.acos(max(-1.0, min(1.0, (np.trace(r) - 1.0) / 2.0)))
    if angle < 1e-12:
        return np.zeros(3)
    axis = np.array([r[2, 1] - r[1, 2], r[0, 2] - r[2, 0], r[1, 0] - r[0, 1]])
    return axis / (2.0 * math.sin(angle)) * angle


def pivot_calibrate(rotations: np.ndarray, translations_mm: np.ndarray,
                    min_spread_deg: float = MIN_SPREAD_DEG) -> PivotResult:
    """Solve for the tip offset and the pivot from N marker poses (rotations N x 3 x 3,
    translations N x 3, mm); PivotError when the poses cannot determine them."""
    r = np.asarray(rotations, dtype=float)
    t = np.asarray(translations_mm, dtype=float)
    if r.ndim != 3 or r.shape[1:] != (3, 3) or t.shape != (len(r), 3):
        raise PivotError(f"need N rotations (N x 3 x 3) and N translations (N x 3), got "
                         f"{r.shape} and {t.shape}")
    if len(r) < MIN_POSES:
        raise PivotError(f"{len(r)} poses: a pivot calibration needs at least {MIN_POSES}")
    if not (np.all(np.isfinite(r)) and np.all(np.isfinite(t))):
        raise PivotError("a pose is not finite")
    orthonormal = np.abs(np.einsum("nji,njk->nik", r, r) - np.eye(3)).max(axis=(1, 2))
    if orthonormal.max() > 1e-3 or np.any(np.linalg.det(r) < 0):
        raise PivotError(f"pose {int(np.argmax(orthonormal)) + 1} is not a rotation")
    spread = rotation_spread_deg(r)
    if spread < min_spread_deg:
        raise PivotError(f"the probe turned {spread:.1f} degrees about its second axis; pivot "
                         f"it at least {min_spread_deg:g} degrees about two axes")
    n = len(r)
    a = np.zeros((3 * n, 6))
    a[:, :3] = r.reshape(3 * n, 3)
    a[:, 3:] = np.tile(-np.eye(3), (n, 1))
    b = -t.reshape(3 * n)
    x, *_ = np.linalg.lstsq(a, b, rcond=None)
    tip, pivot = x[:3], x[3:]
    residuals = np.linalg.norm(np.einsum("nij,j->ni", r, tip) + t - pivot, axis=1)
    dof = 3 * n - 6
    variance = float(np.sum((a @ x - b) ** 2) / dof) if dof > 0 else 0.0
    cov = variance * np.linalg.inv(a.T @ a)
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    return PivotResult(tip, sd[:3], pivot, sd[3:], float(np.sqrt(np.mean(residuals**2))),
                       float(residuals.max()), n, spread)
