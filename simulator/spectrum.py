"""Detector response on a fine energy grid: what energy an interacting photon deposits.

A response row is the probability per grid bin of the measured pulse height for one photon of
energy E that interacts in the crystal:
- full energy (photofraction): a Gaussian photopeak, FWHM from the crystal; a share of it in an
  exponential low-energy tail (hole trapping in CdTe/CZT);
- the rest as a Compton continuum: the Klein-Nishina distribution of the recoil electron's energy
  T in [0, E_c], E_c = E 2a/(1+2a), a = E/511 keV (the scattered photon escapes the thin crystal),
  smeared with the same resolution.
Photons scattered in tissue on their way to the probe arrive with lower energies E' (single Compton
scatter, Klein-Nishina angular distribution over all angles); their row is the mixture of the rows
of those energies, weighted by the crystal's efficiency at E'.

Rows are sampled by inverting their cumulative sum (linear within a bin, i.e. uniform inside each
0.25 keV bin), and window probabilities use the same interpolation, so what the sampler draws
and what the expectation says agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from probe_nav.simulator.detector import (
    ELECTRON_REST_KEV,
    Crystal,
    compton_edge_kev,
    scattered_photon_kev,
)

BIN_KEV = 0.25
GRID_MAX_KEV = 1100.0
EDGES_KEV = np.arange(0.0, GRID_MAX_KEV + BIN_KEV / 2, BIN_KEV)
CENTRES_KEV = 0.5 * (EDGES_KEV[1:] + EDGES_KEV[:-1])
ROOM_MAX_KEV = 1000.0  # room background: flat continuum up to here


def _smear(row: np.ndarray, sigma_kev: float) -> np.ndarray:
    """Convolve a row with a Gaussian of sd sigma_kev (mass below 0 keV is dropped)."""
    if sigma_kev <= 0:
        return row
    half = int(np.ceil(5 * sigma_kev / BIN_KEV))
    x = np.arange(-half, half + 1) * BIN_KEV
    kernel = np.exp(-0.5 * (x / sigma_kev) ** 2)
    kernel /= kernel.sum()
    return np.convolve(row, kernel, mode="same")


def compton_electron_pdf(energy_kev: float, t_kev: np.ndarray) -> np.ndarray:
    """Klein-Nishina dsigma/dT of the recoil electron (unnormalised), zero beyond the edge."""
    a = energy_kev / ELECTRON_REST_KEV
    s = np.clip(t_kev / energy_kev, 0.0, 1.0 - 1e-12)
    pdf = 2 + s**2 / (a**2 * (1 - s) ** 2) + s / (1 - s) * (s - 2 / a)
    return np.where(t_kev <= compton_edge_kev(energy_kev), pdf, 0.0)


def _delta(energy_kev: float) -> np.ndarray:
    """A unit mass at energy_kev, split between the two nearest bin centres (exact mean)."""
    row = np.zeros(len(CENTRES_KEV))
    position = min(max(energy_kev / BIN_KEV - 0.5, 0.0), len(row) - 1.0)
    i = min(int(position), len(row) - 2)
    frac = position - i
    row[i], row[i + 1] = 1.0 - frac, frac
    return row


@lru_cache(maxsize=256)
def line_row(crystal: Crystal, energy_kev: float) -> np.ndarray:
    """Response row of a photon of energy_kev interacting in the crystal (sums to 1).

    The full-energy part is smeared with the resolution at E, the Compton continuum with the
    resolution at its edge (where its shape matters).
    """
    pf = crystal.photofraction(energy_kev)
    full = (1.0 - crystal.tail_fraction) * _delta(energy_kev)
    if crystal.tail_fraction > 0:
        mean = crystal.tail_mean_pct / 100.0 * energy_kev
        deficit = energy_kev - CENTRES_KEV
        tail = np.where(deficit > 0, np.exp(-np.maximum(deficit, 0) / mean), 0.0)
        full += crystal.tail_fraction * tail / tail.sum()
    row = pf * _smear(full, crystal.sigma_kev(energy_kev))
    continuum = compton_electron_pdf(energy_kev, CENTRES_KEV)
    if continuum.sum() > 0:
        edge = compton_edge_kev(energy_kev)
        row += (1.0 - pf) * _smear(continuum / continuum.sum(), crystal.sigma_kev(edge))
    row = np.clip(row, 0.0, None)
    return row / row.sum()


@lru_cache(maxsize=256)
def tissue_scatter(crystal: Crystal, energy_kev: float) -> tuple[np.ndarray, float]:
    """Row of photons scattered once in tissue, and their mean efficiency relative to E's."""
    cos_angle = np.linspace(-1.0, 1.0, 81)
    e_out = np.asarray(scattered_photon_kev(energy_kev, cos_angle))
    ratio = e_out / energy_kev
    klein_nishina = ratio**2 * (ratio + 1 / ratio - (1 - cos_angle**2))  # dsigma/dOmega
    eff = np.array([crystal.efficiency(e) for e in e_out])
    weights = klein_nishina * eff
    row = sum(w * line_row(crystal, float(round(e, 2)))
              for w, e in zip(weights, e_out, strict=True))
    relative_eff = float(weights.sum() / klein_nishina.sum() / crystal.efficiency(energy_kev))
    return row / row.sum(), relative_eff


@lru_cache(maxsize=1)
def room_row() -> np.ndarray:
    """Room background: a flat continuum of measured energies up to ROOM_MAX_KEV."""
    row = np.where(CENTRES_KEV < ROOM_MAX_KEV, 1.0, 0.0)
    return row / row.sum()


@dataclass(frozen=True)
class ShapeTable:
    """Cumulative distributions of several rows, for window sums and sampling."""

    cdf: np.ndarray  # (n_shapes, n_edges): cdf[s, 0] = 0, cdf[s, -1] = 1

    @classmethod
    def from_rows(cls, rows: list[np.ndarray]) -> ShapeTable:
        """Build from response rows (each sums to 1)."""
        stacked = np.vstack(rows)
        cdf = np.zeros((len(rows), len(EDGES_KEV)))
        cdf[:, 1:] = np.cumsum(stacked, axis=1)
        cdf[:, -1] = 1.0
        return cls(np.minimum(cdf, 1.0))

    @property
    def n_shapes(self) -> int:
        """Number of rows."""
        return self.cdf.shape[0]

    def cdf_at(self, energy_kev: float) -> np.ndarray:
        """P(E < energy_kev) of every row (deposited energy)."""
        e = min(max(energy_kev, 0.0), GRID_MAX_KEV)
        i = min(int(e / BIN_KEV), len(EDGES_KEV) - 2)
        frac = (e - EDGES_KEV[i]) / BIN_KEV
        return self.cdf[:, i] * (1 - frac) + self.cdf[:, i + 1] * frac

    def fraction_between(self, lo_kev: float, hi_kev: float) -> np.ndarray:
        """P(lo <= E < hi) of every row."""
        return self.cdf_at(hi_kev) - self.cdf_at(lo_kev)

    def sample(self, rng: np.random.Generator, shape: int, n: int, above_kev: float) -> np.ndarray:
        """n deposited energies of row `shape`, conditioned on E >= above_kev."""
        lo = float(self.cdf_at(above_kev)[shape])
        u = rng.uniform(lo, 1.0, n)
        return np.interp(u, self.cdf[shape], EDGES_KEV)
