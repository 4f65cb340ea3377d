"""Geiger clicks: one per count below the decimation rate, Poisson-faithful placement, the
documented decimation rule above it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from probe_nav.audio import AudioFeedback, AudioSettings
from probe_nav.audio.clicks import MIN_SPACING_S, ClickTrack, click_waveform, decimation_factor
from probe_nav.drivers.frames import LinkState
from tests.audio.conftest import FS, reading

CLICK_N = click_waveform(FS).size


def click_onsets(x: np.ndarray) -> np.ndarray:
    """Sample indices where clicks start: groups of loud samples separated by more than half a
    click of quiet (clicks start at least 2 ms apart and last 1 ms, so they never merge)."""
    loud = np.flatnonzero(np.abs(x) > 1e-3)
    if loud.size == 0:
        return loud
    return np.concatenate([loud[:1], loud[1:][np.diff(loud) > CLICK_N // 2]])


def count_clicks(x: np.ndarray) -> int:
    """How many clicks start in a buffer."""
    return int(click_onsets(x).size)


def play_frames(counts: list[int], live_s: float = 0.05, rate_cps: float | None = None,
                seed: int = 0, max_rate: float = 200.0) -> tuple[np.ndarray, AudioFeedback]:
    fb = AudioFeedback(AudioSettings(mode="clicks", click_max_rate_cps=max_rate), seed=seed)
    block = round(live_s * FS)
    out = []
    for c in counts:
        r = rate_cps if rate_cps is not None else c / live_s
        fb.update(reading(r), LinkState.CONNECTED, counts=c, live_s=live_s)
        out.append(fb.render(block))
    out.append(fb.render(FS // 10))  # the last frame's clicks and tails
    return np.concatenate(out), fb


@pytest.mark.parametrize("counts", [[0], [1], [3, 0, 7], [5] * 20, [9, 2, 9, 0, 1, 9]])
def test_one_click_per_count_below_the_decimation_rate(counts: list[int]) -> None:
    x, _ = play_frames(counts)
    assert count_clicks(x) == sum(counts)


def test_each_click_is_heard_in_its_frame_interval() -> None:
    """A frame's clicks fall inside the frame-long slot that follows its arrival."""
    x, _ = play_frames([0, 4, 0, 0, 6, 0])
    block = int(0.05 * FS)
    onsets = click_onsets(x)  # a click is loud from its very first sample
    per_block = np.bincount(onsets // block, minlength=6)[:6].tolist()
    assert per_block == [0, 4, 0, 0, 6, 0]


def test_click_times_are_uniform_within_the_frame_like_a_poisson_process() -> None:
    """Given N counts in an interval, Poisson event times are iid uniform: a KS test on the
    positions of 5,000 clicks (spacing pushes change them by < 2 ms of 1 s frames)."""
    track = ClickTrack(FS, seed=7)
    positions = []
    now = 0
    for _ in range(250):
        track.add_frame(20, 1.0, now)
        block = track._pending.copy()  # the scheduled positions of this frame
        track._pending.clear()
        positions.extend((np.array(block) - now) / FS)
        now += FS
    p = stats.kstest(positions, "uniform").pvalue
    assert p > 0.001  # fails by chance 1 time in 1000
    assert min(np.diff(sorted(block))) >= MIN_SPACING_S * FS


def test_decimation_rule() -> None:
    assert decimation_factor(50.0, 200.0) == 1
    assert decimation_factor(200.0, 200.0) == 1
    assert decimation_factor(201.0, 200.0) == 2
    assert decimation_factor(1000.0, 200.0) == 5
    assert decimation_factor(1001.0, 200.0) == 6
    assert decimation_factor(float("nan"), 200.0) == 1
    assert decimation_factor(float("inf"), 200.0) >= 1000


def test_decimated_clicks_are_every_kth_count_with_the_remainder_carried() -> None:
    # 1,000 cps with a 200 cps limit: one click per 5 counts; 50 frames of 50 counts (7 not a
    # multiple of 5 on purpose) -> exactly floor(total / 5) clicks.
    counts = [50, 53, 47, 51, 49] * 10
    x, _fb = play_frames(counts, rate_cps=1000.0)
    assert count_clicks(x) == sum(counts) // 5
    # The click rate stays below the limit.
    duration_s = 0.05 * len(counts)
    assert count_clicks(x) / duration_s <= 200.0


def test_clicks_stop_when_the_link_goes() -> None:
    fb = AudioFeedback(AudioSettings(mode="clicks"))
    fb.update(reading(100.0), LinkState.CONNECTED, counts=5, live_s=0.05)
    fb.update(None, LinkState.DISCONNECTED)
    x = fb.render(FS // 10)
    # What plays is exactly the alarm of a feedback that never had a click to play.
    alarm_only = AudioFeedback(AudioSettings(mode="clicks"))
    alarm_only.update(None, LinkState.DISCONNECTED)
    np.testing.assert_array_equal(x, alarm_only.render(FS // 10))
