"""Chi-square test of counting statistics (NEMA NU 3 / IAEA TECDOC-602 practice).

N repeated counts x_i of a steady source: chi2 = sum (x_i - mean)^2 / mean has N - 1 degrees of
freedom if the counter is Poisson. The pass band is [F^-1(p_low), F^-1(p_high)] of the chi-square
distribution with N - 1 dof; with 10 counts and (0.10, 0.90) it is 4.168-14.68 (DOMAIN.md). Too
small a chi2 means the counts vary less than Poisson allows (a stuck or smoothing counter), too
large means extra variation (unstable electronics, a moving source). The p-value is the upper tail
P(chi2_{N-1} >= chi2).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

from probe_nav.calibration.errors import AnalysisError

MIN_COUNTS = 10  # the number of repeated counts the test practice asks for
MIN_MEAN = 5.0  # below this the chi-square approximation of the Poisson dispersion is poor


@dataclass(frozen=True, slots=True)
class ChiSquareResult:
    """Statistic, degrees of freedom, upper-tail p-value, pass band and verdict."""

    chi2: float
    dof: int
    p_value: float
    band: tuple[float, float]
    passed: bool
    mean: float
    n: int
    p_low: float = 0.10
    p_high: float = 0.90

    @property
    def verdict(self) -> str:
        """'pass', or why not: 'fail: too uniform' / 'fail: too variable'."""
        if self.passed:
            return "pass"
        return "fail: too uniform" if self.chi2 < self.band[0] else "fail: too variable"


def pass_band(dof: int, p_low: float = 0.10, p_high: float = 0.90) -> tuple[float, float]:
    """The chi-square quantiles at cumulative probabilities p_low and p_high."""
    if not (0.0 < p_low < p_high < 1.0):
        raise AnalysisError(f"need 0 < p_low < p_high < 1, got p_low={p_low}, p_high={p_high}")
    if dof < 1:
        raise AnalysisError(f"degrees of freedom must be >= 1, got {dof}")
    return float(stats.chi2.ppf(p_low, dof)), float(stats.chi2.ppf(p_high, dof))


def chi_square_test(counts: Sequence[int], p_low: float = 0.10,
                    p_high: float = 0.90) -> ChiSquareResult:
    """Test whether repeated counts of a steady source scatter as Poisson counts should."""
    values = np.asarray(counts, dtype=float)
    if values.ndim != 1:
        raise AnalysisError("counts must be a flat list of integers")
    if len(values) < MIN_COUNTS:
        raise AnalysisError(f"the chi-square test needs at least {MIN_COUNTS} counts, "
                            f"got {len(values)}")
    if not np.all(np.isfinite(values)) or np.any(values < 0) or np.any(values != np.round(values)):
        raise AnalysisError("counts must be non-negative whole numbers")
    mean = float(values.mean())
    if mean < MIN_MEAN:
        raise AnalysisError(f"mean count {mean:.3g} is below {MIN_MEAN:g}: count longer or "
                            "closer so that the chi-square test means something")
    band = pass_band(len(values) - 1, p_low, p_high)
    chi2 = float(((values - mean) ** 2).sum() / mean)
    dof = len(values) - 1
    p_value = float(stats.chi2.sf(chi2, dof))
    passed = band[0] <= chi2 <= band[1]
    return ChiSquareResult(chi2, dof, min(1.0, max(0.0, p_value)), band, passed, mean,
                           len(values), p_low, p_high)


def expected_pass_rate(p_low: float = 0.10, p_high: float = 0.90) -> float:
    """Share of Poisson count series that pass (for large means): p_high - p_low."""
    pass_band(1, p_low, p_high)
    return p_high - p_low


__all__ = ["ChiSquareResult", "chi_square_test", "expected_pass_rate", "pass_band"]
