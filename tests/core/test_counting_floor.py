"""The counting floor (over range rule 8): a counter that stops counting is caught, a working one
never is."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.calibration.deadtime import DeadTimeModel
from probe_nav.core.counting_floor import (
    ALPHA,
    CONFIRM_S,
    FLOOR_DIVISOR,
    FLOOR_WINDOW_S,
    CountingFloor,
)
from probe_nav.core.overrange import OverRangeDetector


def run(floor: CountingFloor, counts, real_s: float = 1.0, trusted: bool = True) -> list[bool]:
    return [floor.step(int(c), real_s, trusted) for c in counts]


def test_no_floor_before_a_window_is_confirmed():
    floor = CountingFloor()
    run(floor, [50] * int(FLOOR_WINDOW_S + CONFIRM_S - 1))
    assert floor.floor_cps is None
    run(floor, [50])
    assert floor.floor_cps == 50 / FLOOR_DIVISOR  # the lowest 3 s window, over the divisor


def test_a_stop_after_48_cps_is_caught_on_the_second_frame():
    floor = CountingFloor()
    run(floor, [48] * 10)
    # floor 4.8 cps: P(0 in 1 s) = e^-4.8 = 8e-3 > ALPHA; P(0 in 2 s) = e^-9.6 = 7e-5 <= ALPHA
    assert np.exp(-4.8) > ALPHA >= np.exp(-9.6)
    assert run(floor, [0, 0, 0]) == [False, True, True]


def test_the_stop_does_not_lower_the_floor_it_is_judged_against():
    floor = CountingFloor()
    run(floor, [48] * 10)
    run(floor, [0] * 10)
    assert floor.floor_cps == 4.8
    run(floor, [0] * 10, trusted=False)  # latched: nothing it counts is evidence
    run(floor, [3] * 2)  # back, but the windows still hold the stop
    assert floor.floor_cps == 4.8
    run(floor, [48] * 10)  # only windows wholly after the stop count: [0, 0, 48] would be 1.6
    assert floor.floor_cps == 4.8


def test_a_quieter_room_lowers_the_floor_and_is_not_a_stop():
    floor = CountingFloor()
    assert not any(run(floor, [48] * 10 + [5] * 20))  # 48 -> 5 cps: a tenth of 48 is 4.8
    assert floor.floor_cps == 0.5
    run(floor, [48] * 10)  # the floor is the least rate seen: a louder place does not raise it
    assert floor.floor_cps == 0.5


def test_the_floor_is_carried_to_a_new_tracker():
    a, b = CountingFloor(), CountingFloor()
    run(a, [48] * 10)
    b.carry_from(a)
    assert run(b, [0, 0]) == [False, True]


@settings(max_examples=30)
@given(rate_cps=st.floats(0.5, 5000.0), seed=st.integers(0, 2**32 - 1),
       real_s=st.sampled_from([0.05, 0.1, 1.0]))
def test_a_working_counter_is_never_below_its_floor(rate_cps, seed, real_s):
    # A hit needs a window of w s whose counts k satisfy P(X <= k | floor x w) <= ALPHA. Even
    # k = 0 needs floor x w >= ln(1/ALPHA) = 6.9, and the floor is about a tenth of the true
    # rate (the lowest 3 s window over 10), so the window's true mean is >= ~69 counts while
    # k is at most the ALPHA quantile of a tenth of it: P(hit) < P(X <= 7 | 69) ~ 1e-20 per
    # window. Over 300 s of frames (<= 6,000 frames x 4 windows) no hit is expected at all.
    rng = np.random.default_rng(seed)
    n = int(300 / real_s)
    floor = CountingFloor()
    below = run(floor, rng.poisson(rate_cps * real_s, n), real_s)
    assert sum(below) == 0


def test_rule_8_latches_a_gm_counter_and_only_without_measured_live_time():
    gm = DeadTimeModel("paralysable", 190e-6)
    counts = np.array([48] * 10 + [0] * 5)
    unmeasured = OverRangeDetector(gm, live_time_measured=False)
    flags = unmeasured.process(counts, np.ones(counts.size), np.ones(counts.size))
    assert not flags[:11].any() and flags[11:].all()
    measured = OverRangeDetector(gm, live_time_measured=True)
    # with measured live time a paralysed counter shows it in its live time (rules 2 and 7)
    assert not measured.process(counts, np.ones(counts.size), np.ones(counts.size)).any()


def test_rule_8_is_the_same_in_one_chunk_or_frame_by_frame():
    gm = DeadTimeModel("paralysable", 190e-6)
    rng = np.random.default_rng(3)
    counts = np.concatenate([rng.poisson(40, 20), np.zeros(5, int), rng.poisson(3, 10)])
    ones = np.ones(counts.size)
    batch = OverRangeDetector(gm, live_time_measured=False).process(counts, ones, ones)
    online = OverRangeDetector(gm, live_time_measured=False)
    one = [bool(online.process(counts[i:i + 1], ones[:1], ones[:1])[0])
           for i in range(counts.size)]
    assert batch.tolist() == one and batch.any()
