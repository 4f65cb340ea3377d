"""Over-range latch of a paralysable counter at exact levels of its maximum observed rate.

Deterministic frames: each plateau holds an observed rate m = z m_max (m_max = 1/(e tau)) for
whole frames, so once the 0.25 s window lies inside a plateau the detector sees exactly that z
(up to the rounding of counts to integers, 1 count in m_max x 50 ms = 1839, i.e. 0.0005 in z).
The levels: latch at z >= 0.8 (enter), a visit to z >= 0.95 flips "beyond the peak", release
only below z = 0.5 with an even number of passages over the top.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.calibration.deadtime import DeadTimeModel, paralysable_max_observed_cps
from probe_nav.core.overrange import OverRangeDetector

TAU_S = 10e-6
FRAME_S = 0.05
PLATEAU_FRAMES = 20  # 1 s per level: 4 x the 0.25 s window
M_MAX_CPS = paralysable_max_observed_cps(TAU_S)


def over_range_at_plateau_ends(levels: list[float]) -> list[bool]:
    """The flag on the last frame of each plateau of observed rate z * m_max."""
    counts = np.concatenate(
        [np.full(PLATEAU_FRAMES, round(z * M_MAX_CPS * FRAME_S)) for z in levels]
    )
    live = np.full(counts.size, FRAME_S)
    detector = OverRangeDetector(DeadTimeModel("paralysable", TAU_S), window_s=0.25)
    over = detector.process(counts, live, live)
    return over[PLATEAU_FRAMES - 1 :: PLATEAU_FRAMES].tolist()


def test_enter_and_release_levels() -> None:
    # 0.78 < 0.8: never latched; 0.82: latched; 0.6 and 0.52 (between release and enter): held;
    # 0.48 < 0.5 without a visit to the peak band: released; 0.6 again: not re-latched.
    levels = [0.3, 0.78, 0.82, 0.6, 0.52, 0.48, 0.6]
    assert over_range_at_plateau_ends(levels) == [False, False, True, True, True, False, False]


@settings(max_examples=25, deadline=None)
@given(enter=st.floats(0.81, 0.94), held=st.floats(0.51, 0.79), released=st.floats(0.0, 0.49))
def test_latch_holds_between_release_and_enter(enter: float, held: float, released: float) -> None:
    # Latched at any enter level below the peak band, held at any level in [0.5, 0.8), released
    # at any level below 0.5 (margins of 0.01 >> the 0.0005 rounding of counts).
    assert over_range_at_plateau_ends([0.2, enter, held, released]) == [False, True, True, False]


def test_passages_over_the_top() -> None:
    # One visit to the peak band (z >= 0.95) may be a passage over the top: the counter may be on
    # its falling branch, so a low reading (0.3) stays over range; a second visit may be the way
    # back, and 0.3 is then released.
    assert over_range_at_plateau_ends([0.97, 0.3]) == [True, True]
    assert over_range_at_plateau_ends([0.97, 0.3, 0.97, 0.3]) == [True, True, True, False]
    # A visit ends only below 0.85 (hysteresis): dipping to 0.9 and back is still one visit,
    # dipping to 0.84 makes the return to 0.97 a second one.
    assert over_range_at_plateau_ends([0.97, 0.9, 0.97, 0.3]) == [True, True, True, True]
    assert over_range_at_plateau_ends([0.97, 0.84, 0.97, 0.3]) == [True, True, True, False]


def test_latched_on_the_very_frame_that_reaches_the_enter_level() -> None:
    # A window shorter than a frame makes z the frame's own rate: the first frame at 0.82 is
    # already over range, the first frame back below 0.5 (no peak visit) is released.
    z = np.array([0.3, 0.55, 0.79, 0.82, 0.82, 0.6, 0.6, 0.45, 0.45])
    counts = np.round(z * M_MAX_CPS * FRAME_S)
    live = np.full(z.size, FRAME_S)
    detector = OverRangeDetector(DeadTimeModel("paralysable", TAU_S), window_s=0.01)
    np.testing.assert_array_equal(detector.process(counts, live, live),
                                  [False, False, False, True, True, True, True, False, False])


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
    detector = OverRangeDetector(DeadTimeModel("paralysable", TAU_S), window_s=0.01)
    live = np.full(PLATEAU_FRAMES, FRAME_S)
    high = np.full(PLATEAU_FRAMES, round(0.97 * M_MAX_CPS * FRAME_S))
    assert detector.process(high, live, live).all() and detector.latched
    detector.clear()
    assert not detector.latched and not detector.beyond_peak
    middle = np.full(PLATEAU_FRAMES, round(0.6 * M_MAX_CPS * FRAME_S))
    assert not detector.process(middle, live, live).any()
