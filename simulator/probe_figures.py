"""A probe's NEMA NU 3-style figures, straight from its geometry's response (no counting):
relative sensitivity by distance, lateral profile and its FWHM, far-field angular response and
its FWHM, side and back shielding. The benches' ground truth and the presets' table use these.

All figures are for sources in air, in the probe's frame (z along the axis in front of the tip).
Angles and shielding are taken at FAR_FIELD_MM from the tip, where the response no longer
depends on the distance except by inverse square.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from probe_nav.simulator.collimator import THETA_GRID_RAD
from probe_nav.simulator.probe_geometry import ProbeGeometry, response_table

FAR_FIELD_MM = 300.0


def on_axis(geometry: ProbeGeometry, energy_kev: float, distance_mm: float) -> float:
    """R on the axis at distance_mm in front of the tip (per emitted photon)."""
    table = response_table(geometry, energy_kev)
    return float(table(np.array([0.0]), np.array([float(distance_mm)]))[0])


def lateral_profile(geometry: ProbeGeometry, energy_kev: float, distance_mm: float,
                    x_mm: np.ndarray) -> np.ndarray:
    """Response to a point source moved x_mm across the axis at distance_mm; 1 on the axis."""
    table = response_table(geometry, energy_kev)
    x = np.abs(np.asarray(x_mm, dtype=float))
    z = np.full_like(x, float(distance_mm))
    return np.asarray(table(x, z) / table(np.array([0.0]), np.array([float(distance_mm)]))[0])


def profile_width_mm(geometry: ProbeGeometry, energy_kev: float, distance_mm: float,
                     level: float = 0.5) -> float:
    """Full width of the lateral profile at `level` of its maximum (0.5: FWHM, 0.1: FWTM)."""
    def f(x: float) -> float:
        return float(lateral_profile(geometry, energy_kev, distance_mm, np.array([x]))[0]) - level
    hi = 50.0 * max(distance_mm, 10.0)
    if f(hi) > 0:
        raise ValueError(f"the profile never falls to {level} (shielding leakage too high)")
    return 2.0 * brentq(f, 0.0, hi, xtol=1e-6)


def angular_response(geometry: ProbeGeometry, energy_kev: float, theta_rad: np.ndarray | float,
                     distance_mm: float = FAR_FIELD_MM) -> np.ndarray:
    """Response to a source distance_mm from the tip at theta_rad off the axis (0..pi), the
    probe turned about its tip (NEMA NU 3); relative to the source on the axis."""
    table = response_table(geometry, energy_kev)
    theta = np.abs(np.asarray(theta_rad, dtype=float))
    rho, z = distance_mm * np.sin(theta), distance_mm * np.cos(theta)
    axis = table(np.array([0.0]), np.array([float(distance_mm)]))[0]
    return np.asarray(table(rho, z) / axis)


def angular_fwhm_deg(geometry: ProbeGeometry, energy_kev: float,
                     distance_mm: float = FAR_FIELD_MM) -> float:
    """Full angular width at half the on-axis response (NaN when the shield lets more than half
    through sideways, as 2 mm of tungsten does at 511 keV)."""
    def f(theta: float) -> float:
        return float(angular_response(geometry, energy_kev, theta, distance_mm)) - 0.5
    if f(math.pi / 2) > 0:
        return math.nan
    return 2.0 * math.degrees(brentq(f, 0.0, math.pi / 2, xtol=1e-9))


def shielding_pct(geometry: ProbeGeometry, energy_kev: float,
                  distance_mm: float = FAR_FIELD_MM) -> tuple[float, float]:
    """Side (90 deg) and back (180 deg) response in % of the frontal."""
    side, back = angular_response(geometry, energy_kev, np.array([math.pi / 2, math.pi]),
                                  distance_mm)
    return 100.0 * float(side), 100.0 * float(back)


def far_field_table(geometry: ProbeGeometry, energy_kev: float) -> np.ndarray:
    """The far-field angular response on collimator.THETA_GRID_RAD (for the blood-pool view)."""
    return angular_response(geometry, energy_kev, THETA_GRID_RAD)
