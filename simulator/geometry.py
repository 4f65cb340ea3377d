"""Small geometric helpers: unit vectors, tissue path lengths, points filling a sphere."""

from __future__ import annotations

import math

import numpy as np

SPHERE_POINTS = 64
_GOLDEN_ANGLE = math.pi * (3.0 - math.sqrt(5.0))


def unit(vector: tuple[float, float, float] | np.ndarray) -> np.ndarray:
    """The vector scaled to length 1; ValueError for a zero vector."""
    v = np.asarray(vector, dtype=float)
    norm = float(np.linalg.norm(v))
    if norm == 0.0 or not math.isfinite(norm):
        raise ValueError(f"a direction must be a non-zero vector, got {tuple(v)}")
    return v / norm


def line_tissue_mm(tip_mm: np.ndarray, points_mm: np.ndarray) -> np.ndarray:
    """Length of each straight line tip -> point that lies in tissue (z < 0), in mm."""
    z_p = float(tip_mm[2])
    z_s = points_mm[:, 2]
    dist = np.linalg.norm(points_mm - tip_mm, axis=1)
    below = -np.minimum(z_p, z_s)
    span = np.abs(z_p - z_s)
    partial = dist * below / np.where(span > 0, span, 1.0)
    return np.where(
        (z_p <= 0.0) & (z_s <= 0.0), dist, np.where((z_p > 0.0) & (z_s > 0.0), 0.0, partial)
    )


def fill_sphere(centre_mm: np.ndarray, radius_mm: float, n: int = SPHERE_POINTS) -> np.ndarray:
    """Points of equal volume share filling a sphere (the centre alone for radius 0).

    Directions follow a Fibonacci spiral (z evenly spaced, golden-angle azimuth); radii
    R u^(1/3) take u from the additive sequence frac(1/2 + i (sqrt 2 - 1)), uncorrelated with the
    spiral, so the points are evenly spread in volume (low-discrepancy, error ~1/n).
    """
    if radius_mm <= 0:
        return centre_mm[None, :].copy()
    i = np.arange(n) + 0.5
    u = (0.5 + np.arange(n) * (math.sqrt(2.0) - 1.0)) % 1.0
    r = radius_mm * u ** (1.0 / 3.0)
    z = 1.0 - 2.0 * i / n
    rho = np.sqrt(1.0 - z * z)
    phi = _GOLDEN_ANGLE * np.arange(n)
    directions = np.column_stack([rho * np.cos(phi), rho * np.sin(phi), z])
    return centre_mm + r[:, None] * directions
