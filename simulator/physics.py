"""Count-rate physics of a collimated probe over tissue: inverse square, tissue attenuation,
a geometric angular response with a shielding leakage floor, and background.

Geometry: millimetres; the skin is the plane z = 0 and tissue fills z < 0. The probe's tip is a
point with an axis (unit vector it looks along). Sensitivity is quoted in cps/MBq for a point
source on the axis at the reference distance in air, the way NEMA NU 3 quotes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from calibration.nuclides import Nuclide, nuclide, tissue_mu_per_mm


@dataclass(frozen=True, slots=True)
class PointSource:
    """A point source of `activity_mbq` of `nuclide_name` at `position_mm` (activity at t = 0)."""

    name: str
    position_mm: tuple[float, float, float]
    activity_mbq: float
    nuclide_name: str = "Tc-99m"

    @property
    def nuclide(self) -> Nuclide:
        """The source's nuclide data."""
        return nuclide(self.nuclide_name)

    def activity_at(self, t_s: float) -> float:
        """Activity in MBq after `t_s` seconds of decay."""
        return self.activity_mbq * math.exp(-self.nuclide.decay_constant_per_s * t_s)


@dataclass(frozen=True, slots=True)
class ProbeModel:
    """A collimated probe: sensitivity, angular response and shielding."""

    sensitivity_cps_per_mbq: float = 8000.0
    reference_distance_mm: float = 10.0
    angular_fwhm_deg: float = 40.0
    leakage_fraction: float = 0.001  # side/back response relative to on-axis (99.9 % shielding)
    min_distance_mm: float = 1.0  # the crystal sits behind the tip: no singularity at contact
    dead_time_s: float = 2e-6  # non-paralysable

    def angular_response(self, theta_rad: np.ndarray | float) -> np.ndarray | float:
        """Relative response to a source `theta_rad` off axis: Gaussian core, leakage floor."""
        fwhm = math.radians(self.angular_fwhm_deg)
        core = np.exp(-4.0 * math.log(2.0) * (np.asarray(theta_rad) / fwhm) ** 2)
        return np.maximum(core, self.leakage_fraction)


@dataclass(frozen=True, slots=True)
class Pose:
    """Where the probe tip is and where it looks."""

    position_mm: tuple[float, float, float]
    axis: tuple[float, float, float] = (0.0, 0.0, -1.0)


def tissue_path_mm(probe_mm: np.ndarray, source_mm: np.ndarray) -> float:
    """Length of the straight line probe->source that lies in tissue (z < 0)."""
    z_p, z_s = float(probe_mm[2]), float(source_mm[2])
    distance = float(np.linalg.norm(source_mm - probe_mm))
    if z_p <= 0.0 and z_s <= 0.0:
        return distance
    if z_p > 0.0 and z_s > 0.0:
        return 0.0
    below = -min(z_p, z_s)
    return distance * below / abs(z_p - z_s)


def source_rate_cps(probe: ProbeModel, pose: Pose, source: PointSource, t_s: float) -> float:
    """Expected detected rate (before dead time) from one source in the photopeak window."""
    p = np.asarray(pose.position_mm, dtype=float)
    s = np.asarray(source.position_mm, dtype=float)
    axis = np.asarray(pose.axis, dtype=float)
    axis = axis / np.linalg.norm(axis)
    v = s - p
    distance = max(float(np.linalg.norm(v)), probe.min_distance_mm)
    cos_theta = float(np.dot(v, axis)) / max(float(np.linalg.norm(v)), 1e-12)
    theta = math.acos(max(-1.0, min(1.0, cos_theta)))
    mu = tissue_mu_per_mm(source.nuclide.main_line.energy_kev)
    attenuation = math.exp(-mu * tissue_path_mm(p, s))
    geometry = (probe.reference_distance_mm / distance) ** 2
    return (
        probe.sensitivity_cps_per_mbq
        * source.activity_at(t_s)
        * geometry
        * attenuation
        * float(probe.angular_response(theta))
    )


def true_rate_cps(
    probe: ProbeModel,
    pose: Pose,
    sources: tuple[PointSource, ...],
    background_cps: float,
    t_s: float,
) -> float:
    """Expected detected rate (before dead time): every source plus uniform background."""
    return background_cps + sum(source_rate_cps(probe, pose, src, t_s) for src in sources)


def observed_counts(
    rng: np.random.Generator, true_cps: float, real_s: float, dead_time_s: float
) -> tuple[int, float]:
    """Counts and live time of one interval, non-paralysable counter (mean m = n/(1+n tau))."""
    observed_cps = true_cps / (1.0 + true_cps * dead_time_s)
    counts = int(rng.poisson(observed_cps * real_s))
    live_s = max(0.0, real_s - counts * dead_time_s)
    return counts, live_s
