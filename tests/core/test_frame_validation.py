"""Every estimator refuses frames that cannot be counts: negative counts, bad live times."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.core.background import BackgroundMeasurement
from probe_nav.core.overrange import OverRangeDetector
from probe_nav.core.rate import make_meter
from probe_nav.core.timed import TimedCount


def consumers() -> list:
    """One `process`/`add` callable of each estimator taking (counts, live_s)."""
    bg = BackgroundMeasurement()
    bg.start()
    return [make_meter("adaptive").process, make_meter("1").process, TimedCount(1.0).add,
            bg.add, OverRangeDetector().process]


@pytest.mark.parametrize(("counts", "live_s", "message"), [
    ([1, -1], [0.1, 0.1], "counts must not be negative"),
    ([1, 1], [0.1, -0.1], "live_s must be finite and not negative"),
    ([1, 1], [0.1, math.nan], "live_s must be finite and not negative"),
    ([1, 1], [0.1, math.inf], "live_s must be finite and not negative"),
    ([1, 1], [0.1], "differ in length"),
])
def test_bad_frames_are_refused(counts: list[int], live_s: list[float], message: str) -> None:
    for consume in consumers():
        with pytest.raises(ValueError, match=message):
            consume(np.asarray(counts), np.asarray(live_s))


def test_counts_of_any_shape_are_frames_in_order() -> None:
    # a (2, 2) block is four frames in row order, exactly as the flat array
    block = np.array([[1, 2], [3, 4]])
    flat = make_meter("1").process(block.ravel(), np.full(4, 0.5)).rate_cps
    np.testing.assert_array_equal(make_meter("1").process(block, np.full((2, 2), 0.5)).rate_cps,
                                  flat)
