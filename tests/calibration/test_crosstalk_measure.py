"""Spill fractions from single-isotope counts (probe_nav.calibration.crosstalk_measure): exact
values by hand, then the estimator's bias and its sd against many Poisson draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.calibration.crosstalk import Spill, SpillMatrix
from probe_nav.calibration.crosstalk_measure import (
    MIN_SIGNIFICANCE,
    NotSignificant,
    combine,
    measure_spills,
    net_rate,
    spill_fraction,
    spill_matrix,
)
from probe_nav.calibration.errors import AnalysisError

DRAWS = 4000


def test_spill_fraction_by_hand() -> None:
    # Source window: 20000 counts in 8 s live, background 90 in 30 s: B = 2500 - 3 = 2497 cps,
    # var B = 20000/64 + 90/900 = 312.6. Target: 2600 counts, background 300 in 30 s:
    # A = 325 - 10 = 315 cps, var A = 2600/64 + 300/900 = 40.9583...
    f, sd = spill_fraction(20000, 2600, 8.0, 90, 300, 30.0)
    a, b = 315.0, 2497.0
    var_a, var_b = 2600 / 64 + 300 / 900, 20000 / 64 + 90 / 900
    assert f == pytest.approx(a / b, rel=1e-12)
    assert sd == pytest.approx(math.sqrt(var_a + (a / b) ** 2 * var_b) / b, rel=1e-12)
    # sqrt(40.9583 + 0.126151^2 x 312.6) / 2497 = sqrt(45.933) / 2497
    assert sd == pytest.approx(0.0027142, rel=1e-4)


def test_net_rate_counts_zero_as_one_in_its_variance() -> None:
    rate, sd = net_rate(0, 10.0, 0, 20.0)
    assert rate == 0.0
    assert sd == pytest.approx(math.sqrt(1 / 100 + 1 / 400))


def test_measure_spills_gives_plain_floats_clipped_at_zero() -> None:
    # Target window 1: 5 counts in 10 s against a background of 40 in 20 s: net -1.5 cps.
    r = measure_spills(0, [50000, 5, 700], 10.0, [20, 40, 10], 20.0, "Tc")
    assert r.targets == (1, 2)
    assert r.raw_fractions[0] < 0
    assert r.spills[0] == Spill(0, 1, 0.0, r.spills[0].sd) and r.spills[0].sd > 0
    assert all(type(s.fraction) is float and type(s.sd) is float for s in r.spills)
    assert "np." not in " ".join(s.text() for s in r.spills)
    # -1.5 cps / 4999 cps = -3.0e-4 with sd 0.35 / 4999 = 7e-5: > 3 sd below zero, a note.
    assert len(r.notes) == 1 and "0:1" in r.notes[0] and "background" in r.notes[0]
    assert r.spills[1].fraction == pytest.approx((70 - 0.5) / (5000 - 1))


def test_without_background_nothing_is_subtracted() -> None:
    r = measure_spills(1, [400, 10000], 10.0, [0, 0], math.inf)
    assert r.spills[0].fraction == pytest.approx(0.04)
    assert r.spills[0].sd == pytest.approx(0.04 * math.sqrt(1 / 400 + 1 / 10000))


def test_a_source_its_window_hardly_sees_is_refused() -> None:
    # 100 counts in 10 s over a background of 900 in 100 s: net 1 cps, sd sqrt(1 + 0.09) =
    # 1.04: under 5 sd.
    with pytest.raises(NotSignificant, match=r"need 5"):
        measure_spills(0, [100, 50], 10.0, [900, 500], 100.0)
    # Exactly at the boundary: 5 sd. n counts in 1 s, no background: n / sqrt(n) = 5 at n = 25.
    assert measure_spills(0, [25, 1], 1.0, [0, 0], math.inf).net_cps == 25.0
    with pytest.raises(NotSignificant):
        measure_spills(0, [24, 1], 1.0, [0, 0], math.inf)
    assert MIN_SIGNIFICANCE == 5.0


@pytest.mark.parametrize(("args", "match"), [
    ((0, [10, 1], 0.0, [0, 0], 1.0), "live time"),
    ((0, [10, 1], 1.0, [0, 0], -1.0), "live time"),
    ((0, [10, -1], 1.0, [0, 0], 1.0), "window 1"),
    ((0, [10, float("nan")], 1.0, [0, 0], 1.0), "window 1"),
    ((0, [10, 1], 1.0, [0], 1.0), "background counts"),
    ((2, [10, 1], 1.0, [0, 0], 1.0), "window 2"),
    ((0, [100, 5000], 1.0, [0, 0], 1.0), "above 10"),
])
def test_impossible_counts_are_refused(args, match) -> None:
    with pytest.raises(AnalysisError, match=match):
        measure_spills(*args)


def test_combine_weights_by_inverse_variance() -> None:
    c = combine([Spill(1, 0, 0.10, 0.01), Spill(1, 0, 0.13, 0.02)])
    # weights 10000 and 2500: (1000 + 325) / 12500 = 0.106, sd 1/sqrt(12500).
    assert (c.source, c.target) == (1, 0)
    assert c.fraction == pytest.approx(0.106) and c.sd == pytest.approx(1 / math.sqrt(12500))
    assert combine([Spill(1, 0, 0.1, 0.0)]) == Spill(1, 0, 0.1, 0.0)
    with pytest.raises(AnalysisError, match="different pairs"):
        combine([Spill(1, 0, 0.1, 0.01), Spill(0, 1, 0.1, 0.01)])
    with pytest.raises(AnalysisError, match="without an sd"):
        combine([Spill(1, 0, 0.1, 0.01), Spill(1, 0, 0.1, 0.0)])
    with pytest.raises(AnalysisError):
        combine([])


def test_spill_matrix_combines_repeated_sources() -> None:
    first = measure_spills(1, [1000, 10000], 10.0, [0, 0], math.inf)
    second = measure_spills(1, [2200, 20000], 10.0, [0, 0], math.inf)
    third = measure_spills(0, [30000, 30], 10.0, [0, 0], math.inf)
    m = spill_matrix([first, second, third], 2)
    assert isinstance(m, SpillMatrix) and m.n_windows == 2
    assert m.fraction(1, 0) == combine([first.spills[0], second.spills[0]])
    assert m.fraction(0, 1) == third.spills[0]
    assert SpillMatrix.parse(m.texts(), 2) == m  # the record's text form reads back exactly


# ------------------------------------------------------------------ statistics

rates = st.tuples(
    st.floats(2000.0, 20000.0),  # the source's true rate in its own window, cps
    st.floats(0.02, 0.5),  # true spill fraction
    st.floats(0.2, 0.8),  # target background as a share of the target's source rate
    st.floats(0.05, 0.3),  # own-window background as a share of the source rate
    st.floats(3.0, 20.0),  # live time of the source count, s
    st.floats(1.5, 4.0),  # background live time / source live time
    st.integers(0, 2**31),  # seed of the draws
)


def _draws(r_s, f, bt_share, bs_share, live_s, bg_ratio, seed):
    """DRAWS Poisson counts of a source with true spill f: (f_hat, sd_hat) arrays, and the
    relative variance of the denominator, var(B) / B^2, from the true rates."""
    rng = np.random.default_rng(seed)
    r_t, b_t, b_s, live_b = f * r_s, bt_share * f * r_s, bs_share * r_s, bg_ratio * live_s
    n_s = rng.poisson((r_s + b_s) * live_s, DRAWS)
    n_t = rng.poisson((r_t + b_t) * live_s, DRAWS)
    m_s = rng.poisson(b_s * live_b, DRAWS)
    m_t = rng.poisson(b_t * live_b, DRAWS)
    out = np.array([spill_fraction(a, b, live_s, c, d, live_b)
                    for a, b, c, d in zip(n_s, n_t, m_s, m_t, strict=True)])
    rel_var_b = ((r_s + b_s) / live_s + b_s / live_b) / r_s**2
    return out[:, 0], out[:, 1], rel_var_b


@settings(max_examples=20, deadline=None, derandomize=True)
@given(rates)
def test_the_estimator_is_unbiased_to_first_order(params) -> None:
    """Mean of DRAWS estimates within 4 standard errors of f (1 + var(B)/B^2): E[A/B] to second
    order, A and B independent. That bias is first-order free but can reach 1 SE here (n_s
    ~6000 counts, 4000 draws), so it is in the expectation rather than the tolerance. A
    background subtracted with the wrong sign shifts the mean by 2 b_t / r_s, at least 0.4 f
    (b_t >= 0.2 f r_s): hundreds of SEs."""
    f_hat, _, rel_var_b = _draws(*params)
    expected = params[1] * (1 + rel_var_b)
    se = f_hat.std(ddof=1) / math.sqrt(DRAWS)
    assert abs(f_hat.mean() - expected) < 4 * se, (f_hat.mean(), expected, se)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(rates)
def test_the_reported_sd_matches_the_empirical_sd(params) -> None:
    """The sample sd of DRAWS normal-ish estimates has a relative sd of 1/sqrt(2 (DRAWS - 1))
    = 1.1 %: 4 of those (4.5 %) plus 1 % for the delta method's second order. Live times
    differ from 1 s and from each other, so a variance taken as n / L instead of n / L^2 (a
    factor L: 3 to 20) or with the background's live time swapped is caught."""
    f_hat, sd_hat, _ = _draws(*params)
    empirical = f_hat.std(ddof=1)
    tol = 4 / math.sqrt(2 * (DRAWS - 1)) + 0.01
    assert abs(np.mean(sd_hat) / empirical - 1) < tol, (np.mean(sd_hat), empirical)
