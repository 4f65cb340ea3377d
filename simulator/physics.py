"""Count-rate physics of a collimated probe over tissue: sources that decay, a finite crystal
behind its collimator, tissue attenuation and scatter by photon energy, and background.

Geometry: millimetres; the skin is the plane z = 0 and tissue fills z < 0 (anything above is
air). The probe's tip is the centre of its front face, with an axis (the unit vector it looks
along). What the probe sees of a photon line (E, y) of a source of activity A(t) at S is

    I   = k A(t) y R(E, S) exp(-mu(E) l)                                           (primary)

with R the probability that a photon emitted at S interacts in the crystal
(probe_nav.simulator.probe_geometry: solid angle of the crystal through the collimator bore,
wall and shield penetration by energy, crystal efficiency along the ray), l the tissue part of
the line of sight and mu the narrow-beam attenuation of water (probe_nav.calibration.nuclides)
times the tissue factor. k is 1: sensitivity follows from the geometry. A probe may instead be
given a measured `sensitivity_cps_per_mbq` (NEMA NU 3: cps per MBq of the reference nuclide in
its usual window, point source on the axis at the reference distance in air); k then scales the
geometry's figure to it (a crystal with poorer charge collection than the model's, say).
Tissue scatter is probe_nav.simulator.scatter's single-scatter model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from probe_nav.calibration.nuclides import Nuclide, nuclide, water_mu_per_mm
from probe_nav.simulator.detector import Crystal, default_crystal
from probe_nav.simulator.geometry import fill_sphere, line_tissue_mm
from probe_nav.simulator.probe_geometry import (
    ProbeGeometry,
    ResponseTable,
    response_table,
    to_probe_frame,
)

_INF = math.inf


@dataclass(frozen=True, slots=True)
class PointSource:
    """A source: a point (radius 0) or a uniform sphere, with its activity at scenario start.

    The activity decays with the nuclide's half-life and, if given, a biological half-life
    (effective decay constant = physical + biological) or an n-component biological clearance
    (`clearance`: (share of activity_mbq, biological half-life in s) per component, shares
    summing to 1, at scenario start); it is only there in [from_s, until_s), e.g. a node that is
    excised, or the specimen that appears on the bench for the ex vivo count.
    """

    name: str
    position_mm: tuple[float, float, float]
    activity_mbq: float
    nuclide_name: str = "Tc-99m"
    radius_mm: float = 0.0
    biological_half_life_s: float = _INF
    from_s: float = -_INF
    until_s: float = _INF
    clearance: tuple[tuple[float, float], ...] = ()  # (share at t = 0, T_bio s); () = mono

    def __post_init__(self) -> None:
        if self.clearance and not math.isinf(self.biological_half_life_s):
            raise ValueError("a source has either biological_half_life_s or clearance, not both")

    @property
    def nuclide(self) -> Nuclide:
        """The source's nuclide data."""
        return nuclide(self.nuclide_name)

    @property
    def decay_constant_per_s(self) -> float:
        """Effective decay constant: physical plus mono-exponential biological clearance (a
        multi-component `clearance` is not in it: activity_at applies that)."""
        bio = 0.0 if math.isinf(self.biological_half_life_s) else (
            math.log(2.0) / self.biological_half_life_s)
        return self.nuclide.decay_constant_per_s + bio

    def activity_at(self, t_s: float) -> float:
        """Activity in MBq at scenario time t_s (0 when the source is not there)."""
        if not self.from_s <= t_s < self.until_s:
            return 0.0
        decayed = self.activity_mbq * math.exp(-self.decay_constant_per_s * t_s)
        if not self.clearance:
            return decayed
        return decayed * biological_retention(self.clearance, t_s)


def biological_retention(clearance: tuple[tuple[float, float], ...], t_s: float) -> float:
    """sum_k f_k exp(-ln 2 t / T_bio,k): the biologically retained share at t_s of what the
    components (share f_k, biological half-life T_bio,k in s) held at t = 0."""
    return math.fsum(share * math.exp(-math.log(2.0) * t_s / half_life_s)
                     for share, half_life_s in clearance)


Source = PointSource


@dataclass(frozen=True, slots=True)
class ProbeModel:
    """A collimated probe: crystal, collimator and shield geometry, counter and spectrum.

    The defaults are the "cdte-14" preset (probe_nav.simulator.probe_presets): a 10 mm x 5 mm
    CdTe crystal 15 mm behind the tip of a 14 mm tungsten-shielded head.
    """

    crystal_diameter_mm: float = 10.0
    crystal_setback_mm: float = 15.0
    bore_diameter_mm: float | None = None  # None: the crystal's diameter
    shield_material: str = "W"
    wall_mm: float = 2.0
    back_shield_mm: float = 5.0
    sensitivity_cps_per_mbq: float | None = None  # None: from the geometry (k = 1)
    reference_distance_mm: float = 10.0
    sensitivity_nuclide: str = "Tc-99m"
    dead_time_s: float = 2e-6
    dead_time_kind: str = "nonparalysable"
    over_range_loss: float = 0.2  # flag OVER_RANGE when more than this share of counts is lost
    detector: str = "CdTe"
    crystal_thickness_mm: float | None = 5.0  # None: the detector's typical value
    energy_resolution_pct: float | None = None  # FWHM at 140.5 keV
    tail_fraction: float | None = None
    threshold_kev: float = 12.0  # lower-level discriminator
    spectrum_channels: int = 256
    kev_per_channel: float = 1.0

    def __post_init__(self) -> None:
        self.geometry  # noqa: B018 - building it checks the head's dimensions and materials

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

    @property
    def geometry(self) -> ProbeGeometry:
        """The head's geometry: what decides the response to a photon from any point."""
        crystal = self.crystal
        return ProbeGeometry(self.crystal_diameter_mm, crystal.thickness_mm,
                             self.crystal_setback_mm, crystal.material_name,
                             self.bore_diameter_mm, self.shield_material, self.wall_mm,
                             self.back_shield_mm)

    def response(self, energy_kev: float) -> ResponseTable:
        """R(E, rho, z): probability that a photon from a probe-frame point interacts."""
        return response_table(self.geometry, energy_kev)


@dataclass(frozen=True, slots=True)
class Pose:
    """Where the probe tip is and where it looks."""

    position_mm: tuple[float, float, float]
    axis: tuple[float, float, float] = (0.0, 0.0, -1.0)


@dataclass(frozen=True, slots=True)
class Tissue:
    """The medium below z = 0: attenuation relative to water and scatter build-up."""

    mu_scale_to_water: float = 1.05  # soft tissue (DOMAIN.md)
    scatter: bool = True  # Compton scatter in tissue (probe_nav.simulator.scatter)

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

    def geometry(self, pose: Pose) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per point: (rho, z) in the probe's frame and the tissue path of the line of sight."""
        tip = np.asarray(pose.position_mm, float)
        rho, z = to_probe_frame(tip, np.asarray(pose.axis, float), self.positions_mm)
        return rho, z, line_tissue_mm(tip, self.positions_mm)


def source_rate_cps(probe: ProbeModel, pose: Pose, source: PointSource, t_s: float) -> float:
    """Expected unscattered rate from one source in its nuclide's usual window, before dead time.

    For a single-line nuclide this is k A(t) y R(E, S) exp(-mu l) times the line's share in
    the window.
    """
    from probe_nav.simulator.rates import Background, RateModel

    model = RateModel(probe, (source,), Tissue(scatter=False), Background(),
                      source.nuclide_name)
    window = source.nuclide.window
    return float(model.rates(pose, t_s)[0] @ model.window_fractions(window.lo_kev, window.hi_kev))


def true_rate_cps(probe: ProbeModel, pose: Pose, sources: tuple[PointSource, ...],
                  background_cps: float, t_s: float) -> float:
    """Unscattered rate of every source in its usual window plus a constant background."""
    return background_cps + sum(source_rate_cps(probe, pose, src, t_s) for src in sources)
