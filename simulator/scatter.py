"""Tissue scatter seen by a collimated probe: single Compton scatter with geometry, by angle bin.

Per photon emitted isotropically by a source at s (world frame, mm; tissue is z < 0), the
expected number of photons that scatter once in tissue and then interact in the crystal is

    S = integral over tissue sites x of
        exp(-mu(E) l_in) / |x - s|^2 * n_e dsigma_KN/dOmega(E, theta)
        * exp(-mu(E') l_out) * P(E', x)                                              [1/photon]

with l_in, l_out the tissue parts of s -> x and x -> c (c the crystal centre, the probe-frame
point (0, 0, -aim_depth_mm)), theta the angle between (x - s) and (c - x), E' = E / (1 + E/m_e
(1 - cos theta)), n_e the electron density of tissue and P(E', x) the detector response (the
probability that a photon emitted isotropically at x interacts in the crystal). The 1/(4 pi) of
the flux cancels against 4 pi p(Omega_c) P: the scattered photon's direction distribution
dsigma/dOmega / sigma is taken at the direction to the crystal centre, and P already integrates
the solid angle, the collimator's acceptance and the wall leakage. The result is split into angle
bins (ANGLE_EDGES_DEG), so each bin carries a spectral row (probe_nav.simulator.scatter_rows).

Quadrature: fixed sites in the PROBE frame along rays from the tip (rings of directions, dense
within DENSE_DEG of the axis, sparse elsewhere; log-spaced distances), weight t^2 dt dOmega. The
response at each site and at N_NODES energies E'(cos theta) is precomputed once per (response,
energy); rings share (rho, z), so only rings x distances are evaluated. Per call only the
source-dependent factors are computed, at the sites that are in tissue for this pose;
log(response x Klein-Nishina) and mu(E') are interpolated linearly in cos theta between the
nodes. Near the source 1/|x - s|^2 (integrable, but no point rule gets it right) is replaced by
its mean over a ball of the site's volume centred on the site (inverse_square_ball).

Multiple scatter: a build-up factor on the single scatter per angle bin, fitted to the Monte
Carlo in tests/simulator/scatter_mc.py (docs/scatter.md gives the fit and its error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise
from typing import Protocol

import numpy as np

from probe_nav.simulator.detector import (
    CLASSICAL_ELECTRON_RADIUS_CM,
    ELECTRON_REST_KEV,
    klein_nishina_cm2,
)
from probe_nav.simulator.physics import Tissue

WATER_ELECTRONS_PER_CM3 = 3.3428e23
# 3 deg up to 60 (where E' leaves a +-10 % window for 100-600 keV lines), then 5 and 15 deg
ANGLE_EDGES_DEG: tuple[float, ...] = (*range(0, 60, 3), *range(60, 90, 5), *range(90, 181, 15))
DENSE_DEG, DENSE_STEP_DEG, SPARSE_STEP_DEG = 52.0, 6.0, 10.0
DISTANCE_RANGE_MM, N_DISTANCES_DENSE, N_DISTANCES_SPARSE = (1.0, 300.0), 40, 20
N_NODES = 17  # most response and mu(E') nodes, uniform in cos(theta) from 1 to -1 (2^k + 1)
NODE_STEP = 0.022  # largest step of E'/E between nodes; fewer nodes for low-energy lines
# Floor of log(value): float32 goes subnormal (and slow, 3-5x) below exp(-87), also after the
# 1/r^2 and weight factors; exp(-60) ~ 1e-26 per mm^3 is nothing next to any real scatter rate.
LOG_FLOOR = -60.0
_LUT_SIZE = 4097  # angle bin of cos(theta) by table: bin edges resolved to 1/2048 in cos
# Multiple/single scatter by the E' of a single scatter through theta, from the Monte Carlo
# (docs/scatter.md): median over poses ~ 0.35 x + 0.15 x^2, x = 1 - cos(theta), at 140.5 and
# 364.5 keV alike (interquartile range about x0.6-x1.6 of it).
BUILDUP_LINEAR, BUILDUP_QUADRATIC = 0.35, 0.15


def default_buildup(edges_deg: tuple[float, ...]) -> np.ndarray:
    """1 + multiple/single of each angle bin, at the bin's centre angle."""
    centre = np.radians(0.5 * (np.asarray(edges_deg[:-1], float) + np.asarray(edges_deg[1:])))
    x = 1.0 - np.cos(centre)
    return 1.0 + BUILDUP_LINEAR * x + BUILDUP_QUADRATIC * x * x


class DetectorResponse(Protocol):
    """P(a photon of energy E emitted isotropically at probe-frame (rho, z) interacts)."""

    def detection_probability(self, energy_kev: float, rho_mm: np.ndarray,
                              z_mm: np.ndarray) -> np.ndarray: ...


def compton_mu_per_mm(tissue: Tissue, energy_kev: float) -> float:
    """Klein-Nishina (incoherent) part of tissue's attenuation, 1/mm, at most the total mu."""
    mu_c = (klein_nishina_cm2(energy_kev) * WATER_ELECTRONS_PER_CM3 / 10.0
            * tissue.mu_scale_to_water)
    return min(mu_c, tissue.mu_per_mm(energy_kev))


def kn_per_mm_sr(tissue: Tissue, energy_kev: float, cos_theta: np.ndarray) -> np.ndarray:
    """n_e dsigma_KN/dOmega of tissue in 1/(mm sr) at scattering angle cos_theta."""
    ratio = 1.0 / (1.0 + energy_kev / ELECTRON_REST_KEV * (1.0 - cos_theta))
    r_e_mm = CLASSICAL_ELECTRON_RADIUS_CM * 10.0
    n_e_mm3 = WATER_ELECTRONS_PER_CM3 / 1000.0 * tissue.mu_scale_to_water
    return (n_e_mm3 * 0.5 * r_e_mm**2 * ratio**2
            * (ratio + 1.0 / ratio - (1.0 - cos_theta**2)))


def probe_frame(axis: np.ndarray) -> np.ndarray:
    """3x3 matrix whose columns are two lateral unit vectors and the unit axis."""
    a = np.asarray(axis, float) / float(np.linalg.norm(axis))
    helper = np.array([1.0, 0.0, 0.0]) if abs(a[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(helper, a)
    e1 /= np.linalg.norm(e1)
    return np.column_stack([e1, np.cross(a, e1), a])


def tissue_fraction(z_a: np.ndarray, z_b: np.ndarray) -> np.ndarray:
    """Share of the straight segment a -> b that lies in tissue (z < 0)."""
    below = -np.minimum(np.minimum(z_a, z_b), 0.0)
    span = np.abs(z_a - z_b)
    partial = np.minimum(below / np.where(span > 0, span, 1.0), 1.0)
    return np.where((z_a < 0) & (z_b < 0), 1.0, partial)


def inverse_square_ball(r: np.ndarray, r2: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Mean of 1/|y - s|^2 over a ball of the given radius whose centre is r from s.

    Integrating over spheres about s: the ball holds 4 pi (R - r) + 2 pi (2r - R + q) inside
    r < R and 2 pi (R + q) outside, q = (R^2 - r^2) / (2r) ln|(R + r) / (R - r)|; the mean is
    that over 4/3 pi R^3. It is 3/R^2 at r = 0 and tends to 1/r^2 (within 0.6 % beyond r = 6R,
    where 1/r^2 is used).
    """
    out = 1.0 / np.maximum(r2, np.float32(1e-12))
    near = r < 6.0 * radius
    if near.any():
        big = np.broadcast_to(radius, r.shape)[near].astype(float)  # float64: q cancels at r << R
        rr = np.maximum(r[near].astype(float), 1e-6 * big)
        q = (big * big - rr * rr) / (2 * rr) * np.log(np.abs((big + rr) / (big - rr)))
        inside = 4 * math.pi * np.maximum(big - rr, 0.0) + 2 * math.pi * (2 * rr - big + q)
        outside = 2 * math.pi * (big + q)
        out[near] = np.where(rr < big, inside, outside) / (4.0 / 3.0 * math.pi * big**3)
    return out


def default_nodes(energy_kev: float) -> int:
    """2^k + 1 nodes (3 to N_NODES) so that E'/E changes by at most NODE_STEP between them.

    E' spans E / (1 + 2E/m_e) to E: 7 % of E at 20 keV (5 nodes), 35 % at 140.5 keV (17)."""
    span = 1.0 - 1.0 / (1.0 + 2.0 * energy_kev / ELECTRON_REST_KEV)
    intervals = 2 ** math.ceil(math.log2(max(span / NODE_STEP, 2.0)))
    return min(intervals, N_NODES - 1) + 1


@dataclass(frozen=True)
class Sites:
    """Quadrature sites in the probe frame, grouped into rings x distances for the response."""

    points_mm: np.ndarray  # (m, 3)
    weights_mm3: np.ndarray  # (m,) t^2 dt dOmega
    cell_radius_mm: np.ndarray  # (m,) radius of the ball with the site's volume
    cell: np.ndarray  # (m,) index into the (ring, distance) cells whose response is computed
    cell_rho_mm: np.ndarray
    cell_z_mm: np.ndarray


def _rings() -> list[tuple[float, float, float]]:
    """(theta_lo, theta_hi, step) of the rings of directions, in radians."""
    dense = np.arange(0.0, DENSE_DEG + 1e-9, DENSE_STEP_DEG)
    n_sparse = round((180.0 - DENSE_DEG) / SPARSE_STEP_DEG)
    sparse = np.linspace(DENSE_DEG, 180.0, n_sparse + 1)
    edges = np.radians(np.concatenate([dense, sparse[1:]]))
    return [(lo, hi, hi - lo) for lo, hi in pairwise(edges)]


def _distance_grid(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Log-spaced cell midpoints (geometric means) and weights integral t^2 dt."""
    edges = np.geomspace(*DISTANCE_RANGE_MM, n + 1)
    return np.sqrt(edges[:-1] * edges[1:]), (edges[1:] ** 3 - edges[:-1] ** 3) / 3.0


def build_sites() -> Sites:
    """The fixed probe-frame quadrature (see the module docstring)."""
    points: list[np.ndarray] = []
    weights: list[np.ndarray] = []
    cells: list[np.ndarray] = []
    rho_c: list[np.ndarray] = []
    z_c: list[np.ndarray] = []
    n_cells = 0
    for lo, hi, step in _rings():
        dense = hi <= math.radians(DENSE_DEG) + 1e-9
        t_mid, t_w = _distance_grid(N_DISTANCES_DENSE if dense else N_DISTANCES_SPARSE)
        theta = 0.5 * (lo + hi)
        n_phi = max(4, round(2 * math.pi * math.sin(theta) / step))
        omega = 2 * math.pi * (math.cos(lo) - math.cos(hi)) / n_phi
        phi = (np.arange(n_phi) + 0.5 * (len(cells) % 2)) * 2 * math.pi / n_phi
        d = np.column_stack([math.sin(theta) * np.cos(phi), math.sin(theta) * np.sin(phi),
                             np.full(n_phi, math.cos(theta))])
        points.append((d[:, None, :] * t_mid[None, :, None]).reshape(-1, 3))
        weights.append(np.tile(t_w * omega, n_phi))
        cells.append(np.tile(np.arange(len(t_mid)) + n_cells, n_phi))
        n_cells += len(t_mid)
        rho_c.append(t_mid * math.sin(theta))
        z_c.append(t_mid * math.cos(theta))
    w = np.concatenate(weights)
    radius = (3.0 * w / (4.0 * math.pi)) ** (1.0 / 3.0)
    return Sites(np.vstack(points), w, radius, np.concatenate(cells),
                 np.concatenate(rho_c), np.concatenate(z_c))


@dataclass(frozen=True)
class _PoseSites:
    """The quadrature sites in tissue for one pose, with what does not depend on the source."""

    x: np.ndarray  # (m', 3) world mm, float32
    to_aim: np.ndarray  # (m', 3) unit vectors towards the crystal centre
    l_out: np.ndarray  # (m',) tissue path to the crystal centre, mm
    node_base: np.ndarray  # (m',) idx * n_nodes, into the flat node tables
    radius: np.ndarray
    weight: np.ndarray


class ScatterModel:
    """Scatter of one photon line reaching one probe, per emitted photon, by angle bin.

    Build once per (response, energy, tissue) (the setup evaluates the response at every site
    cell and node energy); call `single_scatter` or `rates` every frame.
    """

    def __init__(self, response: DetectorResponse, energy_kev: float, tissue: Tissue,
                 aim_depth_mm: float, edges_deg: tuple[float, ...] = ANGLE_EDGES_DEG,
                 buildup: tuple[float, ...] | None = None, n_nodes: int | None = None) -> None:
        self.energy_kev, self.tissue, self.aim_depth_mm = energy_kev, tissue, aim_depth_mm
        self.edges_deg = tuple(edges_deg)
        self.n_bins = len(self.edges_deg) - 1
        self.sites = build_sites()
        self.mu_per_mm = tissue.mu_per_mm(energy_kev)
        n_nodes = default_nodes(energy_kev) if n_nodes is None else n_nodes
        if n_nodes < 3 or (_LUT_SIZE - 1) % (n_nodes - 1):
            raise ValueError(f"n_nodes must be 2^k + 1 (3 to {_LUT_SIZE}), got {n_nodes}")
        self.n_nodes, self._lut_per_node = n_nodes, (_LUT_SIZE - 1) // (n_nodes - 1)
        self.node_cos = np.linspace(1.0, -1.0, n_nodes)
        node_kev = energy_kev / (1.0 + energy_kev / ELECTRON_REST_KEV * (1.0 - self.node_cos))
        self._node_mu = np.array([tissue.mu_per_mm(float(e)) for e in node_kev])
        per_cell = np.array([response.detection_probability(
            float(e), self.sites.cell_rho_mm, self.sites.cell_z_mm) for e in node_kev])
        per_cell *= kn_per_mm_sr(tissue, energy_kev, self.node_cos)[:, None]
        with np.errstate(divide="ignore"):
            log_cell = np.maximum(np.log(per_cell), LOG_FLOOR)
        # log(response x KN): interpolated linearly in cos(theta), i.e. exactly for the
        # exponential wall transmission, and it joins the attenuation in one exp per pair
        table = np.ascontiguousarray(log_cell[:, self.sites.cell].T)  # (m, nodes)
        self._log_resp_kn = table.ravel().astype(np.float32)
        slope = np.zeros_like(table)
        slope[:, :-1] = np.diff(table, axis=1)
        self._log_resp_kn_slope = slope.ravel().astype(np.float32)
        self._node_mu_slope = np.append(np.diff(self._node_mu), 0.0).astype(np.float32)
        self._node_mu = self._node_mu.astype(np.float32)
        self._radius32 = self.sites.cell_radius_mm.astype(np.float32)
        self._weights32 = self.sites.weights_mm3.astype(np.float32)
        aim = np.array([0.0, 0.0, -aim_depth_mm])
        to_aim = aim - self.sites.points_mm
        self._out_mm = np.linalg.norm(to_aim, axis=1)
        self._to_aim = to_aim / self._out_mm[:, None]
        lut_cos = 1.0 - (np.arange(_LUT_SIZE) + 0.5) * (2.0 / (_LUT_SIZE - 1))
        lut_cos[-1] = -1.0
        self._bin_lut = np.searchsorted(-np.cos(np.radians(self.edges_deg[1:-1])),
                                        -np.clip(lut_cos, -1.0, 1.0), side="right")
        self.buildup = (default_buildup(self.edges_deg) if buildup is None
                        else np.asarray(buildup, float))
        if self.buildup.shape != (self.n_bins,):
            raise ValueError(f"buildup needs {self.n_bins} values, one per angle bin")

    def single_scatter(self, tip_mm: np.ndarray, axis: np.ndarray,
                       sources_mm: np.ndarray) -> np.ndarray:
        """Detected once-scattered photons per emitted photon, shape (n_sources, n_bins)."""
        sources = np.atleast_2d(np.asarray(sources_mm, float))
        out = np.zeros((len(sources), self.n_bins))
        frame = probe_frame(np.asarray(axis, float))
        tip = np.asarray(tip_mm, float)
        world = tip + self.sites.points_mm @ frame.T
        idx = np.flatnonzero(world[:, 2] < 0.0)
        if idx.size == 0 or self.tissue.mu_scale_to_water == 0:
            return out
        aim_z = tip[2] - self.aim_depth_mm * frame[2, 2]
        x = world[idx]
        l_out = self._out_mm[idx] * tissue_fraction(x[:, 2], np.full(idx.size, aim_z))
        sites = _PoseSites(x.astype(np.float32),
                           (self._to_aim[idx] @ frame.T).astype(np.float32),
                           l_out.astype(np.float32), idx * self.n_nodes,
                           self._radius32[idx], self._weights32[idx])
        # One source at a time: the pair arrays stay small (< 128 kB), so malloc reuses them;
        # (sources x sites) arrays were mmap'ed afresh every call and ran 2-3x slower.
        for j, source in enumerate(sources):
            value, fine = self._one_source(sites, source)
            out[j] = np.bincount(self._bin_lut[fine], value, minlength=self.n_bins)
        return out

    def _one_source(self, sites: _PoseSites, source: np.ndarray) -> tuple[np.ndarray, ...]:
        """Per site: the integrand times the site's weight, and its fine cos(theta) index."""
        x = sites.x
        vx, vy, vz = (x[:, k] - np.float32(source[k]) for k in range(3))
        r2 = vx * vx
        r2 += vy * vy
        r2 += vz * vz
        r = np.sqrt(r2)
        cos_t = vx * sites.to_aim[:, 0]
        cos_t += vy * sites.to_aim[:, 1]
        cos_t += vz * sites.to_aim[:, 2]
        cos_t /= np.maximum(r, np.float32(1e-6))
        # one fine index serves the angle bin (LUT) and the node interval of the interpolation
        last = self.n_nodes - 1
        pos = (np.float32(1.0) - cos_t) * np.float32(0.5 * last)
        np.clip(pos, 0.0, np.float32(last), out=pos)
        fine = (pos * np.float32(self._lut_per_node)).astype(np.intp)
        i = np.minimum(fine // self._lut_per_node, last - 1)
        f = pos - i
        # log(response x n_e dsigma/dOmega) and mu(E') at the nodes, linear in cos(theta)
        base = i + sites.node_base
        log_value = self._log_resp_kn_slope[base]
        log_value *= f
        log_value += self._log_resp_kn[base]
        mu_out = self._node_mu_slope[i]
        mu_out *= f
        mu_out += self._node_mu[i]
        mu_out *= sites.l_out
        log_value -= mu_out
        # x is in tissue, so s -> x lies wholly in tissue when s does (half-space is convex)
        l_in = r if source[2] < 0 else r * (-x[:, 2] / (np.float32(source[2]) - x[:, 2]))
        log_value -= l_in * np.float32(self.mu_per_mm)
        np.maximum(log_value, np.float32(LOG_FLOOR), out=log_value)
        value = np.exp(log_value)
        value *= inverse_square_ball(r, r2, sites.radius)
        value *= sites.weight
        return value, fine

    def rates(self, tip_mm: np.ndarray, axis: np.ndarray, sources_mm: np.ndarray) -> np.ndarray:
        """Single plus (approximate) multiple scatter per emitted photon, (n_sources, n_bins)."""
        return self.single_scatter(tip_mm, axis, sources_mm) * self.buildup
