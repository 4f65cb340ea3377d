"""Background: measured (timed) or given, net rate with propagated sd, significance, Currie limits.

Currie limits (B background counts expected in the counting time; 5 % risks of both kinds):
decision level L_C = 1.645 sqrt(B) net counts (above it the net count is called significant) and
detection limit L_D = 2.71 + 3.29 sqrt(B) net counts (the smallest true net signal detected with
95 % probability). See DOMAIN.md, "Counting statistics". The normal approximation behind L_C
calls 6-10 % of background-only counts significant at B <= 20 and up to 6.2 % at B = 50, so below
NORMAL_MIN_COUNTS the decision level is the exact Poisson one (false positives <= 5 %).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.core.history import carried_cumsum
from probe_nav.core.rate import as_frames

CURRIE_K = 1.645  # one-sided 95 % normal quantile
CURRIE_ALPHA = 0.05  # the false-positive risk L_C stands for
# From B = 100 expected counts up, the normal L_C's exact false-positive rate stays within
# 4.8-5.9 % (at B = 50 it reaches 6.2 %, at B = 20 6.8 %, at B <= 1 up to 10 %); below, exact sums.
NORMAL_MIN_COUNTS = 100.0
TIME_TOLERANCE = 1.0 - 1e-9  # a duration counts as reached within 1 ppb (float sums of frames)


@dataclass(frozen=True, slots=True)
class Background:
    """A background rate with its sd; counts/live_s are those it was measured from (0 if given)."""

    rate_cps: float
    sd_cps: float = 0.0
    counts: int = 0
    live_s: float = 0.0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.rate_cps) and self.rate_cps >= 0.0):
            raise ValueError(f"background rate must be finite and >= 0, got {self.rate_cps!r}")
        if not (self.sd_cps >= 0.0):
            raise ValueError(f"background sd must be >= 0, got {self.sd_cps!r}")

    @classmethod
    def given(cls, rate_cps: float, sd_cps: float = 0.0) -> Background:
        """A background typed in by the user (sd 0 unless known)."""
        return cls(float(rate_cps), float(sd_cps))

    @classmethod
    def measured(cls, counts: int, live_s: float) -> Background:
        """Background from N counts in live time T: N/T with sd sqrt(max(N, 1))/T (inf if T = 0)."""
        if live_s <= 0.0:
            return cls(0.0, math.inf, int(counts), float(live_s))
        return cls(counts / live_s, math.sqrt(max(counts, 1)) / live_s, int(counts), float(live_s))


class BackgroundMeasurement:
    """A timed background measurement: start, add frames, stop (or a fixed live/real duration)."""

    def __init__(self, duration_s: float | None = None) -> None:
        if duration_s is not None and not duration_s > 0.0:
            raise ValueError(f"duration must be > 0 s, got {duration_s!r}")
        self.duration_s = duration_s
        self.counts = 0
        self.live_s = 0.0
        self.running = False
        self.complete = False

    def start(self) -> None:
        """Start (or restart) the measurement from zero."""
        self.counts, self.live_s, self.running, self.complete = 0, 0.0, True, False

    def stop(self) -> Background:
        """Stop and return the result."""
        self.running = False
        self.complete = True
        return self.result

    def add(self, counts: ArrayLike, live_s: ArrayLike) -> int:
        """Add frames while running; returns how many were used (stops itself at the duration)."""
        if not self.running:
            return 0
        c, v = as_frames(np.atleast_1d(counts), np.atleast_1d(live_s))
        used = c.size
        if self.duration_s is not None:
            cum = carried_cumsum(self.live_s, v)
            reached = np.flatnonzero(cum >= self.duration_s * TIME_TOLERANCE)
            if reached.size:
                used = int(reached[0]) + 1
        if used:
            self.counts += int(c[:used].sum())
            # summed frame by frame: the same total whatever the chunking
            self.live_s = float(carried_cumsum(self.live_s, v[:used])[-1])
        if self.duration_s is not None and self.live_s >= self.duration_s * TIME_TOLERANCE:
            self.stop()
        return used

    @property
    def result(self) -> Background:
        """The background so far."""
        return Background.measured(self.counts, self.live_s)


def net_rate(
    rate_cps: ArrayLike,
    rate_sd_cps: ArrayLike,
    background_cps: ArrayLike,
    background_sd_cps: ArrayLike,
) -> tuple[np.ndarray, np.ndarray]:
    """Net rate r - b and its sd sqrt(sd_r^2 + sd_b^2)."""
    r = np.asarray(rate_cps, dtype=float)
    b = np.asarray(background_cps, dtype=float)
    return r - b, np.hypot(np.asarray(rate_sd_cps, float), np.asarray(background_sd_cps, float))


def z_score(
    net_cps: ArrayLike,
    eff_live_s: ArrayLike,
    background_cps: ArrayLike,
    background_sd_cps: ArrayLike,
) -> np.ndarray:
    """Significance of a net rate: net / sd expected with no source, sqrt(b/T + sd_b^2).

    The variance under "background only" uses at least one count in T (as all sds here), so z is
    finite; 0 where there is no live time.
    """
    net = np.asarray(net_cps, dtype=float)
    t = np.asarray(eff_live_s, dtype=float)
    b = np.asarray(background_cps, dtype=float)
    sd_b = np.asarray(background_sd_cps, dtype=float)
    safe_t = np.where(t > 0.0, t, 1.0)
    var0 = np.maximum(b * safe_t, 1.0) / (safe_t * safe_t) + sd_b * sd_b
    with np.errstate(invalid="ignore"):
        z = np.where((t > 0.0) & np.isfinite(var0), net / np.sqrt(var0), 0.0)
    return z


def currie_decision_level_counts(
    background_counts: ArrayLike, extra_variance_counts: ArrayLike = 0.0
) -> np.ndarray | float:
    """L_C: net counts N - B above which a signal is declared present (5 % false positives).

    B is the expected background count; extra_variance_counts the variance, in counts^2, that an
    uncertain background estimate adds (T sd_b)^2. From NORMAL_MIN_COUNTS up L_C = 1.645
    sqrt(B + extra); below, L_C = k - B with k the smallest count whose exceedance P(N > k) is
    <= 5 %, N Poisson(B), or, for an uncertain background, negative binomial with mean B and
    variance B + extra (a Poisson count of a gamma-distributed background rate), but never
    below the well-known background's level.
    """
    b, extra = np.broadcast_arrays(np.asarray(background_counts, dtype=float),
                                   np.asarray(extra_variance_counts, dtype=float))
    with np.errstate(invalid="ignore"):
        out = CURRIE_K * np.sqrt(b + extra)
    low = (b < NORMAL_MIN_COUNTS) & (b > 0.0) & np.isfinite(extra)
    if np.any(low):
        out = np.array(out, dtype=float, copy=True)
        out[low] = _exact_level_counts(b[low], extra[low])
    return float(out) if out.ndim == 0 else out


def _exact_level_counts(b: np.ndarray, extra: np.ndarray) -> np.ndarray:
    """k - B with k the smallest count exceeded with probability <= CURRIE_ALPHA (b > 0)."""
    from scipy.stats import nbinom, poisson  # slow to import; only low backgrounds need it

    k = np.asarray(poisson.isf(CURRIE_ALPHA, b), dtype=float)
    wide = extra > 0.0
    if np.any(wide):
        bw, xw = b[wide], extra[wide]
        # scipy's nbinom(n, p) has mean n (1 - p) / p and variance mean / p. A very uncertain
        # low background (gamma shape < 1) puts most of its mass near zero and can lower the
        # quantile: more uncertainty never lowers the level below the well-known one.
        k[wide] = np.maximum(k[wide], nbinom.isf(CURRIE_ALPHA, bw * bw / xw, bw / (bw + xw)))
    return k - b


def currie_detection_limit_counts(background_counts: ArrayLike) -> np.ndarray | float:
    """L_D = 2.71 + 3.29 sqrt(B): smallest net signal detected with 95 % probability."""
    out = 2.71 + 3.29 * np.sqrt(np.asarray(background_counts, dtype=float))
    return float(out) if out.ndim == 0 else out
