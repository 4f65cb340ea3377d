"""A test-only detector response (stands in for simulator/probe_geometry.py in the scatter tests).

A crystal disc of radius a = 7 mm, its face set back h = 15 mm behind the tip, in a bore of radius
a. For a photon emitted isotropically at probe-frame point (rho, z) the detection probability is
the sum over crystal-face elements dA of

    dA cos(i) / (4 pi d^2) * T * (1 - exp(-mu_CdTe(E) t / cos(i))),

with d the distance to the element, i the incidence angle, t = 2 mm the crystal thickness and
T = 1 if the ray crosses the tip plane z = 0 within radius a (through the open bore), else the
crude wall leakage exp(-mu_W(E) 2 mm). Points behind the tip plane get only the leakage. The face
is sampled by a Vogel (sunflower) pattern of equal-area points.
"""

from __future__ import annotations

import math

import numpy as np
import xraydb

from probe_nav.simulator.detector import material

TUNGSTEN_G_CM3 = 19.3


class StandInResponse:
    """Finite crystal behind an open bore with a crude tungsten wall (axially symmetric)."""

    def __init__(self, radius_mm: float = 7.0, setback_mm: float = 15.0,
                 crystal_mm: float = 2.0, wall_mm: float = 2.0, n_face: int = 128) -> None:
        self.radius_mm, self.crystal_setback_mm = radius_mm, setback_mm
        self.crystal_mm, self.wall_mm = crystal_mm, wall_mm
        i = np.arange(n_face) + 0.5
        r = radius_mm * np.sqrt(i / n_face)
        phi = i * math.pi * (3.0 - math.sqrt(5.0))
        self._face_x, self._face_y = r * np.cos(phi), r * np.sin(phi)
        self._face_area = math.pi * radius_mm**2 / n_face
        self._cdte = material("CdTe")

    def wall_transmission(self, energy_kev: float) -> float:
        """exp(-mu_W(E) * wall) with mu/rho of tungsten from xraydb (Elam tables)."""
        mu_per_mm = xraydb.mu_elam("W", energy_kev * 1000.0) * TUNGSTEN_G_CM3 / 10.0
        return math.exp(-mu_per_mm * self.wall_mm)

    def detection_probability(self, energy_kev: float, rho_mm: np.ndarray,
                              z_mm: np.ndarray) -> np.ndarray:
        """P(a photon emitted isotropically at (rho, z) interacts in the crystal)."""
        rho = np.atleast_1d(np.asarray(rho_mm, float))
        z = np.atleast_1d(np.asarray(z_mm, float))
        rho, z = np.broadcast_arrays(rho, z)
        shape = rho.shape
        rho, z = rho.ravel(), z.ravel()
        leak = self.wall_transmission(energy_kev)
        mu_cdte = self._cdte.mu_per_mm(energy_kev)
        h, a = self.crystal_setback_mm, self.radius_mm
        out = np.empty(len(rho))
        for lo in range(0, len(rho), 4096):
            r, zz = rho[lo:lo + 4096, None], z[lo:lo + 4096, None]
            dx, dy, dz = r - self._face_x, -self._face_y, zz + h  # point minus face element
            d2 = dx * dx + dy * dy + dz * dz
            cos_i = np.abs(dz) / np.sqrt(d2)
            front = zz > 0.0
            # where the ray face -> point crosses z = 0: fraction h / dz of the way from the face
            frac = np.where(dz > 0, h / np.where(dz > 0, dz, 1.0), 0.0)
            cx, cy = self._face_x + frac * dx, self._face_y + frac * dy
            open_ = front & (cx * cx + cy * cy <= a * a)
            transmission = np.where(open_, 1.0, leak)
            absorbed = -np.expm1(-mu_cdte * self.crystal_mm / np.maximum(cos_i, 1e-6))
            solid = self._face_area * cos_i / (4.0 * math.pi * np.maximum(d2, 1e-6))
            out[lo:lo + 4096] = (solid * transmission * absorbed).sum(axis=1)
        return out.reshape(shape)
