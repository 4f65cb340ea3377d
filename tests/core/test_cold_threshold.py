"""The hot -> cold threshold h_c solves the two Wald conditions of its docstring.

With r the hot/background ratio (at least the bank's smallest, 1.2), I0 = b (r - 1 - ln r) and
I1 = b (r ln r - r + 1): the false "cold" interval inside a hot spot is (e^h - h - 1)/I1 and the
mean cold delay (h + e^-h - 1)/I0, both increasing in h. h_c is the largest h for which neither
exceeds its limit (COLD_FALSE_S, COLD_DELAY_CAP_S), so both hold and one holds with equality.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.core.detect import COLD_DELAY_CAP_S, COLD_FALSE_S, RATIOS, cold_threshold

REL = 1e-9  # the fixed-point and Newton iterations converge to ~1e-12 on this domain


def wald_figures(h: np.ndarray, ratio: np.ndarray, b: float) -> tuple[np.ndarray, np.ndarray]:
    """(false-cold interval, mean cold delay) in seconds for threshold h."""
    r = np.maximum(ratio, RATIOS[0])
    lr = np.log(r)
    i0 = b * (r - 1.0 - lr)
    i1 = b * (r * lr - r + 1.0)
    false_s = (np.expm1(h) - h) / i1  # e^h - h - 1 without cancellation
    delay_s = (h + np.expm1(-h)) / i0  # h + e^-h - 1
    return false_s, delay_s


@settings(max_examples=200, deadline=None)
@given(b=st.floats(0.01, 1e4), ratios=st.lists(st.floats(1.2, 50.0), min_size=1, max_size=8))
def test_cold_threshold_meets_both_limits_with_one_binding(b: float, ratios: list[float]) -> None:
    ratio = np.asarray(ratios)
    h = cold_threshold(ratio, b)
    assert h.shape == ratio.shape and np.all(h > 0)
    false_s, delay_s = wald_figures(h, ratio, b)
    assert np.all(false_s <= COLD_FALSE_S * (1 + REL))
    assert np.all(delay_s <= COLD_DELAY_CAP_S * (1 + REL))
    binding = np.isclose(false_s, COLD_FALSE_S, rtol=REL, atol=0) | np.isclose(
        delay_s, COLD_DELAY_CAP_S, rtol=REL, atol=0)
    assert binding.all()


def test_cold_threshold_known_regimes() -> None:
    # b = 1000 cps, r = 2: I1 = 1000 (2 ln 2 - 1) = 386.3 /s, so e^h - h - 1 = 600 x 386.3 gives
    # h = 12.3536 (false-cold interval binding; the delay is then 12.35/I0 = 0.04 s, far below 4 s).
    # b = 0.1 cps, r = 2: I0 = 0.1 (1 - ln 2) = 0.0307 /s, h + e^-h - 1 = 4 x 0.0307 gives
    # h = 0.5400 (delay binding). The delay cap is given explicitly (4 s), so that the worked
    # figures do not depend on the default COLD_DELAY_CAP_S.
    np.testing.assert_allclose(cold_threshold(np.array([2.0]), 1000.0, 4.0), [12.353587],
                               rtol=1e-6)
    np.testing.assert_allclose(cold_threshold(np.array([2.0]), 0.1, 4.0), [0.539983], rtol=1e-5)
    # below the grid's smallest ratio the ratio is taken as 1.2
    np.testing.assert_array_equal(cold_threshold(np.array([1.0, 1.2]), 5.0)[0],
                                  cold_threshold(np.array([1.2]), 5.0)[0])
