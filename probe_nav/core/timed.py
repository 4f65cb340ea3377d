"""Timed counts: accumulate whole frames until a preset live (or real) time is reached.

What a surgeon records in vivo, ex vivo and in the wound bed: counts in e.g. 10 s, the rate with its
Poisson sd, and the net rate against a background with the propagated sd and the Currie decision.
A frame is never split: the count ends with the first frame that reaches the preset time, and the
result reports the exact live and real time actually counted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.core.background import TIME_TOLERANCE, Background, currie_decision_level_counts
from probe_nav.core.history import carried_cumsum
from probe_nav.core.rate import as_frames

TIMED_PRESETS_S: tuple[float, ...] = (1.0, 2.0, 5.0, 10.0)  # reached within TIME_TOLERANCE


@dataclass(frozen=True, slots=True)
class TimedCountResult:
    """Result of a timed count (rates in cps, times in s)."""

    counts: int
    live_s: float
    real_s: float
    rate_cps: float
    rate_sd_cps: float
    background_cps: float
    background_sd_cps: float
    net_cps: float
    net_sd_cps: float
    significant: bool  # net counts above the decision level L_C for this background
    complete: bool  # the preset time was reached
    t_end_s: float | None  # t_s of the last frame counted (device clock)


class TimedCount:
    """Counts for a preset time (1, 2, 5, 10 s or custom), measured on live or real time."""

    def __init__(
        self,
        preset_s: float = 10.0,
        basis: Literal["live", "real"] = "live",
        background: Background | None = None,
    ) -> None:
        if not (preset_s > 0.0 and math.isfinite(preset_s)):
            raise ValueError(f"preset time must be a positive number of seconds, got {preset_s!r}")
        if basis not in ("live", "real"):
            raise ValueError(f"basis must be 'live' or 'real', got {basis!r}")
        self.preset_s = float(preset_s)
        self.basis = basis
        self.background = background or Background.given(0.0)
        self.counts = 0
        self.live_s = 0.0
        self.real_s = 0.0
        self.t_end_s: float | None = None
        self.complete = False

    def add(
        self,
        counts: ArrayLike,
        live_s: ArrayLike,
        real_s: ArrayLike | None = None,
        t_s: ArrayLike | None = None,
    ) -> int:
        """Add frames until the preset is reached; returns how many frames were used."""
        if self.complete:
            return 0
        c, v = as_frames(np.atleast_1d(counts), np.atleast_1d(live_s))
        r = v if real_s is None else np.atleast_1d(np.asarray(real_s, dtype=np.float64))
        if r.shape != v.shape:
            raise ValueError("real_s and live_s differ in length")
        cum_live = carried_cumsum(self.live_s, v)
        cum_real = carried_cumsum(self.real_s, r)
        clock = cum_live if self.basis == "live" else cum_real
        reached = np.flatnonzero(clock >= self.preset_s * TIME_TOLERANCE)
        used = int(reached[0]) + 1 if reached.size else c.size
        if used == 0:
            return 0
        self.counts += int(c[:used].sum())
        self.live_s = float(cum_live[used - 1])
        self.real_s = float(cum_real[used - 1])
        if t_s is not None:
            self.t_end_s = float(np.atleast_1d(np.asarray(t_s, dtype=np.float64))[used - 1])
        self.complete = bool(reached.size)
        return used

    @property
    def result(self) -> TimedCountResult:
        """The count so far (complete=False until the preset time is reached)."""
        n, t = self.counts, self.live_s
        bg = self.background
        rate = n / t if t > 0.0 else 0.0
        sd = math.sqrt(max(n, 1)) / t if t > 0.0 else math.inf
        net = rate - bg.rate_cps
        net_sd = math.hypot(sd, bg.sd_cps)
        # Currie's L_C for B background counts in t (exact Poisson at low B); an uncertain
        # background adds its variance in counts, (t sd_b)^2. B is at least one count (like every
        # sd here): a background of zero is never known to be exactly zero, and with B = 0 one
        # count would be "significant"; with B = 1 it takes 4 counts (P(N >= 4) = 1.9 %).
        b_counts = max(bg.rate_cps * t, 1.0)
        extra = (t * bg.sd_cps) ** 2 if math.isfinite(bg.sd_cps) else math.inf
        decision = float(currie_decision_level_counts(b_counts, extra))
        significant = t > 0.0 and (n - b_counts) > decision
        return TimedCountResult(
            counts=n, live_s=t, real_s=self.real_s, rate_cps=rate, rate_sd_cps=sd,
            background_cps=bg.rate_cps, background_sd_cps=bg.sd_cps, net_cps=net,
            net_sd_cps=net_sd, significant=bool(significant), complete=self.complete,
            t_end_s=self.t_end_s,
        )


def timed_count(
    counts: ArrayLike,
    live_s: ArrayLike,
    preset_s: float = 10.0,
    background: Background | None = None,
    basis: Literal["live", "real"] = "live",
    real_s: ArrayLike | None = None,
) -> TimedCountResult:
    """One timed count over the leading frames of arrays (convenience for batch use)."""
    tc = TimedCount(preset_s, basis, background)
    tc.add(counts, live_s, real_s)
    return tc.result
