"""Spectral rows of the scatter angle bins of simulator/scatter.py.

For photon line E and angle bin [theta_lo, theta_hi), the row is the mixture of
`spectrum.line_row(crystal, E'(theta))` over theta in the bin, weighted by the Klein-Nishina
angular distribution dsigma/dOmega sin(theta) dtheta (midpoint rule, enough points per bin that
E' moves at most ENERGY_STEP_KEV between them: well inside any photopeak's width), normalised to
sum 1. E' is rounded to 0.01 keV so line_row's cache is shared between calls.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import pairwise

import numpy as np

from probe_nav.simulator.detector import ELECTRON_REST_KEV, Crystal, scattered_photon_kev
from probe_nav.simulator.spectrum import line_row

SUBDIVISIONS = 12  # for mean_scattered_kev
ENERGY_STEP_KEV = 1.0


def kn_angular_weight(energy_kev: float, theta_rad: np.ndarray) -> np.ndarray:
    """Klein-Nishina dsigma/dOmega sin(theta), unnormalised."""
    cos_t = np.cos(theta_rad)
    ratio = 1.0 / (1.0 + energy_kev / ELECTRON_REST_KEV * (1.0 - cos_t))
    return ratio**2 * (ratio + 1.0 / ratio - np.sin(theta_rad) ** 2) * np.sin(theta_rad)


@lru_cache(maxsize=64)
def scatter_rows(crystal: Crystal, energy_kev: float,
                 edges_deg: tuple[float, ...]) -> np.ndarray:
    """Rows (n_bins, grid) of photons of line energy_kev scattered into each angle bin."""
    rows = []
    for lo, hi in pairwise(edges_deg):
        span_kev = float(scattered_photon_kev(energy_kev, math.cos(math.radians(lo)))
                         - scattered_photon_kev(energy_kev, math.cos(math.radians(hi))))
        n = max(1, math.ceil(span_kev / ENERGY_STEP_KEV))
        step = (hi - lo) / n
        theta = np.radians(lo + step * (np.arange(n) + 0.5))
        weights = kn_angular_weight(energy_kev, theta)
        e_out = np.asarray(scattered_photon_kev(energy_kev, np.cos(theta)))
        row = sum(w * line_row(crystal, float(round(e, 2)))
                  for w, e in zip(weights, e_out, strict=True))
        rows.append(row / row.sum())
    out = np.vstack(rows)
    out.setflags(write=False)
    return out


def mean_scattered_kev(energy_kev: float, edges_deg: tuple[float, ...]) -> np.ndarray:
    """KN-weighted mean E' of each angle bin (before the detector's response)."""
    out = []
    for lo, hi in pairwise(edges_deg):
        theta = np.radians(np.linspace(lo, hi, SUBDIVISIONS + 1)[:-1]
                           + (hi - lo) / (2 * SUBDIVISIONS))
        w = kn_angular_weight(energy_kev, theta)
        out.append(float((w * np.asarray(scattered_photon_kev(energy_kev, np.cos(theta)))).sum()
                         / w.sum()))
    return np.array(out)
