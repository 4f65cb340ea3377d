"""Count-rate meters: the fixed exponential meter and the common result and factory.

Every meter is a chunk-wise, stateful filter: `process(counts, live_s)` takes the frames of a chunk
(any length, including 1) and returns one estimate per frame; cutting a stream into chunks in any
way gives bit-for-bit the same estimates. Each estimate carries its sd and its effective live time
T_eff (the Poisson variance of the estimate is rate / T_eff).

Uncertainty convention (all meters): with N_eff = rate * T_eff counts in the effective averaging
time, sd = sqrt(max(N_eff, 1)) / T_eff. The floor of one count keeps sd > 0 when no count was seen
(the 68 % upper limit for zero counts is 1.14 counts, so one count is the honest order of
magnitude); with no live time at all, rate = 0 and sd = inf.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.core.history import carried_cumsum

FIXED_TAU_PRESETS_S: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0)
METER_NAMES: tuple[str, ...] = ("adaptive", "0.5", "1", "2", "5")


@dataclass(frozen=True, slots=True)
class RateArrays:
    """Per-frame estimates: rate_cps, rate_sd_cps and effective live time eff_live_s."""

    rate_cps: np.ndarray
    rate_sd_cps: np.ndarray
    eff_live_s: np.ndarray


class RateMeter(Protocol):
    """What the pipeline needs from a meter."""

    def process(self, counts: np.ndarray, live_s: np.ndarray) -> RateArrays:
        """Estimates for the frames of one chunk."""
        ...

    def reset(self) -> None:
        """Forget the past."""
        ...


def poisson_sd_cps(counts: np.ndarray, live_s: np.ndarray) -> np.ndarray:
    """sd = sqrt(max(N, 1)) / T for N counts in live time T; inf where T = 0."""
    counts = np.asarray(counts, dtype=np.float64)
    live_s = np.asarray(live_s, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.where(live_s > 0.0, np.sqrt(np.maximum(counts, 1.0)) / live_s, np.inf)


def ratio_rate_cps(counts: np.ndarray, live_s: np.ndarray) -> np.ndarray:
    """N / T, and 0 where T = 0 (no information yet)."""
    counts = np.asarray(counts, dtype=np.float64)
    live_s = np.asarray(live_s, dtype=np.float64)
    safe = np.where(live_s > 0.0, live_s, 1.0)
    return np.where(live_s > 0.0, counts / safe, 0.0)


def _as_counts(counts: ArrayLike) -> np.ndarray:
    """Counts as int64; ValueError (never OverflowError or a silent wrap) for values that are not
    whole numbers in 0..2^63-1."""
    try:
        raw = np.asarray(counts)
        if raw.dtype.kind == "f":
            if raw.size and not (np.all(np.isfinite(raw)) and np.all(raw == np.floor(raw))
                                 and raw.max() < 2.0**63):
                raise ValueError("counts must be whole numbers below 2^63")
        elif raw.dtype.kind == "u" and raw.size and raw.max() > np.iinfo(np.int64).max:
            raise ValueError("counts must be below 2^63")
        return np.ascontiguousarray(raw, dtype=np.int64).reshape(-1)
    except (OverflowError, TypeError) as exc:  # e.g. a Python int of 10^25
        raise ValueError(f"counts must be whole numbers below 2^63 ({exc})") from None


def as_frames(counts: ArrayLike, live_s: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Validated contiguous copies: counts as int64 >= 0, live_s as float64 >= 0 and finite.
    ValueError (with the reason) for anything else, whatever its size."""
    c = _as_counts(counts)
    try:
        v = np.ascontiguousarray(live_s, dtype=np.float64).reshape(-1)
    except (OverflowError, TypeError) as exc:
        raise ValueError(f"live_s must be finite numbers ({exc})") from None
    if c.shape != v.shape:
        raise ValueError(f"counts and live_s differ in length ({c.size} vs {v.size})")
    if c.size and (c.min() < 0):
        raise ValueError("counts must not be negative")
    if v.size and not (np.all(np.isfinite(v)) and v.min() >= 0.0):
        raise ValueError("live_s must be finite and not negative")
    return c, v


class ExponentialMeter:
    """Fixed time-constant meter r += (dt/tau)(x/dt - r) in its exact discrete form, dt = live time.

    Implemented as the ratio of exponentially weighted sums, sum(w x) / sum(w dt), with weights
    w = exp(-(live time since the frame)/tau): in steady state this is exactly the classic meter
    with alpha = 1 - exp(-dt/tau) (relative sd 1/sqrt(2 r tau), 90 % step response ln(10) tau),
    and it starts from the mean of the frames seen instead of ramping up from zero.
    """

    # The sums are kept relative to an origin; it moves when the weights grow past e^REBASE.
    REBASE = 150.0

    def __init__(self, tau_s: float) -> None:
        if not (tau_s > 0.0 and np.isfinite(tau_s)):
            raise ValueError(f"time constant must be a positive number of seconds, got {tau_s!r}")
        self.tau_s = float(tau_s)
        self.reset()

    def reset(self) -> None:
        """Forget the past."""
        self._live_total_s = 0.0  # cumulative live time since reset
        self._origin_s = 0.0
        self._a = 0.0  # sum x exp((L - origin)/tau)
        self._b = 0.0  # sum dt exp((L - origin)/tau)
        self._d = 0.0  # sum dt exp(2 (L - origin)/tau)

    def process(self, counts: np.ndarray, live_s: np.ndarray) -> RateArrays:
        """Estimates for the frames of one chunk."""
        c, v = as_frames(counts, live_s)
        m = c.size
        a = np.empty(m)
        b = np.empty(m)
        d = np.empty(m)
        cum_l = carried_cumsum(self._live_total_s, v)
        lo = 0
        while lo < m:
            x = (cum_l[lo:] - self._origin_s) / self.tau_s
            over = np.flatnonzero(x > self.REBASE)
            hi = m if over.size == 0 else lo + int(over[0])
            if hi == lo:  # rebase at frame `lo`: the origin moves to the end of that frame
                new_origin = float(cum_l[lo])
                shift = np.exp(-(new_origin - self._origin_s) / self.tau_s)
                self._a *= shift
                self._b *= shift
                self._d *= shift * shift
                self._origin_s = new_origin
                continue
            e = np.exp(x[: hi - lo])
            a[lo:hi] = carried_cumsum(self._a, c[lo:hi] * e)
            b[lo:hi] = carried_cumsum(self._b, v[lo:hi] * e)
            d[lo:hi] = carried_cumsum(self._d, v[lo:hi] * (e * e))
            self._a, self._b, self._d = float(a[hi - 1]), float(b[hi - 1]), float(d[hi - 1])
            lo = hi
        if m:
            self._live_total_s = float(cum_l[-1])
        rate = ratio_rate_cps(a, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_eff = np.where(d > 0.0, b * b / np.where(d > 0.0, d, 1.0), 0.0)
        return RateArrays(rate, poisson_sd_cps(rate * t_eff, t_eff), t_eff)


def make_meter(name: str | float) -> RateMeter:
    """'adaptive' (the default) or a fixed time constant in seconds ('0.5', '1', '2', '5', ...)."""
    if isinstance(name, str) and name.strip().lower() == "adaptive":
        from probe_nav.core.adaptive import AdaptiveRateMeter

        return AdaptiveRateMeter()
    try:
        tau_s = float(name)
    except ValueError:
        raise ValueError(f"unknown meter {name!r}: 'adaptive' or a time constant in s") from None
    return ExponentialMeter(tau_s)
