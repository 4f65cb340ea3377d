"""Widths of measured response profiles (lateral scans, angular scans) as NEMA NU 3 reads them:
the maximum from a parabola through the highest point and its neighbours, then the full width
at a fraction of it (0.5: FWHM, 0.1: FWTM) by linear interpolation between the measured points.
Uncertainties come from a seeded parametric bootstrap of the Poisson counts and the background.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from probe_nav.calibration.errors import AnalysisError

BOOTSTRAP_SAMPLES = 300
BOOTSTRAP_SEED = 20040  # fixed: the same data always give the same sd


@dataclass(frozen=True, slots=True)
class ProfileWidth:
    """FWHM and FWTM of a profile (in the unit of its positions) with 1 sd, and its peak."""

    fwhm: float
    fwhm_sd: float
    fwtm: float
    fwtm_sd: float
    peak_position: float
    peak_rate_cps: float


def peak_of(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Vertex of the parabola through the highest point and its neighbours (the point itself at
    an edge)."""
    i = int(np.argmax(y))
    if i == 0 or i == len(y) - 1:
        return float(x[i]), float(y[i])
    coef = np.polyfit(x[i - 1:i + 2], y[i - 1:i + 2], 2)
    if coef[0] >= 0:
        return float(x[i]), float(y[i])
    top = -coef[1] / (2 * coef[0])
    top = min(max(top, x[i - 1]), x[i + 1])
    return float(top), float(max(np.polyval(coef, top), y[i]))


def _crossing(x: np.ndarray, y: np.ndarray, start: int, step: int, level: float) -> float:
    i = start
    while 0 <= i + step < len(y):
        j = i + step
        if y[j] < level:
            return float(x[i] + (x[j] - x[i]) * (y[i] - level) / (y[i] - y[j]))
        i = j
    raise AnalysisError("the profile does not fall below "
                        f"{level:.3g} cps on the {'left' if step < 0 else 'right'} side within "
                        "the scan: scan further out")


def width_at(x: np.ndarray, y: np.ndarray, fraction: float) -> tuple[float, float, float]:
    """(full width at `fraction` of the maximum, peak position, peak value)."""
    top_x, top_y = peak_of(x, y)
    if top_y <= 0:
        raise AnalysisError("the profile has no net signal above background")
    i = int(np.argmax(y))
    level = fraction * top_y
    return _crossing(x, y, i, +1, level) - _crossing(x, y, i, -1, level), top_x, top_y


def profile_rates(x: np.ndarray, counts: np.ndarray, live_s: np.ndarray) -> tuple[np.ndarray, ...]:
    """Validated, position-sorted arrays (x, counts, live_s)."""
    x = np.asarray(x, dtype=float)
    counts = np.asarray(counts, dtype=float)
    live = np.broadcast_to(np.asarray(live_s, dtype=float), counts.shape).astype(float)
    if x.ndim != 1 or x.shape != counts.shape:
        raise AnalysisError("positions and counts must be equal-length lists")
    if len(x) < 5:
        raise AnalysisError(f"a profile needs at least 5 points, got {len(x)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(counts)) and np.all(np.isfinite(live))):
        raise AnalysisError("positions, counts and live times must be finite")
    if np.any(counts < 0) or np.any(live <= 0):
        raise AnalysisError("counts must be >= 0 and live times > 0")
    if len(np.unique(x)) != len(x):
        raise AnalysisError("profile positions must not repeat")
    order = np.argsort(x)
    return x[order], counts[order], live[order]


def profile_width(x: np.ndarray, counts: np.ndarray, live_s: np.ndarray, background_cps: float,
                  background_sd_cps: float, scale: np.ndarray | None = None) -> ProfileWidth:
    """FWHM and FWTM of the net rate (counts/live - background) * scale (decay correction)."""
    x, counts, live = profile_rates(x, counts, live_s)
    k = np.ones_like(x) if scale is None else np.asarray(scale, dtype=float)
    net = (counts / live - background_cps) * k
    i = int(np.argmax(net))
    top_sd = math.hypot(math.sqrt(max(counts[i], 1.0)) / live[i], background_sd_cps) * k[i]
    if net[i] < 5.0 * top_sd:
        raise AnalysisError(f"the profile's peak ({net[i]:.3g} +- {top_sd:.2g} cps net) is not "
                            "significant: count longer or use a stronger source")
    fwhm, top_x, top_y = width_at(x, net, 0.5)
    fwtm, _, _ = width_at(x, net, 0.1)
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    widths = []
    for _ in range(BOOTSTRAP_SAMPLES):
        c = rng.poisson(counts)
        b = background_cps + rng.normal(0.0, background_sd_cps) if background_sd_cps else \
            background_cps
        y = (c / live - b) * k
        try:
            widths.append((width_at(x, y, 0.5)[0], width_at(x, y, 0.1)[0]))
        except AnalysisError:
            continue
    if len(widths) < 0.9 * BOOTSTRAP_SAMPLES:
        raise AnalysisError("the profile's widths are not stable under counting noise: count "
                            "longer or scan further out")
    sd = np.std(np.asarray(widths), axis=0, ddof=1)
    return ProfileWidth(fwhm, float(sd[0]), fwtm, float(sd[1]), top_x, top_y)
