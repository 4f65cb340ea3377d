"""Helpers for the calibration tests: coverage bounds for "estimate within k sd" checks."""

from __future__ import annotations

from scipy import stats


def coverage_bounds(n: int, k: float, alpha: float = 0.002) -> tuple[int, int]:
    """How many of n independent estimates may fall within k sd of the truth if the sd is right:
    the central 1 - alpha range of Binomial(n, P(|Z| <= k))."""
    p = float(stats.norm.cdf(k) - stats.norm.cdf(-k))
    return int(stats.binom.ppf(alpha / 2, n, p)), int(stats.binom.ppf(1 - alpha / 2, n, p))
