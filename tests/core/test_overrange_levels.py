"""Over-range levels of a paralysable counter at exact plateaus of its maximum observed rate.

Deterministic frames: each plateau holds an observed rate m = z m_max (m_max = 1/(e tau)) for
whole frames (rounding of counts: 1 count in m_max x 50 ms = 1839, i.e. 0.0005 in z). The levels
(changed on purpose in issue 14, core/overrange.py): the ceiling latches at z >= 0.8; without
measured live time a frame latches from the passage level z_pass(G T) less 3 sd (G = 25/s, T =
50 ms: z_pass = 0.734, threshold 0.674); release needs 3 s of z < 0.5 with live time >= 0.5 of
real time, and for a paralysable counter that live time must be measured.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.calibration.deadtime import DeadTimeModel, paralysable_max_observed_cps
from probe_nav.core.overrange import OverRangeDetector, passage_fraction

TAU_S = 10e-6
FRAME_S = 0.05
PLATEAU_FRAMES = 80  # 4 s per level: the 3 s hold plus the 0.25 s window, with room
M_MAX_CPS = paralysable_max_observed_cps(TAU_S)
THRESHOLD_Z = 0.734 - 3.0 * np.sqrt(0.734 / (M_MAX_CPS * FRAME_S))  # 0.674


def over_range_at_plateau_ends(levels: list[float], measured: bool = True,
                               window_s: float = 0.25) -> list[bool]:
    """The flag on the last frame of each plateau of observed rate z * m_max; with `measured`
    the live time is that of the rising branch (exp(-n tau), n tau = -W(-z/e))."""
    z = np.concatenate([np.full(PLATEAU_FRAMES, level) for level in levels])
    counts = np.round(z * M_MAX_CPS * FRAME_S)
    real = np.full(counts.size, FRAME_S)
    model = DeadTimeModel("paralysable", TAU_S)
    live = real * np.exp(-model.true_cps(z * M_MAX_CPS) * TAU_S) if measured else real
    detector = OverRangeDetector(model, window_s=window_s, live_time_measured=measured)
    over = detector.process(counts, live, real)
    return over[PLATEAU_FRAMES - 1 :: PLATEAU_FRAMES].tolist()


def test_passage_fraction_values() -> None:
    # z_pass(L) = (1 - exp(1 - e^L)) / L: 1 for an instant, 0.734 at L = 1.25, 0.4 at 2.5,
    # 0.04 at 25 (1 - 1e-9 accuracy of the closed form is not needed: 4 digits)
    z = passage_fraction(25.0, np.array([0.0, 0.05, 0.1, 1.0]))
    np.testing.assert_allclose(z, [1.0, 0.73369, 0.39999, 0.04], rtol=1e-4)
    assert passage_fraction(10.0, 1.0) == pytest.approx(0.1, rel=1e-6)


def test_enter_and_release_levels_with_live_time() -> None:
    # 0.78 < 0.8: never latched; 0.82: latched; 0.6 and 0.52 (>= release): held; 0.48 < 0.5
    # for 3 s with the live time of the rising branch: released; 0.6 again: not re-latched.
    levels = [0.3, 0.78, 0.82, 0.6, 0.52, 0.48, 0.6]
    assert over_range_at_plateau_ends(levels) == [False, False, True, True, True, False, False]


def test_without_measured_live_time_the_passage_level_latches_for_good() -> None:
    # 0.66 is just under the 50 ms passage threshold 0.674, 0.69 just over it; a counter that
    # cannot show which branch it is on is not released by any low rate
    assert over_range_at_plateau_ends([0.3, 0.66], measured=False) == [False, False]
    assert over_range_at_plateau_ends([0.3, 0.69, 0.1, 0.01], measured=False) == [
        False, True, True, True]


@settings(max_examples=25, deadline=None)
@given(enter=st.floats(0.81, 0.99), held=st.floats(0.51, 0.79), released=st.floats(0.0, 0.49))
def test_latch_holds_between_release_and_enter(enter: float, held: float, released: float) -> None:
    # Latched at any level from 0.8 up, held at any level in [0.5, 0.8), released at any level
    # below 0.5 (margins of 0.01 >> the 0.0005 rounding of counts).
    assert over_range_at_plateau_ends([0.2, enter, held, released]) == [False, True, True, False]


def test_release_takes_three_seconds_of_recovery() -> None:
    # After a latch at 0.9, frames at 0.3 release it on the frame that completes 3 s of them
    # (60 frames of 50 ms); one frame back at 0.9 restarts the count.
    z = np.r_[np.full(10, 0.9), np.full(59, 0.3), 0.9, np.full(70, 0.3)]
    counts = np.round(z * M_MAX_CPS * FRAME_S)
    real = np.full(z.size, FRAME_S)
    model = DeadTimeModel("paralysable", TAU_S)
    live = real * np.exp(-model.true_cps(z * M_MAX_CPS) * TAU_S)
    over = OverRangeDetector(model, window_s=0.01, live_time_measured=True).process(
        counts, live, real)
    first_free = int(np.flatnonzero(~over)[0])
    assert over[:first_free].all() and not over[first_free:].any()
    assert first_free == 10 + 59 + 1 + 59  # the 60th recovered frame after the last trigger


def test_impossible_fall_latches_without_live_time() -> None:
    # 1000 counts then 5 in the next 50 ms frame: a fall by 200 where a hand-held probe allows
    # exp(25 x 0.1) = 12 (with 4 sd on both counts): the falling branch. A fall by 8 is allowed.
    real = np.full(3, FRAME_S)
    model = DeadTimeModel("paralysable", 100e-6)  # m_max x 50 ms = 184: the levels stay far away
    steep = OverRangeDetector(model, live_time_measured=False).process([60, 60, 0], real, real)
    np.testing.assert_array_equal(steep, [False, False, False])  # 60 -> 0 is within 4 sd x 12
    det = OverRangeDetector(DeadTimeModel("paralysable", 1e-6), live_time_measured=False)
    np.testing.assert_array_equal(det.process([1000, 5, 5], real, real), [False, True, True])
    det = OverRangeDetector(DeadTimeModel("paralysable", 1e-6), live_time_measured=False)
    assert not det.process([1000, 125, 125], real, real).any()
    det = OverRangeDetector(DeadTimeModel("paralysable", 1e-6), live_time_measured=True)
    assert not det.process([1000, 5, 5], real, real).any()  # live time says which branch


def test_live_time_measured_is_judged_from_the_frames() -> None:
    det = OverRangeDetector(DeadTimeModel("paralysable", TAU_S))
    real = np.full(2, FRAME_S)
    det.process([10, 10], real, real)
    assert not det.live_time_measured
    det.process([10], [FRAME_S * 0.999], [FRAME_S])
    assert det.live_time_measured
    fresh = OverRangeDetector(DeadTimeModel("paralysable", TAU_S))
    fresh.carry_from(det)  # a session restarting its estimate keeps what it knew
    assert fresh.live_time_measured
    declared = OverRangeDetector(DeadTimeModel("paralysable", TAU_S), live_time_measured=False)
    declared.process([10], [FRAME_S * 0.5], [FRAME_S])
    assert not declared.live_time_measured


def test_observed_rate_over_the_window() -> None:
    # Frames of 0.25 s, window 0.5 s (exact in binary): the rate at frame p is the counts of
    # frames p-1 and p over 0.5 s; the first frame alone is 10 / 0.25 = 40 cps.
    counts = np.array([10, 20, 30, 40, 0, 0, 100])
    expected = [40.0, 60.0, 100.0, 140.0, 80.0, 0.0, 200.0]
    real = np.full(counts.size, 0.25)
    np.testing.assert_array_equal(
        OverRangeDetector(window_s=0.5).observed_cps(counts, real), expected)
    # frame by frame (the history is trimmed as it goes) gives the same rates
    one = OverRangeDetector(window_s=0.5)
    np.testing.assert_array_equal(
        np.concatenate([one.observed_cps(counts[i : i + 1], real[i : i + 1])
                        for i in range(counts.size)]), expected)


def test_a_fresh_or_cleared_detector_judges_the_next_frames_afresh() -> None:
    # 0.6 of the maximum is below the enter level: not over range for a new detector, nor after
    # the user cleared a latch (nothing carries over from before the clear)
    assert over_range_at_plateau_ends([0.6]) == [False]
    detector = OverRangeDetector(DeadTimeModel("paralysable", TAU_S), window_s=0.01,
                                 live_time_measured=True)
    live = np.full(PLATEAU_FRAMES, FRAME_S)
    high = np.full(PLATEAU_FRAMES, round(0.97 * M_MAX_CPS * FRAME_S))
    assert detector.process(high, live, live).all() and detector.latched
    detector.clear()
    assert not detector.latched
    middle = np.full(PLATEAU_FRAMES, round(0.6 * M_MAX_CPS * FRAME_S))
    assert not detector.process(middle, live, live).any()


def test_hidden_paralysis_inside_a_frame_with_measured_live_time() -> None:
    # Rule 7. Each test frame is half at n tau = 0.01 (1000 cps) and half at a higher load;
    # counts and live time are their expected values: counts n e^(-n tau) x 25 ms per half,
    # live time e^(-n tau) x 25 ms per half.
    def frame(load: float) -> tuple[float, float]:
        counts = 0.025 * (1e3 * np.exp(-0.01) + load / TAU_S * np.exp(-load))
        live = 0.025 * (np.exp(-0.01) + np.exp(-load))
        return round(counts), live

    steady = [frame(0.01)] * 5
    model = DeadTimeModel("paralysable", TAU_S)
    for load, expected in ((5.0, True), (1.0, False)):
        # 5: 109 counts, live 0.498 of real; the live time implies a load of 0.70, the counts
        # (+4 sd) 0.06: the second half was paralysed. z = 0.06 and live >= 0.2: no other rule.
        # 1: 944 counts, live 0.68: 0.39 against 0.31 (a rise on the rising branch): no trigger.
        counts, live = zip(*steady, frame(load), strict=True)
        real = np.full(len(counts), FRAME_S)
        over = OverRangeDetector(model, window_s=0.01, live_time_measured=True).process(
            np.array(counts), np.array(live), real)
        assert over.tolist() == [False] * 5 + [expected], load
        blind = OverRangeDetector(model, window_s=0.01, live_time_measured=False).process(
            np.array(counts), np.array(live), real)
        assert not blind[-1] or not expected  # counts alone (z = 0.06) cannot see it
