"""Synthetic retention series for the dosimetry tests: a known truth, exact or Poisson counts."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from probe_nav.dosimetry.series import RetentionPoint

Truth = Callable[[float], float]  # net rate (cps) at t hours


def mono(a0_cps: float, t_eff_h: float) -> Truth:
    """A0 2^(-t/T)."""
    return lambda t: a0_cps * 2.0 ** (-t / t_eff_h)


def bi(a0_cps: float, fraction_fast: float, t_fast_h: float, t_slow_h: float) -> Truth:
    """A0 [f 2^(-t/T1) + (1 - f) 2^(-t/T2)]."""
    return lambda t: a0_cps * (fraction_fast * 2.0 ** (-t / t_fast_h)
                               + (1 - fraction_fast) * 2.0 ** (-t / t_slow_h))


def exact(truth: Truth, times_h: Sequence[float], live_s: float,
          background_cps: float = 0.0) -> list[RetentionPoint]:
    """Counts rounded from the expectation: noise-free to 1/counts (make counts large)."""
    return [RetentionPoint(float(t), round((truth(t) + background_cps) * live_s), live_s,
                           background_cps) for t in times_h]


def poisson(truth: Truth, times_h: Sequence[float], live_s: float, background_cps: float,
            rng: np.random.Generator) -> list[RetentionPoint]:
    """Counts drawn from Poisson(expectation); the background rate is known exactly."""
    return [RetentionPoint(float(t), int(rng.poisson((truth(t) + background_cps) * live_s)),
                           live_s, background_cps) for t in times_h]


def tiac_h(fraction_fast: float, t_fast_h: float, t_slow_h: float) -> float:
    """The true TIAC of a bi-exponential (a mono has fraction_fast 0)."""
    return (fraction_fast * t_fast_h + (1 - fraction_fast) * t_slow_h) / math.log(2.0)
