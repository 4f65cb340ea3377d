"""The hot-rate estimate the cold test uses (issue 15): the running rate since the change point,
its excess over the background shrunk by n / (n + HOT_PRIOR_COUNTS), floored at 1.2 b."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.core.detect import HOT_PRIOR_COUNTS, RATIOS, HotDetector


def estimate(b: float, counts: float, live_s: float) -> float:
    return float(HotDetector(b)._hot_rate_cps(np.array([counts]), np.array([live_s]))[0])


def test_worked_example() -> None:
    # b = 5 cps; n = HOT_PRIOR_COUNTS counts in n/10 s (s_hat = 10 cps): half the excess is kept,
    # s = 5 + 5 * 1/2 = 7.5 cps; with 9 n counts at the same rate, 9/10 of it: 9.5 cps.
    n0 = HOT_PRIOR_COUNTS
    assert np.isclose(estimate(5.0, n0, n0 / 10.0), 7.5)
    assert np.isclose(estimate(5.0, 9 * n0, 9 * n0 / 10.0), 9.5)


def test_no_hot_data_yet_gives_the_floor() -> None:
    assert estimate(5.0, 0.0, 0.0) == RATIOS[0] * 5.0
    assert estimate(5.0, 0.0, 2.0) == RATIOS[0] * 5.0


@settings(max_examples=300, deadline=None)
@given(b=st.floats(0.01, 1e4), counts=st.floats(0.0, 1e7), live_s=st.floats(1e-3, 1e4))
def test_estimate_lies_between_the_floor_the_background_and_the_raw_rate(
    b: float, counts: float, live_s: float
) -> None:
    s_hat = counts / live_s
    s = estimate(b, counts, live_s)
    floor = RATIOS[0] * b
    assert s >= floor * (1 - 1e-12)
    # shrunk towards b, never past it nor past the raw rate: a wrong sign or weight fails here
    lo, hi = sorted((b, s_hat))
    assert max(lo, floor) * (1 - 1e-9) <= s <= max(hi, floor) * (1 + 1e-9)
    # and the shrinkage is exactly the prior's weight (wherever the floor does not bind)
    expected = b + (s_hat - b) * counts / (counts + HOT_PRIOR_COUNTS)
    if expected > floor:
        assert np.isclose(s, expected, rtol=1e-9)


@settings(max_examples=100, deadline=None)
@given(b=st.floats(0.1, 1e3), ratio=st.floats(1.3, 10.0))
def test_shrinkage_fades_as_counts_accrue(b: float, ratio: float) -> None:
    # at a fixed raw rate, more counts leave more of the excess: monotone, towards s_hat
    live = np.array([1.0, 10.0, 100.0, 1000.0]) / b
    counts = ratio * b * live
    s = HotDetector(b)._hot_rate_cps(counts, live)
    assert np.all(np.diff(s) >= -1e-9 * s[1:])
    assert abs(s[-1] - ratio * b) <= (ratio - 1) * b * HOT_PRIOR_COUNTS / counts[-1] * (1 + 1e-9)
