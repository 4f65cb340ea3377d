"""Photon-transport Monte Carlo in a water-like half-space: the oracle for simulator/scatter.py.

Not part of the product, and shares no code with the model beyond physical constants, Tissue's
attenuation and the detector response object. Histories (vectorised numpy, seeded):
isotropic emission at the source (optionally half of it aimed in a cone at the probe, with
importance weights); a photon in air travels straight (into tissue if it heads down);
in tissue (z < 0) free paths are exponential with mu(E); every interaction is a Compton scatter
with the photon's weight multiplied by mu_C/mu (implicit capture: photoelectric + coherent are
absorption), the angle sampled exactly from Klein-Nishina by rejection; a photon leaving tissue
is lost. Histories stop when E falls below e_min_kev (the caller's scores vanish there) or after
MAX_ORDER scatters.

Scoring (`score`), for each probe pose, by a next-event (point-detector) estimator at every
Compton site x: w mu_C/mu * 4 pi p(theta_c) * exp(-mu(E') l_out) * P(E', x), with theta_c the
angle to the crystal centre (probe frame (0, 0, -aim_depth)), p = dsigma/dOmega / sigma and
P = response.detection_probability. The transport does not depend on the probe, so one set of
histories per source serves every pose. The response is evaluated at E' rounded to 0.25 keV.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from probe_nav.simulator.detector import CLASSICAL_ELECTRON_RADIUS_CM, ELECTRON_REST_KEV
from probe_nav.simulator.physics import Tissue

ELECTRONS_PER_CM3 = 3.3428e23
MAX_ORDER = 30
ENERGY_STEP_KEV = 0.25


def dsigma_domega_cm2(energy_kev: np.ndarray | float, cos_t: np.ndarray) -> np.ndarray:
    """Klein-Nishina differential cross-section per electron, cm^2/sr."""
    eps = 1.0 / (1.0 + np.asarray(energy_kev) / ELECTRON_REST_KEV * (1.0 - cos_t))
    return 0.5 * CLASSICAL_ELECTRON_RADIUS_CM**2 * eps**2 * (eps + 1.0 / eps - 1.0 + cos_t**2)


def sigma_cm2(energy_kev: float) -> float:
    """Total KN cross-section by numerical integration of dsigma/dOmega (Simpson, 2001 points)."""
    c = np.linspace(-1.0, 1.0, 2001)
    f = dsigma_domega_cm2(energy_kev, c)
    h = c[1] - c[0]
    return float(2 * math.pi * h / 3 * (f[0] + f[-1] + 4 * f[1:-1:2].sum() + 2 * f[2:-1:2].sum()))


class Medium:
    """mu and mu_C/mu of the tissue, tabulated finely in energy for the transport."""

    def __init__(self, tissue: Tissue, e_max_kev: float) -> None:
        self.tissue = tissue
        self.grid_kev = np.linspace(10.0, e_max_kev + 1.0, 600)
        self.mu = np.array([tissue.mu_per_mm(float(e)) for e in self.grid_kev])
        self.sigma = np.array([sigma_cm2(float(e)) for e in self.grid_kev])
        mu_c = self.sigma * ELECTRONS_PER_CM3 / 10.0 * tissue.mu_scale_to_water
        self.survive = np.where(self.mu > 0, np.minimum(mu_c / np.where(self.mu > 0, self.mu, 1),
                                                        1.0), 0.0)

    def mu_per_mm(self, e: np.ndarray) -> np.ndarray:
        return np.interp(e, self.grid_kev, self.mu)

    def sigma_cm2(self, e: np.ndarray) -> np.ndarray:
        return np.interp(e, self.grid_kev, self.sigma)

    def compton_share(self, e: np.ndarray) -> np.ndarray:
        return np.interp(e, self.grid_kev, self.survive)


@dataclass
class Histories:
    """Every Compton site of the histories: where, incoming direction, energy, weight, order."""

    pos: np.ndarray
    direction: np.ndarray
    energy_kev: np.ndarray
    weight: np.ndarray  # expected Compton scatters here per emitted photon (w * mu_C / mu)
    order: np.ndarray  # 1 for the first scatter
    history: np.ndarray
    n_photons: int
    medium: Medium


def _sample_kn_cos(rng: np.random.Generator, energy_kev: np.ndarray) -> np.ndarray:
    """cos(theta) from Klein-Nishina by rejection under the bound 2 (the value at theta = 0)."""
    out = np.empty(len(energy_kev))
    todo = np.arange(len(energy_kev))
    while todo.size:
        c = rng.uniform(-1.0, 1.0, todo.size)
        eps = 1.0 / (1.0 + energy_kev[todo] / ELECTRON_REST_KEV * (1.0 - c))
        ok = rng.uniform(0.0, 2.0, todo.size) < eps**2 * (eps + 1.0 / eps - 1.0 + c * c)
        out[todo[ok]] = c[ok]
        todo = todo[~ok]
    return out


def _rotate(d: np.ndarray, cos_t: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Directions at polar angle acos(cos_t), azimuth phi about the unit directions d."""
    sin_t = np.sqrt(np.maximum(1.0 - cos_t**2, 0.0))
    dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
    perp = np.sqrt(np.maximum(1.0 - dz**2, 1e-300))
    cp, sp = np.cos(phi), np.sin(phi)
    new = np.column_stack([
        sin_t * (dx * dz * cp - dy * sp) / perp + dx * cos_t,
        sin_t * (dy * dz * cp + dx * sp) / perp + dy * cos_t,
        -sin_t * cp * perp + dz * cos_t,
    ])
    pole = perp < 1e-6
    new[pole] = np.column_stack([sin_t[pole] * cp[pole], sin_t[pole] * sp[pole],
                                 cos_t[pole] * np.sign(dz[pole])])
    return new / np.linalg.norm(new, axis=1)[:, None]


def _emit(rng: np.random.Generator, n: int, towards: np.ndarray | None,
          cone_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Emission directions and weights: isotropic, or half isotropic and half uniform in a cone
    about `towards` (importance sampling; weight = isotropic pdf / mixture pdf, so unbiased)."""
    c = rng.uniform(-1.0, 1.0, n)
    phi = rng.uniform(0.0, 2 * math.pi, n)
    if towards is None:
        s = np.sqrt(1.0 - c * c)
        return np.column_stack([s * np.cos(phi), s * np.sin(phi), c]), np.ones(n)
    cos_cone = math.cos(math.radians(cone_deg))
    axis = towards / np.linalg.norm(towards)
    in_cone_draw = rng.uniform(size=n) < 0.5
    c = np.where(in_cone_draw, 1.0 - (1.0 - cos_cone) * (1.0 + c) / 2.0, c)
    s = np.sqrt(np.maximum(1.0 - c * c, 0.0))
    local = np.column_stack([s * np.cos(phi), s * np.sin(phi), c])
    d = _rotate(np.tile(axis, (n, 1)), local[:, 2], phi)
    inside = d @ axis >= cos_cone
    weight = 1.0 / (0.5 + 0.5 * inside * 2.0 / (1.0 - cos_cone))
    return d, weight


def transport(source_mm: tuple[float, float, float], energy_kev: float, tissue: Tissue,
              n_photons: int, seed: int, e_min_kev: float = 0.0,
              towards_mm: tuple[float, float, float] | None = None,
              cone_deg: float = 90.0) -> Histories:
    """Follow n_photons from the source and record every Compton site.

    With towards_mm, half the photons are emitted uniformly within cone_deg of the direction to
    that point (the probe), with weights that keep every estimate unbiased.
    """
    rng = np.random.default_rng(seed)
    medium = Medium(tissue, energy_kev)
    towards = None if towards_mm is None else np.asarray(towards_mm, float) - np.asarray(
        source_mm, float)
    d, w0 = _emit(rng, n_photons, towards, cone_deg)
    p = np.tile(np.asarray(source_mm, float), (n_photons, 1))
    in_air = p[:, 2] >= 0.0
    down = d[:, 2] < 0.0
    alive = ~in_air | down
    step = np.where(in_air & down, -p[:, 2] / np.where(down, d[:, 2], -1.0), 0.0)
    p = p + step[:, None] * d
    p[in_air & down, 2] = -1e-12  # exactly on the skin, inside tissue
    hist = np.arange(n_photons)
    p, d, hist = p[alive], d[alive], hist[alive]
    e = np.full(len(p), float(energy_kev))
    w = w0[alive]
    records: list[tuple[np.ndarray, ...]] = []
    for order in range(1, MAX_ORDER + 1):
        if not len(p):
            break
        mu = medium.mu_per_mm(e)
        free = rng.exponential(1.0, len(p)) / np.maximum(mu, 1e-300)
        p = p + free[:, None] * d
        stay = (p[:, 2] < 0.0) & (mu > 0)
        p, d, e, w, hist = p[stay], d[stay], e[stay], w[stay], hist[stay]
        w = w * medium.compton_share(e)
        records.append((p, d, e, w, np.full(len(p), order), hist))
        cos_t = _sample_kn_cos(rng, e)
        d = _rotate(d, cos_t, rng.uniform(0.0, 2 * math.pi, len(p)))
        e = e / (1.0 + e / ELECTRON_REST_KEV * (1.0 - cos_t))
        keep = e >= e_min_kev
        p, d, e, w, hist = p[keep], d[keep], e[keep], w[keep], hist[keep]
    cols = list(zip(*records, strict=True)) if records else [[np.zeros((0, 3))]] * 6
    return Histories(np.vstack(cols[0]), np.vstack(cols[1]), np.concatenate(cols[2]),
                     np.concatenate(cols[3]), np.concatenate(cols[4]).astype(int),
                     np.concatenate(cols[5]).astype(int), n_photons, medium)


@dataclass(frozen=True)
class Tally:
    """Mean and standard error per emitted photon of single and multiple scatter scores."""

    single: float
    single_sem: float
    multiple: float
    multiple_sem: float
    total_sem: float  # from the per-history totals (single and multiple are correlated)

    @property
    def total(self) -> float:
        return self.single + self.multiple


def _tissue_length(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Length of each segment a_i -> b (b one point) below z = 0."""
    length = np.linalg.norm(a - b, axis=1)
    lo, hi = np.minimum(a[:, 2], b[2]), np.maximum(a[:, 2], b[2])
    below = np.clip(-lo, 0.0, None) - np.clip(-hi, 0.0, None)  # depth span under the skin
    share = np.where(hi > lo, below / np.where(hi > lo, hi - lo, 1.0), (hi < 0).astype(float))
    return length * share


def _contributions(h: Histories, response, tip_mm: np.ndarray, axis: np.ndarray,
                   aim_depth_mm: float, e_min_kev: float) -> tuple[np.ndarray, ...]:
    """Per scored Compton site: index into h, E' towards the crystal, next-event estimate."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    tip = np.asarray(tip_mm, float)
    crystal = tip - aim_depth_mm * axis
    q = crystal - h.pos
    dist = np.linalg.norm(q, axis=1)
    cos_d = np.einsum("ij,ij->i", h.direction, q) / dist
    e_d = h.energy_kev / (1.0 + h.energy_kev / ELECTRON_REST_KEV * (1.0 - cos_d))
    use = np.flatnonzero((e_d >= e_min_kev) & (h.weight > 0))
    e_in, e_out = h.energy_kev[use], e_d[use]
    ang = 4 * math.pi * dsigma_domega_cm2(e_in, cos_d[use]) / h.medium.sigma_cm2(e_in)
    atten = np.exp(-h.medium.mu_per_mm(e_out) * _tissue_length(h.pos[use], crystal))
    v = h.pos[use] - tip
    z = v @ axis
    rho = np.linalg.norm(v - z[:, None] * axis, axis=1)
    resp = np.zeros(use.size)
    rounded = np.round(e_out / ENERGY_STEP_KEV).astype(int)
    for key in np.unique(rounded):
        sel = rounded == key
        resp[sel] = response.detection_probability(key * ENERGY_STEP_KEV, rho[sel], z[sel])
    return use, e_out, h.weight[use] * ang * atten * resp


def score(h: Histories, response, tip_mm: np.ndarray, axis: np.ndarray, aim_depth_mm: float,
          energy_weight: Callable[[np.ndarray], np.ndarray] | None = None,
          e_min_kev: float = 0.0) -> Tally:
    """Next-event estimate of detected scattered photons per emitted photon (see module doc)."""
    use, e_out, contrib = _contributions(h, response, tip_mm, axis, aim_depth_mm, e_min_kev)
    if energy_weight is not None:
        contrib = contrib * energy_weight(e_out)
    single = h.order[use] == 1
    out = []
    for part in (single, ~single, np.ones(use.size, bool)):
        per_history = np.bincount(h.history[use][part], contrib[part], minlength=h.n_photons)
        out += [float(per_history.mean()), float(per_history.std(ddof=1) / math.sqrt(h.n_photons))]
    return Tally(*out[:4], total_sem=out[5])


def score_by_energy(h: Histories, response, tip_mm: np.ndarray, axis: np.ndarray,
                    aim_depth_mm: float, edges_kev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Single and multiple scatter per emitted photon in bins of E' (edges ascending)."""
    use, e_out, contrib = _contributions(h, response, tip_mm, axis, aim_depth_mm, 0.0)
    k = np.clip(np.searchsorted(edges_kev, e_out, side="right") - 1, 0, len(edges_kev) - 2)
    single = h.order[use] == 1
    n = len(edges_kev) - 1
    return (np.bincount(k[single], contrib[single], minlength=n) / h.n_photons,
            np.bincount(k[~single], contrib[~single], minlength=n) / h.n_photons)


def primary(response, energy_kev: float, tissue: Tissue, source_mm: np.ndarray,
            tip_mm: np.ndarray, axis: np.ndarray) -> float:
    """Detected unscattered photons per emitted photon: P(E, source) exp(-mu l)."""
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    v = np.asarray(source_mm, float) - np.asarray(tip_mm, float)
    z = float(v @ axis)
    rho = float(np.linalg.norm(v - z * axis))
    source = np.asarray(source_mm, float)
    l_tissue = float(_tissue_length(source[None], np.asarray(tip_mm, float))[0])
    p = float(response.detection_probability(energy_kev, np.array([rho]), np.array([z]))[0])
    return p * math.exp(-tissue.mu_per_mm(energy_kev) * l_tissue)
