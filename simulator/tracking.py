"""A simulated tracker for tip calibration: the poses a marker on the probe takes while the tip
stays in a divot and the probe is pivoted about it, with tracking noise. The ground truth (tip
offset, pivot) is known, so `probe-nav track calibrate --sim` and the tests can check the
calibration against it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

DEFAULT_TIP_MM = (2.0, -1.5, -160.0)  # tip in the marker's frame: 16 cm down the shaft
DEFAULT_PIVOT_MM = (120.0, -40.0, -900.0)  # divot in the tracker's frame


@dataclass(frozen=True)
class PivotSweep:
    """Marker poses (rotations N x 3 x 3, translations N x 3 mm) and the truth behind them."""

    rotations: np.ndarray
    translations_mm: np.ndarray
    tip_mm: np.ndarray
    pivot_mm: np.ndarray
    noise_mm: float


def _axis_angle(axis: np.ndarray, angle: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit axis."""
    k = np.array([[0.0, -axis[2], axis[1]], [axis[2], 0.0, -axis[0]], [-axis[1], axis[0], 0.0]])
    return np.eye(3) + math.sin(angle) * k + (1.0 - math.cos(angle)) * (k @ k)


def pivot_sweep(n_poses: int = 200, max_tilt_deg: float = 30.0, noise_mm: float = 0.25,
                tip_mm: tuple[float, float, float] = DEFAULT_TIP_MM,
                pivot_mm: tuple[float, float, float] = DEFAULT_PIVOT_MM,
                seed: int = 0) -> PivotSweep:
    """Poses of a probe pivoted about its tip: tilted up to max_tilt_deg in every direction and
    rolled about its shaft, the marker's position blurred by isotropic Gaussian noise (sd
    noise_mm per axis, as an optical tracker's ~0.25 mm)."""
    rng = np.random.default_rng(seed)
    tip, pivot = np.asarray(tip_mm, float), np.asarray(pivot_mm, float)
    rotations = np.empty((n_poses, 3, 3))
    for i in range(n_poses):
        azimuth = rng.uniform(0.0, 2.0 * math.pi)
        tilt_axis = np.array([math.cos(azimuth), math.sin(azimuth), 0.0])
        tilt = _axis_angle(tilt_axis, math.radians(max_tilt_deg) * math.sqrt(rng.uniform()))
        roll = _axis_angle(np.array([0.0, 0.0, 1.0]), rng.uniform(-math.pi, math.pi))
        rotations[i] = tilt @ roll
    translations = pivot - np.einsum("nij,j->ni", rotations, tip)
    translations += rng.normal(0.0, noise_mm, translations.shape)
    return PivotSweep(rotations, translations, tip, pivot, noise_mm)


def matrices_to_quaternions(rotations: np.ndarray) -> np.ndarray:
    """Unit quaternions (w, x, y, z) of rotation matrices (Shepperd's method, w >= 0)."""
    out = np.empty((len(rotations), 4))
    for i, r in enumerate(rotations):
        trace = np.trace(r)
        if trace > 0:
            s = 2.0 * math.sqrt(1.0 + trace)
            q = [0.25 * s, (r[2, 1] - r[1, 2]) / s, (r[0, 2] - r[2, 0]) / s,
                 (r[1, 0] - r[0, 1]) / s]
        else:
            k = int(np.argmax(np.diag(r)))
            j, m = (k + 1) % 3, (k + 2) % 3
            s = 2.0 * math.sqrt(1.0 + r[k, k] - r[j, j] - r[m, m])
            v = [0.0, 0.0, 0.0]
            v[k] = 0.25 * s
            v[j] = (r[j, k] + r[k, j]) / s
            v[m] = (r[m, k] + r[k, m]) / s
            q = [(r[m, j] - r[j, m]) / s, *v]
        q = np.asarray(q)
        out[i] = q if q[0] >= 0 else -q
    return out
