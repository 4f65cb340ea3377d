"""The count tone: the log rate-to-pitch map, its frequency by FFT, phase continuity, ramps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.audio import AudioFeedback, AudioSettings
from probe_nav.audio.feedback import TONE_LEVEL
from probe_nav.audio.pitch import pitch_to_rate_cps, rate_to_pitch_hz
from probe_nav.audio.tone import ToneOscillator
from probe_nav.drivers.frames import LinkState
from tests.audio.conftest import FS, dominant_hz, reading

CONNECTED = LinkState.CONNECTED


def test_map_is_logarithmic_and_clipped() -> None:
    assert rate_to_pitch_hz(1.0) == 200.0
    assert rate_to_pitch_hz(10000.0) == 2000.0
    # Four decades of rate over one decade of pitch: x10 in rate is x10**0.25 in pitch.
    for r in (2.0, 30.0, 700.0):
        assert rate_to_pitch_hz(10 * r) / rate_to_pitch_hz(r) == pytest.approx(10**0.25)
    assert rate_to_pitch_hz(100.0) == pytest.approx(math.sqrt(200.0 * 2000.0))
    assert rate_to_pitch_hz(0.0) == 200.0 and rate_to_pitch_hz(-5.0) == 200.0
    assert rate_to_pitch_hz(math.inf) == 2000.0 and rate_to_pitch_hz(1e30) == 2000.0
    assert rate_to_pitch_hz(math.nan) is None
    assert pitch_to_rate_cps(rate_to_pitch_hz(123.0)) == pytest.approx(123.0)


@pytest.mark.parametrize(
    ("settings", "rates"),
    [
        (AudioSettings(), (0.0, 1.0, 3.0, 47.0, 250.0, 3000.0, 10000.0, 1e6)),
        (AudioSettings(pitch_min_hz=100.0, pitch_max_hz=4000.0, rate_min_cps=0.1,
                       rate_max_cps=1e5), (0.05, 0.5, 20.0, 900.0, 5e4)),
    ],
)
def test_tone_frequency_by_fft_within_one_percent(settings: AudioSettings, rates) -> None:
    for rate in rates:
        fb = AudioFeedback(settings)
        fb.update(reading(rate), CONNECTED, counts=0, live_s=0.05)
        fb.render(FS // 10)  # glide and ramp settle
        x = fb.render(FS // 2)
        expected = rate_to_pitch_hz(
            rate, pitch_min_hz=settings.pitch_min_hz, pitch_max_hz=settings.pitch_max_hz,
            rate_min_cps=settings.rate_min_cps, rate_max_cps=settings.rate_max_cps)
        assert dominant_hz(x) == pytest.approx(expected, rel=0.01), rate
        assert np.max(np.abs(x)) == pytest.approx(TONE_LEVEL * settings.volume, rel=1e-3)


def test_pitch_change_is_phase_continuous() -> None:
    """Across a jump of the target from 250 to 1800 Hz no step between samples exceeds the
    steepest slope of the steady tone at the higher pitch (A * 2 pi f / fs)."""
    fb = AudioFeedback(AudioSettings(volume=1.0))
    lo, hi = 6.0, 4000.0
    fb.update(reading(lo), CONNECTED)
    x = [fb.render(4801)]
    fb.update(reading(hi), CONNECTED)
    x.append(fb.render(9600))
    fb.update(reading(lo), CONNECTED)
    x.append(fb.render(9600))
    y = np.concatenate(x)
    f_hi = rate_to_pitch_hz(hi)
    slope_limit = TONE_LEVEL * 2 * math.pi * f_hi / FS
    steps = np.abs(np.diff(y))
    assert steps.max() <= slope_limit * 1.0001
    # ... whereas restarting the phase at the change (the naive way) would break the limit.
    naive = np.concatenate([y[:4801], TONE_LEVEL * np.sin(2 * math.pi * f_hi * np.arange(10) / FS)])
    assert np.abs(np.diff(naive)).max() > slope_limit


def test_output_does_not_depend_on_block_sizes() -> None:
    def run(blocks: list[int]) -> np.ndarray:
        fb = AudioFeedback(AudioSettings())
        fb.update(reading(20.0), CONNECTED)
        out = [fb.render(2000)]
        fb.update(reading(900.0), CONNECTED)
        out += [fb.render(n) for n in blocks]
        return np.concatenate(out)

    whole = run([9000])
    pieces = run([1, 255, 4096, 17, 4631])
    np.testing.assert_allclose(whole, pieces, atol=1e-6)


def test_start_and_stop_ramp_smoothly() -> None:
    osc = ToneOscillator(FS, glide_s=0.015, ramp_s=0.008)
    osc.set_target(1000.0, 1.0)
    x = osc.render(FS // 10)
    ramp_n = int(0.008 * FS)
    env = np.abs(x[: ramp_n])
    # The envelope grows linearly: no sample above its ramp value.
    assert np.all(env <= (np.arange(1, ramp_n + 1) / ramp_n) + 1e-12)
    osc.stop_now()
    y = osc.render(ramp_n + 10)
    assert np.all(np.abs(y[ramp_n:]) == 0.0)
    assert np.abs(np.diff(np.concatenate([x, y]))).max() <= 2 * math.pi * 1000 / FS * 1.0001


def test_volume_and_mute() -> None:
    fb = AudioFeedback(AudioSettings(volume=0.5))
    fb.update(reading(100.0), CONNECTED)
    fb.render(FS // 10)
    assert np.abs(fb.render(4800)).max() == pytest.approx(TONE_LEVEL * 0.5, rel=1e-3)
    fb.settings.volume = 1.0
    fb.apply_settings(fb.settings)
    x = fb.render(FS // 10)
    assert np.abs(x[-4800:]).max() == pytest.approx(TONE_LEVEL, rel=1e-3)
    slope = TONE_LEVEL * 2 * math.pi * rate_to_pitch_hz(100.0) / FS
    assert np.abs(np.diff(x)).max() <= slope * 1.01
    fb.settings.muted = True
    fb.apply_settings(fb.settings)
    fb.render(FS // 10)
    assert np.abs(fb.render(4800)).max() == 0.0
    with pytest.raises(ValueError, match="volume"):
        fb.apply_settings(AudioSettings(volume=1.5))
    with pytest.raises(ValueError, match="mode"):
        fb.apply_settings(AudioSettings(mode="beep"))
