"""Chi-square test of counting statistics: worked bands, properties, bench series."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from probe_nav.calibration.chisquare import chi_square_test, pass_band
from probe_nav.calibration.errors import AnalysisError
from probe_nav.simulator.benches import bench_repeated_counts


def test_worked_band_for_ten_counts() -> None:
    # DOMAIN.md: 10 counts (9 dof), p 0.90/0.10 -> 4.168-14.68; p 0.95/0.05 -> 3.33-16.9.
    lo, hi = pass_band(9, 0.10, 0.90)
    assert lo == pytest.approx(4.168, abs=5e-4)
    assert hi == pytest.approx(14.68, abs=5e-3)
    lo, hi = pass_band(9, 0.05, 0.95)
    assert lo == pytest.approx(3.33, abs=5e-3)
    assert hi == pytest.approx(16.9, abs=5e-2)


def test_statistic_by_hand() -> None:
    counts = [100, 110, 95, 102, 99, 104, 97, 101, 93, 105]
    mean = sum(counts) / 10
    chi2 = sum((c - mean) ** 2 for c in counts) / mean  # 226.4 / 100.6
    r = chi_square_test(counts)
    assert r.chi2 == pytest.approx(chi2)
    assert r.dof == 9 and r.n == 10 and r.mean == pytest.approx(100.6)
    assert r.p_value == pytest.approx(stats.chi2.sf(chi2, 9))
    assert r.band == pytest.approx((4.168, 14.684), abs=1e-3)
    assert not r.passed and r.verdict == "fail: too uniform"  # 2.25: smoother than Poisson


def test_too_variable_fails() -> None:
    r = chi_square_test([100, 140, 60, 100, 120, 80, 100, 150, 50, 100])
    assert not r.passed and r.verdict == "fail: too variable" and r.p_value < 0.01


@pytest.mark.parametrize("counts, message", [
    ([100] * 9, "at least 10"),
    ([100] * 9 + [-1], "non-negative"),
    ([100] * 9 + [1.5], "whole"),
    ([0, 1, 0, 2, 1, 0, 0, 1, 0, 0], "mean count"),
])
def test_bad_input_is_an_analysis_error(counts: list[float], message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        chi_square_test(counts)


def test_bad_probabilities() -> None:
    with pytest.raises(AnalysisError, match="p_low < p_high"):
        chi_square_test([100] * 10, p_low=0.9, p_high=0.1)


@given(st.lists(st.integers(0, 10_000), min_size=10, max_size=40).filter(
    lambda c: sum(c) / len(c) >= 5),
    st.floats(0.01, 0.45), st.floats(0.55, 0.99))
def test_p_value_and_band_properties(counts: list[int], p_low: float, p_high: float) -> None:
    r = chi_square_test(counts, p_low, p_high)
    assert 0.0 <= r.p_value <= 1.0
    assert 0.0 < r.band[0] < r.band[1]
    assert r.passed == (r.band[0] <= r.chi2 <= r.band[1])
    # inside the band <=> the upper-tail p lies between 1 - p_high and 1 - p_low
    assert r.passed == (1 - p_high - 1e-9 <= r.p_value <= 1 - p_low + 1e-9)


def test_poisson_series_pass_at_the_designed_rate() -> None:
    # Over many Poisson series the pass rate is p_high - p_low = 0.8.
    rng = np.random.default_rng(7)
    n = 2000
    passed = sum(chi_square_test(rng.poisson(500, 10)).passed for _ in range(n))
    lo, hi = stats.binom.ppf([0.001, 0.999], n, 0.8)
    assert lo <= passed <= hi


def test_simulated_check_source_counts() -> None:
    # Steady holder: Poisson -> the pass rate is 0.8 over seeds (binomial bounds);
    # a loose holder (2 mm sd at 50 mm: ~8 % rate sd >> 2 % Poisson) fails nearly always.
    n = 40
    steady = [chi_square_test(bench_repeated_counts(seed=s).counts).passed for s in range(n)]
    lo, hi = stats.binom.ppf([0.001, 0.999], n, 0.8)
    assert lo <= sum(steady) <= hi
    wobbly = [chi_square_test(bench_repeated_counts(wobble_mm=2.0, seed=s).counts)
              for s in range(10)]
    assert sum(r.passed for r in wobbly) <= 2
    assert all(r.chi2 > r.band[0] for r in wobbly)
