"""Count-rate physics of a collimated probe over tissue: sources that decay, inverse square,
tissue attenuation and scatter by photon energy, the collimator's angular response with its
shielding leakage floor, the crystal's efficiency, and background.

Geometry: millimetres; the skin is the plane z = 0 and tissue fills z < 0 (anything above is
air). The probe's tip is a point with an axis (the unit vector it looks along); the crystal sits
`min_distance_mm` behind the tip, so contact is not a singularity. Sensitivity is quoted the way
NEMA NU 3 quotes it: cps per MBq of the reference nuclide in its usual window, point source on
the axis at the reference distance in air. Every other nuclide and window follows from the
crystal's efficiency and response (probe_nav.simulator.detector, probe_nav.simulator.spectrum).

The interaction rate in the crystal from photon line (E, y) of a source of activity A(t) is

    I   = k A(t) y eps(E) (d_ref / d)^2 exp(-mu(E) l) R(theta)                       (primary)
    I_s = k A(t) y eps(E) (d_ref / d)^2 exp(-mu(E) l) s mu(E) l <eps(E')>/eps(E) R(theta_s)
                                                                                (tissue scatter)

with k fixed by the sensitivity, d the tip-to-source distance, l the tissue part of the line of
sight, mu the narrow-beam attenuation of water (probe_nav.calibration.nuclides) times the tissue
factor, and s the scatter photons per primary photon per mean free path (a linear build-up factor).
Scattered photons come from a cloud about one mean free path (1/mu) around the source, so the
probe accepts them as if the source were theta_s = max(0, theta - atan(1/(mu d))) off axis: a hot
injection site outside the field of view still shines through by scatter, more so when the probe
is tilted towards it (DOMAIN.md, shine-through). This is a first-order model: the scatter
spectrum is the single-scatter Klein-Nishina spectrum over all angles whatever the geometry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from probe_nav.calibration.nuclides import Nuclide, nuclide, water_mu_per_mm
from probe_nav.simulator.collimator import angular_response as _angular_response
from probe_nav.simulator.detector import Crystal, default_crystal
from probe_nav.simulator.geometry import fill_sphere, line_tissue_mm, unit

_INF = math.inf


@dataclass(frozen=True, slots=True)
class PointSource:
    """A source: a point (radius 0) or a uniform sphere, with its activity at scenario start.

    The activity decays with the nuclide's half-life and, if given, a biological half-life
    (effective decay constant = physical + biological); it is only there in [from_s, until_s),
    e.g. a node that is excised, or the specimen that appears on the bench for the ex vivo count.
    """

    name: str
    position_mm: tuple[float, float, float]
    activity_mbq: float
    nuclide_name: str = "Tc-99m"
    radius_mm: float = 0.0
    biological_half_life_s: float = _INF
    from_s: float = -_INF
    until_s: float = _INF

    @property
    def nuclide(self) -> Nuclide:
        """The source's nuclide data."""
        return nuclide(self.nuclide_name)

    @property
    def decay_constant_per_s(self) -> float:
        """Effective decay constant: physical plus biological clearance."""
        bio = 0.0 if math.isinf(self.biological_half_life_s) else (
            math.log(2.0) / self.biological_half_life_s)
        return self.nuclide.decay_constant_per_s + bio

    def activity_at(self, t_s: float) -> float:
        """Activity in MBq at scenario time t_s (0 when the source is not there)."""
        if not self.from_s <= t_s < self.until_s:
            return 0.0
        return self.activity_mbq * math.exp(-self.decay_constant_per_s * t_s)


Source = PointSource


@dataclass(frozen=True, slots=True)
class ProbeModel:
    """A collimated probe: sensitivity, angular response, shielding, crystal and counter."""

    sensitivity_cps_per_mbq: float = 8000.0
    reference_distance_mm: float = 10.0
    sensitivity_nuclide: str = "Tc-99m"
    angular_fwhm_deg: float = 40.0
    leakage_fraction: float = 0.001  # side/back response relative to on-axis (99.9 % shielding)
    min_distance_mm: float = 1.0
    dead_time_s: float = 2e-6
    dead_time_kind: str = "nonparalysable"
    over_range_loss: float = 0.2  # flag OVER_RANGE when more than this share of counts is lost
    detector: str = "CdTe"
    crystal_thickness_mm: float | None = None  # None: the detector's typical value
    energy_resolution_pct: float | None = None  # FWHM at 140.5 keV
    tail_fraction: float | None = None
    threshold_kev: float = 12.0  # lower-level discriminator
    spectrum_channels: int = 256
    kev_per_channel: float = 1.0

    @property
    def crystal(self) -> Crystal:
        """The crystal with this probe's overrides of the detector's typical values."""
        base = default_crystal(self.detector)
        return Crystal(
            base.material_name,
            base.thickness_mm if self.crystal_thickness_mm is None else self.crystal_thickness_mm,
            base.resolution_pct if self.energy_resolution_pct is None
            else self.energy_resolution_pct,
            base.tail_fraction if self.tail_fraction is None else self.tail_fraction,
            base.tail_mean_pct,
        )

    def angular_response(self, theta_rad: np.ndarray | float) -> np.ndarray:
        """Relative response to a source theta_rad off axis (probe_nav.simulator.collimator)."""
        return _angular_response(theta_rad, self.angular_fwhm_deg, self.leakage_fraction)


@dataclass(frozen=True, slots=True)
class Pose:
    """Where the probe tip is and where it looks."""

    position_mm: tuple[float, float, float]
    axis: tuple[float, float, float] = (0.0, 0.0, -1.0)


@dataclass(frozen=True, slots=True)
class Tissue:
    """The medium below z = 0: attenuation relative to water and scatter build-up."""

    mu_scale_to_water: float = 1.05  # soft tissue (DOMAIN.md)
    scatter_per_mfp: float = 0.5  # scattered photons per primary per mean free path

    def mu_per_mm(self, energy_kev: float) -> float:
        """Narrow-beam linear attenuation in 1/mm."""
        return water_mu_per_mm(energy_kev) * self.mu_scale_to_water


def tissue_path_mm(probe_mm: np.ndarray, source_mm: np.ndarray) -> float:
    """Length of the straight line probe->source that lies in tissue (z < 0)."""
    return float(line_tissue_mm(np.asarray(probe_mm, float), np.asarray(source_mm, float)[None])[0])


@dataclass
class SourceGeometry:
    """Every source expanded into quadrature points (one for a point source)."""

    positions_mm: np.ndarray  # (P, 3)
    weights: np.ndarray  # (P,) share of its source's activity
    source_index: np.ndarray  # (P,)
    sources: tuple[PointSource, ...] = field(default=())

    @classmethod
    def build(cls, sources: tuple[PointSource, ...]) -> SourceGeometry:
        """Expand spheres into points; the points of a source share its activity equally."""
        pos, wts, idx = [np.zeros((0, 3))], [np.zeros(0)], [np.zeros(0, int)]
        for i, src in enumerate(sources):
            pts = fill_sphere(np.asarray(src.position_mm, float), src.radius_mm)
            pos.append(pts)
            wts.append(np.full(len(pts), 1.0 / len(pts)))
            idx.append(np.full(len(pts), i))
        return cls(np.vstack(pos), np.concatenate(wts), np.concatenate(idx), sources)

    def geometry(self, probe: ProbeModel, pose: Pose) -> tuple[np.ndarray, ...]:
        """Per point: (d_ref/d)^2, angle off the probe axis (rad), distance and tissue path (mm)."""
        tip = np.asarray(pose.position_mm, float)
        v = self.positions_mm - tip
        dist = np.linalg.norm(v, axis=1)
        cos_t = (v @ unit(pose.axis)) / np.maximum(dist, 1e-12)
        theta = np.arccos(np.clip(cos_t, -1.0, 1.0))
        d = np.maximum(dist, probe.min_distance_mm)
        inverse_square = (probe.reference_distance_mm / d) ** 2
        return inverse_square, theta, d, line_tissue_mm(tip, self.positions_mm)


def source_rate_cps(probe: ProbeModel, pose: Pose, source: PointSource, t_s: float) -> float:
    """Expected unscattered rate from one source in its nuclide's usual window, before dead time.

    For a single-line nuclide this is S A(t) (d_ref/d)^2 exp(-mu l) R(theta) exactly.
    """
    from probe_nav.simulator.rates import Background, RateModel

    model = RateModel(probe, (source,), Tissue(scatter_per_mfp=0.0), Background(),
                      source.nuclide_name)
    window = source.nuclide.window
    return float(model.rates(pose, t_s)[0] @ model.window_fractions(window.lo_kev, window.hi_kev))


def true_rate_cps(probe: ProbeModel, pose: Pose, sources: tuple[PointSource, ...],
                  background_cps: float, t_s: float) -> float:
    """Unscattered rate of every source in its usual window plus a constant background."""
    return background_cps + sum(source_rate_cps(probe, pose, src, t_s) for src in sources)
