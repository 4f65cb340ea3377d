"""Squelch (silent until significant), the hot cue, and the feeder from session snapshots."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from probe_nav.audio import AudioFeedback, AudioSettings
from probe_nav.audio.alarms import LOW_BATTERY, NO_SIGNAL
from probe_nav.audio.cue import CUE_NOTES
from probe_nav.audio.feeder import FeedbackFeeder
from probe_nav.audio.pitch import rate_to_pitch_hz
from probe_nav.core.pipeline import PipelineConfig, Processor
from probe_nav.drivers.frames import CountFrame, FaultFlag, LinkState
from tests.audio.conftest import FS, band_energy, dominant_hz, reading

CONNECTED = LinkState.CONNECTED
FRAME = FS // 20  # samples per 50 ms frame


def test_squelch_is_silent_below_significance_then_sounds_the_pitch() -> None:
    fb = AudioFeedback(AudioSettings(mode="squelch", squelch_z=3.0))
    quiet = []
    for z in (0.0, 1.5, 2.9, -4.0, float("nan"), 2.99):
        fb.update(reading(12.0, z=z), CONNECTED, counts=1, live_s=0.05)
        quiet.append(fb.render(FRAME))
    assert np.abs(np.concatenate(quiet)).max() == 0.0
    fb.update(reading(40.0, z=3.2), CONNECTED, counts=2, live_s=0.05)
    fb.render(FRAME)
    x = np.concatenate([fb.render(FRAME) for _ in range(4)])
    assert abs(dominant_hz(x) / rate_to_pitch_hz(40.0) - 1) < 0.01
    # Hot opens it whatever z says.
    fb2 = AudioFeedback(AudioSettings(mode="squelch", hot_cue=False))
    fb2.update(reading(40.0, z=0.5, hot=True), CONNECTED)
    assert fb2.tone_target_hz is not None


def test_squelch_stays_open_while_no_background_is_set() -> None:
    """No background, no significance to squelch on: the sound follows the gross rate (a closed
    squelch would be sound silently off)."""
    from probe_nav.core.pipeline import Reading

    nan = float("nan")
    fb = AudioFeedback(AudioSettings(mode="squelch", squelch_z=3.0))
    fb.update(Reading(0.0, 12.0, 1.0, nan, nan, nan, nan, nan, False, False), CONNECTED,
              counts=1, live_s=0.05)
    fb.render(FRAME)
    x = np.concatenate([fb.render(FRAME) for _ in range(4)])
    assert abs(dominant_hz(x) / rate_to_pitch_hz(12.0) - 1) < 0.01


def test_squelch_closes_after_its_hold_time() -> None:
    fb = AudioFeedback(AudioSettings(mode="squelch"))
    fb.update(reading(40.0, z=5.0), CONNECTED)
    fb.render(FRAME)
    fb.update(reading(12.0, z=1.0), CONNECTED)
    assert fb.tone_target_hz is not None  # held open (no chatter on a borderline z)
    for _ in range(6):  # 0.3 s > SQUELCH_HOLD_S
        fb.render(FRAME)
    assert fb.tone_target_hz is None
    fb.render(FRAME)
    assert np.abs(fb.render(FRAME)).max() == 0.0


def cue_energy(x: np.ndarray) -> float:
    return sum(band_energy(x, f * 0.98, f * 1.02) for _, _, f in CUE_NOTES)


def test_hot_cue_sounds_on_the_hot_onset_only() -> None:
    fb = AudioFeedback(AudioSettings(mode="clicks"))  # no tone: only the cue can sound
    blocks = []
    for hot in (False, True, True, True, True, True, False, True, True, True, True, True):
        fb.update(reading(30.0, z=4.0, hot=hot), CONNECTED, counts=0, live_s=0.05)
        blocks.append(fb.render(FRAME))
    x = np.concatenate(blocks)
    first, second = x[FRAME:6 * FRAME], x[7 * FRAME:]
    assert np.abs(x[:FRAME]).max() == 0.0
    assert np.abs(x[6 * FRAME:7 * FRAME]).max() == 0.0  # over before the hot decision drops
    # One and the same cue per onset, nothing while hot persists.
    np.testing.assert_allclose(first, second, atol=1e-7)
    assert np.sum(first**2) > 0.0
    # Its energy is in its two notes.
    assert cue_energy(first) > 0.9 * band_energy(first, 20.0, FS / 2)
    silent = AudioFeedback(AudioSettings(mode="clicks", hot_cue=False))
    silent.update(reading(30.0, hot=True), CONNECTED)
    assert np.abs(silent.render(FS // 2)).max() == 0.0


def frame(seq: int, counts: int, flags: FaultFlag = FaultFlag.NONE) -> CountFrame:
    t = 0.05 * (seq + 1)
    return CountFrame(seq, t, 0.05, 0.05, (counts,), flags=flags)


def snap(link: LinkState, frames=(), battery_low: bool = False) -> SimpleNamespace:
    """What the feeder reads of a LiveSnapshot."""
    return SimpleNamespace(link=link, frames=tuple(frames), battery_low=battery_low)


def test_feeder_drives_the_feedback_from_session_snapshots() -> None:
    # The feeder has no processing of its own: it sounds the readings the session made.
    fb = AudioFeedback()
    feeder = FeedbackFeeder(fb)
    proc = Processor(PipelineConfig(meter="0.5", background_s=1.0))
    shown = [(proc.push(f), f) for f in (frame(i, 5) for i in range(40))]  # 100 cps
    feeder.feed(snap(CONNECTED, shown))
    assert fb.tone_target_hz is not None
    assert abs(fb.tone_target_hz / rate_to_pitch_hz(100.0) - 1) < 0.15
    assert feeder.last_reading is shown[-1][0]
    feeder.feed(snap(LinkState.DISCONNECTED))
    assert fb.active_alarm == NO_SIGNAL and fb.tone_target_hz is None
    assert feeder.last_reading is None  # nothing from before a gap is heard as live
    low = frame(60, 5, FaultFlag.LOW_BATTERY)
    feeder.feed(snap(CONNECTED, [(proc.push(low), low)]))
    assert fb.active_alarm == LOW_BATTERY
    ok = frame(61, 5)
    feeder.feed(snap(CONNECTED, [(proc.push(ok), ok)]))
    assert fb.active_alarm is None
    feeder.feed(snap(LinkState.STALE))
    assert fb.active_alarm == NO_SIGNAL
