"""Timed counts: live or real time basis, no background, input checks, the end of a count."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.core.timed import TimedCount, timed_count

# A counter dead 20 % of the time: 40 ms live in every 50 ms frame, 3 counts per frame.
LIVE = np.full(100, 0.04)
REAL = np.full(100, 0.05)
COUNTS = np.full(100, 3)


def test_live_and_real_basis_count_different_frames() -> None:
    # 2 s of live time takes 2 / 0.04 = 50 frames (2.5 s real); 2 s of real time 40 frames
    # (1.6 s live). The rate is counts / live time either way: 3 / 0.04 = 75 cps.
    live = timed_count(COUNTS, LIVE, 2.0, basis="live", real_s=REAL)
    real = timed_count(COUNTS, LIVE, 2.0, basis="real", real_s=REAL)
    assert (live.counts, real.counts) == (150, 120)
    assert live.live_s == pytest.approx(2.0) and live.real_s == pytest.approx(2.5)
    assert real.live_s == pytest.approx(1.6) and real.real_s == pytest.approx(2.0)
    assert live.rate_cps == pytest.approx(75.0) and real.rate_cps == pytest.approx(75.0)
    # sd = sqrt(N) / T_live
    assert real.rate_sd_cps == pytest.approx(math.sqrt(120) / 1.6)
    # without real times, real time is taken to be the live time
    assert timed_count(COUNTS, LIVE, 2.0, basis="real").counts == 150


def test_without_a_background_the_net_rate_is_the_rate() -> None:
    res = timed_count(COUNTS, LIVE, 1.0)  # 25 frames, 75 counts in 1 s
    assert res.background_cps == 0.0 and res.background_sd_cps == 0.0
    assert res.net_cps == res.rate_cps == pytest.approx(75.0)
    assert res.net_sd_cps == pytest.approx(res.rate_sd_cps)
    # with no background B is floored at one count: P(N >= 4 | 1) = 1.9 % <= 5 % < P(N >= 3)
    # = 8.0 %, so 4 counts are significant and 1-3 are not (a zero B would call 1 significant)
    assert timed_count([4], [1.0], 1.0).significant
    assert not any(timed_count([n], [1.0], 1.0).significant for n in (0, 1, 2, 3))


def test_a_count_ends_with_the_frame_that_reaches_the_preset() -> None:
    tc = TimedCount(0.1)
    assert tc.add(np.array([], dtype=np.int64), np.array([])) == 0  # nothing to add
    assert tc.add([1, 2], [0.04, 0.04], t_s=[10.0, 10.05]) == 2 and not tc.complete
    assert tc.add([4, 8, 16], [0.04, 0.04, 0.04], t_s=[10.1, 10.15, 10.2]) == 1
    res = tc.result
    assert res.complete and res.counts == 7 and res.t_end_s == 10.1
    assert res.live_s == pytest.approx(0.12)
    assert tc.add([5], [0.04]) == 0 and tc.result.counts == 7  # complete: no more frames


@pytest.mark.parametrize("preset_s", [0.0, -1.0, math.inf, math.nan])
def test_preset_must_be_a_positive_finite_time(preset_s: float) -> None:
    with pytest.raises(ValueError, match="preset"):
        TimedCount(preset_s)


def test_bad_basis_and_mismatched_real_times() -> None:
    with pytest.raises(ValueError, match="basis"):
        TimedCount(1.0, basis="wall")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="real_s"):
        TimedCount(1.0).add([1, 2], [0.1, 0.1], real_s=[0.1])
