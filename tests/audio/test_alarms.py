"""Alarms: IEC 60601-1-8-style timing, priority, acknowledge and re-alarm, the count tone stopping
at once when the data stops, and sounds that cannot be taken for the count tone."""

from __future__ import annotations

import numpy as np
import pytest

from probe_nav.audio import AudioFeedback, AudioSettings
from probe_nav.audio.alarms import (
    LOW_BATTERY,
    NO_SIGNAL,
    OVER_RANGE,
    PATTERNS,
    AlarmSequencer,
)
from probe_nav.audio.pitch import rate_to_pitch_hz
from probe_nav.drivers.frames import LinkState
from tests.audio.conftest import FS, band_energy, reading

CONNECTED, STALE, DISCONNECTED = LinkState.CONNECTED, LinkState.STALE, LinkState.DISCONNECTED


def envelope(x: np.ndarray, fundamental_hz: float) -> np.ndarray:
    """RMS over a sliding window of five periods (steady on a steady periodic sound)."""
    n = round(5 * FS / fundamental_hz)
    return np.sqrt(np.convolve(x * x, np.ones(n) / n, mode="same"))


def pulses(x: np.ndarray, fundamental_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Starts and ends (s) of the pulses, where the envelope crosses half its maximum
    (crossings closer than 20 ms, ripple of the window, are merged)."""
    env = envelope(x, fundamental_hz)
    edges = np.diff((env > 0.5 * env.max()).astype(int))
    up, down = np.flatnonzero(edges == 1) / FS, np.flatnonzero(edges == -1) / FS
    keep_up = np.concatenate([[True], up[1:] - down[:-1][: up.size - 1] > 0.02])
    keep_down = np.concatenate([down[:-1][: up.size - 1][keep_up[1:]], down[-1:]])
    return up[keep_up], keep_down


@pytest.mark.parametrize("name", [NO_SIGNAL, OVER_RANGE, LOW_BATTERY])
def test_alarm_pattern_timing(name: str) -> None:
    pattern = PATTERNS[name]
    seq = AlarmSequencer(FS)
    seq.set_present({name}, 0)
    n_bursts = 2
    x = np.concatenate([seq.render(i, 960) for i in range(0, int(n_bursts * pattern.period_s
                                                                   * FS), 960)])
    starts, ends = pulses(x, pattern.fundamental_hz)
    expected = np.concatenate([np.array(pattern.pulse_starts_s) + b * pattern.period_s
                               for b in range(n_bursts)])
    assert starts.size == expected.size
    rise = pattern.rise_fraction * pattern.pulse_s
    # Half-envelope crossings sit half a rise after the start and half a fall before the end
    # (+- the 5 ms RMS window's blur).
    np.testing.assert_allclose(starts, expected + rise / 2, atol=0.003)
    np.testing.assert_allclose(ends - starts, pattern.pulse_s - rise, atol=0.004)
    # IEC 60601-1-8 ranges: pulse 75-200 ms (high) or 125-250 ms; rise 10-20 % of the pulse;
    # high priority: 10 pulses per burst, medium: 3, low: 1 or 2.
    lo, hi = (0.075, 0.2) if pattern.priority == 3 else (0.125, 0.25)
    assert lo <= pattern.pulse_s <= hi
    assert 0.1 <= pattern.rise_fraction <= 0.2
    assert len(pattern.pulse_starts_s) == {3: 10, 2: 3, 1: 2}[pattern.priority]


def test_alarm_sound_is_harmonic_rich_unlike_the_count_tone() -> None:
    seq = AlarmSequencer(FS)
    seq.set_present({NO_SIGNAL}, 0)
    x = seq.render(0, int(0.15 * FS))
    f0 = PATTERNS[NO_SIGNAL].fundamental_hz
    e1 = band_energy(x, f0 * 0.95, f0 * 1.05)
    for h in (2, 3, 4, 5):  # four harmonics within 15 dB of the fundamental
        assert band_energy(x, h * f0 * 0.97, h * f0 * 1.03) > e1 * 10 ** (-15 / 10)
    fb = AudioFeedback()
    fb.update(reading(rate_cps=30.0), CONNECTED)
    fb.render(FS // 10)
    tone = fb.render(int(0.15 * FS))
    f = rate_to_pitch_hz(30.0)
    t1 = band_energy(tone, f * 0.95, f * 1.05)
    assert band_energy(tone, 2 * f * 0.97, 2 * f * 1.03) < t1 * 1e-4  # a pure tone


def test_no_signal_stops_the_count_tone_at_once_and_starts_the_alarm() -> None:
    fb = AudioFeedback(AudioSettings(ramp_ms=8.0))
    fb.update(reading(100.0), CONNECTED, counts=5, live_s=0.05)
    fb.render(FS // 5)
    assert fb.active_alarm is None and fb.tone_target_hz is not None
    fb.update(None, DISCONNECTED)
    assert fb.active_alarm == NO_SIGNAL and fb.alarm_sounding == NO_SIGNAL
    assert fb.tone_target_hz is None
    x = fb.render(FS)
    reference = AudioFeedback()  # the alarm alone
    reference.update(None, DISCONNECTED)
    y = reference.render(FS)
    ramp = int(0.008 * FS)
    np.testing.assert_allclose(x[ramp:], y[ramp:], atol=1e-6)  # nothing but the alarm
    assert np.abs(x[:ramp] - y[:ramp]).max() > 0  # the tone's ramp down


@pytest.mark.parametrize("state", [STALE, DISCONNECTED])
def test_stale_and_disconnected_are_no_signal(state: LinkState) -> None:
    fb = AudioFeedback()
    fb.update(reading(10.0), CONNECTED)
    fb.update(reading(10.0), state)  # a reading with a dead link is not live
    assert fb.active_alarm == NO_SIGNAL and fb.tone_target_hz is None


def test_connecting_is_silent_without_alarm() -> None:
    fb = AudioFeedback()
    fb.update(None, LinkState.CONNECTING)
    assert fb.active_alarm is None
    assert np.abs(fb.render(FS)).max() == 0.0


def test_watchdog_when_updates_stop() -> None:
    """A consumer that stops calling update() (the data stopped) must not leave a live tone."""
    fb = AudioFeedback()
    fb.update(reading(50.0), CONNECTED, counts=2, live_s=0.05)
    for _ in range(9):
        fb.render(FS // 10)
    assert fb.active_alarm is None  # 0.9 s: under the 1 s minimum
    fb.render(FS // 5)  # the watchdog looks at the start of each block
    fb.render(1)
    assert fb.active_alarm == NO_SIGNAL and fb.tone_target_hz is None
    fb.update(reading(50.0), CONNECTED, counts=2, live_s=0.05)
    assert fb.active_alarm is None and fb.tone_target_hz is not None


def test_acknowledge_silences_and_the_alarm_returns_while_the_condition_persists() -> None:
    fb = AudioFeedback(AudioSettings(alarm_realarm_s=2.0))
    fb.update(None, DISCONNECTED)
    block = FS // 100
    fb.render(FS)
    fb.acknowledge_alarm()
    assert fb.active_alarm == NO_SIGNAL and fb.alarm_sounding is None
    quiet = np.concatenate([fb.render(block) for _ in range(195)])
    assert np.abs(quiet[int(0.006 * FS):]).max() == 0.0  # after the fade: silence
    back = np.concatenate([fb.render(block) for _ in range(100)])
    assert fb.alarm_sounding == NO_SIGNAL
    onset = np.flatnonzero(np.abs(back) > 0)[0] / FS
    assert onset == pytest.approx(0.05, abs=0.011)  # 2 s after the acknowledgement


def test_an_alarm_that_clears_and_comes_back_sounds_at_once() -> None:
    fb = AudioFeedback(AudioSettings(alarm_realarm_s=100.0))
    fb.update(None, DISCONNECTED)
    fb.acknowledge_alarm()
    fb.update(reading(10.0), CONNECTED)
    assert fb.active_alarm is None
    fb.update(None, STALE)
    assert fb.alarm_sounding == NO_SIGNAL


def test_priority_over_range_and_low_battery() -> None:
    fb = AudioFeedback()
    fb.update(reading(10.0), CONNECTED, battery_low=True)
    assert fb.active_alarm == LOW_BATTERY
    assert fb.tone_target_hz is not None  # low battery: the count tone goes on
    fb.update(reading(1e6, over_range=True), CONNECTED, battery_low=True)
    assert fb.active_alarm == OVER_RANGE
    assert fb.tone_target_hz is None  # a saturated reading is not sounded as a rate
    fb.update(None, DISCONNECTED, battery_low=True)
    assert fb.active_alarm == NO_SIGNAL
    fb.acknowledge_alarm()
    assert fb.alarm_sounding is None and fb.active_alarm == NO_SIGNAL
    fb.update(reading(10.0), CONNECTED, battery_low=False)
    assert fb.active_alarm is None


def test_mute_does_not_silence_alarms() -> None:
    fb = AudioFeedback(AudioSettings(muted=True, volume=0.0))
    fb.update(None, DISCONNECTED)
    x = fb.render(FS // 5)
    assert np.abs(x).max() > 0.1  # alarm_min_volume


@pytest.mark.parametrize("alarm", [NO_SIGNAL, OVER_RANGE, LOW_BATTERY])
def test_muted_every_alarm_still_sounds_and_the_count_tone_does_not(alarm: str) -> None:
    """Mute (and volume 0) silence the count feedback only: each alarm is heard at
    alarm_min_volume, on its own fundamental."""
    fb = AudioFeedback(AudioSettings(muted=True, volume=0.0))
    fb.update(reading(300.0), CONNECTED, counts=15, live_s=0.05)
    assert np.abs(fb.render(FS // 5)).max() == 0.0  # muted: the count tone is silent
    if alarm == NO_SIGNAL:
        fb.update(None, DISCONNECTED)
    else:
        fb.update(reading(1e6, over_range=alarm == OVER_RANGE), CONNECTED, counts=15,
                  live_s=0.05, battery_low=alarm == LOW_BATTERY)
    x = fb.render(int(PATTERNS[alarm].pulse_s * FS))  # the first pulse of the burst
    assert fb.alarm_sounding == alarm
    # the pulse peaks at ALARM_LEVEL 0.5 x alarm_min_volume 0.5 x the waveform's peak (> 0.5)
    assert np.abs(x).max() > 0.1
    assert band_energy(x, 0.9 * PATTERNS[alarm].fundamental_hz,
                       1.1 * PATTERNS[alarm].fundamental_hz) > 0.2 * band_energy(x, 20, 20000)
