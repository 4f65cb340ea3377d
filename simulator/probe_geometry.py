"""A finite crystal behind a collimator bore: the probe's response to a photon from any point.

Probe frame: origin at the centre of the tip face, +z along the axis out of the tip (towards what
the probe looks at), rho the distance from the axis; millimetres. The crystal is a cylinder of
radius a = crystal_diameter/2 and thickness t whose front face sits `crystal_setback_mm` (h)
behind the tip; in front of it an open bore of radius b = bore_diameter/2 <= a runs to the tip.
A shield of one metal (tungsten or lead) fills the rest of a cylinder of outer radius a + wall
from the tip back to `back_shield_mm` behind the crystal: the collimator wall, the side shield
around the crystal and the back shield. Behind that is the handle (not modelled: transparent).

For a photon of energy E emitted isotropically at a point S, the probability that it interacts in
the crystal is an integral over the directions that meet the crystal; each such ray enters the
(convex) crystal through exactly one surface element facing S, so

    R(E, S) = sum_j  dOmega_j / (4 pi) (1 - exp(-mu_c c_j)) exp(-mu_w L_j)

over surface elements j (front and back faces, side) with dOmega_j = dA_j cos(gamma_j) / r_j^2
the solid angle of element j seen from S (0 when it faces away), c_j the chord of the ray through
the crystal and L_j its path inside the shield (both exact: intersections of the line with
cylinders and slabs), mu_c the crystal's and mu_w the shield's attenuation at E. Solid angle, the
collimator's penumbra, obliquity, wall penetration by energy and side and back leakage all follow
from that one formula, at every energy (a thin-layer sum would fail at 20-35 keV, where CdTe
stops photons in its first 0.1 mm).

The path lengths do not depend on the energy, so they are computed once per geometry on a grid of
source positions (rho, z); a table for one energy is then one weighted sum (~6 ms) and the live
simulator interpolates it (bilinear in rho and z, on log Q with Q = R * d^2 and d the distance to
the crystal's centre: smooth in the field of view, and exponential across the penumbra). Beyond
the grid (|z| or rho > GRID_EDGE_MM) Q is taken at the grid's edge along the same direction. A
point inside the probe body is a source touching the tip: it is moved to the tip plane.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from probe_nav.calibration.shield_attenuation import shield_materials, shield_mu_per_mm
from probe_nav.simulator.detector import material

GRID_EDGE_MM = 400.0


def _nodes(steps: tuple[tuple[float, float], ...]) -> np.ndarray:
    """Grid nodes from (up to, step) pairs starting at 0: fine near the probe, coarse far away."""
    nodes, start = [0.0], 0.0
    for stop, step in steps:
        nodes.extend(np.arange(start + step, stop + step / 2, step))
        start = stop
    return np.asarray(nodes)


_STEPS = ((12.0, 0.5), (24.0, 1.0), (50.0, 2.0), (100.0, 5.0), (200.0, 10.0), (GRID_EDGE_MM, 25.0))
RHO_NODES_MM = _nodes(_STEPS)
_HALF = _nodes(_STEPS)
Z_NODES_MM = np.concatenate([-_HALF[:0:-1], _HALF])


@dataclass(frozen=True, slots=True)
class ProbeGeometry:
    """The parts of a probe head that decide what it sees (millimetres)."""

    crystal_diameter_mm: float = 10.0
    crystal_thickness_mm: float = 2.0
    crystal_setback_mm: float = 10.0
    crystal_material: str = "CdTe"
    bore_diameter_mm: float | None = None  # None: the crystal's diameter
    shield_material: str = "W"
    wall_mm: float = 2.0  # collimator wall and side shield
    back_shield_mm: float = 5.0

    def __post_init__(self) -> None:
        for name in ("crystal_diameter_mm", "crystal_thickness_mm"):
            if not getattr(self, name) > 0:
                raise ValueError(f"probe.{name} must be positive, got {getattr(self, name)}")
        for name in ("crystal_setback_mm", "wall_mm", "back_shield_mm"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"probe.{name} must be zero or more, got {getattr(self, name)}")
        if self.bore_diameter_mm is not None and not (
                0 < self.bore_diameter_mm <= self.crystal_diameter_mm):
            raise ValueError("probe.bore_diameter_mm must be positive and at most the crystal's "
                             f"diameter {self.crystal_diameter_mm}, got {self.bore_diameter_mm}")
        if self.shield_material not in shield_materials():
            raise ValueError(f"probe.shield_material must be one of "
                             f"{', '.join(shield_materials())}, got {self.shield_material!r}")
        material(self.crystal_material)

    @property
    def bore_radius_mm(self) -> float:
        """Radius of the open bore in front of the crystal."""
        d = self.crystal_diameter_mm if self.bore_diameter_mm is None else self.bore_diameter_mm
        return d / 2.0

    @property
    def outer_radius_mm(self) -> float:
        """Radius of the shielded head: the crystal's plus the wall (a bore narrower than the
        crystal leaves a thicker collimator in front of it)."""
        return self.crystal_diameter_mm / 2.0 + self.wall_mm

    @property
    def back_z_mm(self) -> float:
        """Probe-frame z of the back of the back shield."""
        return -(self.crystal_setback_mm + self.crystal_thickness_mm + self.back_shield_mm)

    @property
    def crystal_centre_z_mm(self) -> float:
        """Probe-frame z of the crystal's centre."""
        return -(self.crystal_setback_mm + self.crystal_thickness_mm / 2.0)

    def inside_head(self, rho_mm: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
        """True where a point lies inside the probe head (no source can be there)."""
        return (rho_mm < self.outer_radius_mm) & (z_mm < 0.0) & (z_mm > self.back_z_mm)


def crystal_surface(geometry: ProbeGeometry, n_rings: int = 10, n_azimuth: int = 12,
                    n_layers: int = 10, n_back_rings: int = 4,
                    n_back_azimuth: int = 6) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Elements of the crystal's surface on its half y >= 0 (the other half mirrors it for a
    source in the plane y = 0): centres (N, 3), outward normals (N, 3) and areas (N,), each area
    doubled for its mirror image. Front and back faces in equal-area rings (dense at the rim,
    where the bore's shadow falls; the back face, seen only through the back shield, coarser);
    the side in layers spaced as cos (dense at both edges, where a ray entering the side soon
    leaves by a face and the chord changes fast)."""
    a, t, h = (geometry.crystal_diameter_mm / 2.0, geometry.crystal_thickness_mm,
               geometry.crystal_setback_mm)
    def disc(rings: int, azimuths: int) -> tuple[np.ndarray, np.ndarray, float]:
        phi = math.pi * (np.arange(azimuths) + 0.5) / azimuths
        r = a * np.sqrt((np.arange(rings) + 0.5) / rings)
        rr, pp = (m.ravel() for m in np.meshgrid(r, phi, indexing="ij"))
        return rr, pp, math.pi * a * a / (rings * azimuths)

    rr, pp, face_area = disc(n_rings, n_azimuth)
    rb, pb, back_area = disc(n_back_rings, n_back_azimuth)
    phi = math.pi * (np.arange(n_azimuth) + 0.5) / n_azimuth
    edges = t * (1.0 - np.cos(math.pi * np.arange(n_layers + 1) / n_layers)) / 2.0
    zz, ps = (m.ravel() for m in np.meshgrid(-h - (edges[1:] + edges[:-1]) / 2, phi,
                                             indexing="ij"))
    side_area = np.repeat(2.0 * math.pi * a * np.diff(edges) / n_azimuth, n_azimuth)
    centres = np.vstack([
        np.column_stack([rr * np.cos(pp), rr * np.sin(pp), np.full_like(rr, -h)]),
        np.column_stack([rb * np.cos(pb), rb * np.sin(pb), np.full_like(rb, -h - t)]),
        np.column_stack([a * np.cos(ps), a * np.sin(ps), zz]),
    ])
    normals = np.vstack([
        np.tile([0.0, 0.0, 1.0], (len(rr), 1)),
        np.tile([0.0, 0.0, -1.0], (len(rb), 1)),
        np.column_stack([np.cos(ps), np.sin(ps), np.zeros_like(ps)]),
    ])
    areas = np.concatenate([np.full(len(rr), face_area), np.full(len(rb), back_area), side_area])
    return centres, normals, areas


def _cylinder_interval(px, py, dx, dy, radius):
    """Segment parameters u where the point P + u D is within `radius` of the axis."""
    a = dx * dx + dy * dy
    b = 2.0 * (px * dx + py * dy)
    c = px * px + py * py - radius * radius
    disc = b * b - 4.0 * a * c
    safe_a = np.where(a > 1e-12, a, 1.0)
    root = np.sqrt(np.maximum(disc, 0.0))
    lo = np.where(a > 1e-12, (-b - root) / (2.0 * safe_a), np.where(c < 0, -np.inf, np.inf))
    hi = np.where(a > 1e-12, (-b + root) / (2.0 * safe_a), np.where(c < 0, np.inf, -np.inf))
    empty = (a > 1e-12) & (disc <= 0.0)
    return np.where(empty, np.inf, lo), np.where(empty, -np.inf, hi)


def _slab_interval(pz, dz, z_lo, z_hi):
    """Segment parameters u where z_lo <= Pz + u Dz <= z_hi."""
    moving = np.abs(dz) > 1e-12
    safe = np.where(moving, dz, 1.0)
    u1, u2 = (z_lo - pz) / safe, (z_hi - pz) / safe
    inside = (pz >= z_lo) & (pz <= z_hi)
    lo = np.where(moving, np.minimum(u1, u2), np.where(inside, -np.inf, np.inf))
    hi = np.where(moving, np.maximum(u1, u2), np.where(inside, np.inf, -np.inf))
    return lo, hi


def _overlap(*intervals, lo: float = 0.0, hi: float = 1.0):
    """Length of the intersection of intervals with [lo, hi]."""
    low = np.full_like(intervals[0][0], lo)
    high = np.full_like(intervals[0][1], hi)
    for a, b in intervals:
        low, high = np.maximum(low, a), np.minimum(high, b)
    return np.maximum(high - low, 0.0)


def ray_paths(geometry: ProbeGeometry, surface: tuple[np.ndarray, np.ndarray, np.ndarray],
              sources: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every (source, surface element): the solid angle the element subtends over 4 pi
    (0 when it faces away), the chord of that ray through the crystal and its path inside the
    shield between the source and the crystal. sources (M, 3) -> three (M, N) arrays.

    Every ray from the source that meets the (convex) crystal enters it through exactly one
    element facing the source, so the sum over elements of weight * (1 - exp(-mu_c chord)) *
    exp(-mu_w shield) is the interaction probability, exact up to the surface's discretisation.
    """
    g = geometry
    centres, normals, areas = surface
    px, py, pz = (centres[None, :, i] for i in range(3))
    d = sources[:, None, :] - centres[None, :, :]
    dx, dy, dz = d[..., 0], d[..., 1], d[..., 2]
    length = np.maximum(np.sqrt(dx * dx + dy * dy + dz * dz), 1e-9)
    facing = np.einsum("mnk,nk->mn", d, normals) / length
    weight = areas[None, :] * np.maximum(facing, 0.0) / (4.0 * math.pi * length**2)
    h, t = g.crystal_setback_mm, g.crystal_thickness_mm
    in_crystal = (_cylinder_interval(px, py, dx, dy, g.crystal_diameter_mm / 2.0),
                  _slab_interval(pz, dz, -h - t, -h))
    chord = _overlap(*in_crystal, lo=-np.inf, hi=np.inf) * length
    outer = _overlap(_cylinder_interval(px, py, dx, dy, g.outer_radius_mm),
                     _slab_interval(pz, dz, g.back_z_mm, 0.0))
    bore = _overlap(_cylinder_interval(px, py, dx, dy, g.bore_radius_mm),
                    _slab_interval(pz, dz, -h, 0.0))
    shield = np.maximum(outer - bore - _overlap(*in_crystal), 0.0) * length
    return weight, chord, shield


@dataclass(frozen=True)
class _Paths:
    """Energy-independent part of the response on the grid: per (node, cell)."""

    weight: np.ndarray  # solid angle of the surface element / 4 pi, float32
    crystal_mm: np.ndarray  # chord through the crystal
    shield_mm: np.ndarray
    q_scale: np.ndarray  # per node: squared distance to the crystal's centre


@lru_cache(maxsize=4)
def _grid_paths(geometry: ProbeGeometry) -> _Paths:
    surface = crystal_surface(geometry)
    rho, z = np.meshgrid(RHO_NODES_MM, Z_NODES_MM, indexing="ij")
    rho, z = rho.ravel(), z.ravel()
    z = np.where(geometry.inside_head(rho, z), 0.0, z)
    sources = np.column_stack([rho, np.zeros_like(rho), z])
    weight, crystal_mm, shield_mm = [], [], []
    for chunk in np.array_split(np.arange(len(rho)), max(1, len(rho) // 400)):
        w, s_c, s_w = ray_paths(geometry, surface, sources[chunk])
        weight.append(w.astype(np.float32))
        crystal_mm.append(s_c.astype(np.float32))
        shield_mm.append(s_w.astype(np.float32))
    q_scale = rho**2 + (z - geometry.crystal_centre_z_mm) ** 2
    return _Paths(np.vstack(weight), np.vstack(crystal_mm), np.vstack(shield_mm), q_scale)


class ResponseTable:
    """R(E, rho, z) for one geometry and one photon energy, interpolated from the grid."""

    def __init__(self, geometry: ProbeGeometry, energy_kev: float) -> None:
        self.geometry, self.energy_kev = geometry, energy_kev
        paths = _grid_paths(geometry)
        mu_c = material(geometry.crystal_material).mu_per_mm(energy_kev)
        mu_w = shield_mu_per_mm(geometry.shield_material, energy_kev)
        hit = -np.expm1(-mu_c * paths.crystal_mm) * np.exp(-mu_w * paths.shield_mm)
        r = (paths.weight * hit).sum(axis=1, dtype=np.float64)
        # log(Q): across the bore's penumbra and into the shield's floor Q falls by decades
        # within a millimetre or two, where linear interpolation would be off by a factor.
        self._log_q = np.log(np.maximum(r * paths.q_scale, 1e-300)).reshape(
            len(RHO_NODES_MM), len(Z_NODES_MM))

    def detection_probability(self, energy_kev: float, rho_mm: np.ndarray,
                              z_mm: np.ndarray) -> np.ndarray:
        """Probability that a photon emitted isotropically at (rho, z) interacts in the crystal.

        `energy_kev` must be this table's energy (the argument keeps the signature of the
        response protocol that the scatter model uses).
        """
        if abs(energy_kev - self.energy_kev) > 0.006:  # tables are cached per 0.01 keV
            raise ValueError(f"this table is for {self.energy_kev} keV, not {energy_kev} keV")
        return self(np.asarray(rho_mm, float), np.asarray(z_mm, float))

    def __call__(self, rho_mm: np.ndarray, z_mm: np.ndarray) -> np.ndarray:
        """R at probe-frame points (rho, z); arrays of any matching shape."""
        g = self.geometry
        rho = np.abs(np.asarray(rho_mm, float))
        z = np.asarray(z_mm, float)
        z = np.where(g.inside_head(rho, z), 0.0, z)
        zc = g.crystal_centre_z_mm
        dist2 = rho**2 + (z - zc) ** 2
        # Beyond the grid: pull the point back to the grid's edge along the ray from the crystal.
        over = np.maximum(np.maximum(rho, np.abs(z - zc) + abs(zc)) / GRID_EDGE_MM, 1.0)
        rho_g, z_g = rho / over, zc + (z - zc) / over
        q = np.exp(_bilinear(self._log_q, RHO_NODES_MM, Z_NODES_MM, rho_g, z_g))
        return q / np.maximum(dist2, 1e-12)


def _bilinear(table: np.ndarray, xs: np.ndarray, ys: np.ndarray, x: np.ndarray,
              y: np.ndarray) -> np.ndarray:
    """Bilinear interpolation on a rectilinear grid; points outside are clamped to it."""
    x = np.clip(x, xs[0], xs[-1])
    y = np.clip(y, ys[0], ys[-1])
    i = np.clip(np.searchsorted(xs, x, side="right") - 1, 0, len(xs) - 2)
    j = np.clip(np.searchsorted(ys, y, side="right") - 1, 0, len(ys) - 2)
    fx = (x - xs[i]) / (xs[i + 1] - xs[i])
    fy = (y - ys[j]) / (ys[j + 1] - ys[j])
    return ((1 - fx) * (1 - fy) * table[i, j] + fx * (1 - fy) * table[i + 1, j]
            + (1 - fx) * fy * table[i, j + 1] + fx * fy * table[i + 1, j + 1])


@lru_cache(maxsize=2048)
def response_table(geometry: ProbeGeometry, energy_kev: float) -> ResponseTable:
    """The cached response table of a geometry at one energy (keV, rounded to 0.01)."""
    return ResponseTable(geometry, round(float(energy_kev), 2))


@dataclass(frozen=True, slots=True)
class ProbeResponse:
    """The response of one head at any energy (tables built on first use, cached)."""

    geometry: ProbeGeometry

    def detection_probability(self, energy_kev: float, rho_mm: np.ndarray,
                              z_mm: np.ndarray) -> np.ndarray:
        """Probability that a photon emitted isotropically at (rho, z) interacts in the crystal."""
        return response_table(self.geometry, energy_kev)(rho_mm, z_mm)


def to_probe_frame(tip_mm: np.ndarray, axis: np.ndarray,
                   points_mm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points (N, 3) -> (rho, z) in the frame of a probe at tip_mm looking along axis."""
    v = np.asarray(points_mm, float) - np.asarray(tip_mm, float)
    w = np.asarray(axis, float) / np.linalg.norm(axis)
    z = v @ w
    rho = np.sqrt(np.maximum(np.einsum("ij,ij->i", v, v) - z * z, 0.0))
    return rho, z
