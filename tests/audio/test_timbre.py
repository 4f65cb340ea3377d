"""The count tone's timbre: a sine, or a bright tone (harmonics) for the second isotope."""

from __future__ import annotations

import numpy as np
import pytest

from probe_nav.audio.feedback import AudioFeedback
from probe_nav.audio.settings import TIMBRE_HARMONICS, AudioSettings
from probe_nav.audio.tone import ToneOscillator


def harmonic_levels(samples: np.ndarray, fs: int, f0: float) -> list[float]:
    """Magnitudes at f0, 2 f0, 3 f0 (Hann window; whole periods in the block)."""
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    freqs = np.fft.rfftfreq(samples.size, 1.0 / fs)
    return [float(spectrum[np.argmin(np.abs(freqs - k * f0))]) for k in (1, 2, 3)]


@pytest.mark.parametrize("timbre", list(TIMBRE_HARMONICS))
def test_timbre_spectrum_and_peak(timbre: str) -> None:
    fs, f0 = 48_000, 500.0
    tone = ToneOscillator(fs)
    tone.set_harmonics(TIMBRE_HARMONICS[timbre])
    tone.set_target(f0, 0.8)
    tone.render(4800)  # past the ramp
    block = tone.render(48_000)
    assert np.abs(block).max() <= 0.8 + 1e-12  # the peak never exceeds the volume
    h1, h2, h3 = harmonic_levels(block, fs, f0)
    expected = TIMBRE_HARMONICS[timbre]
    for k, level in enumerate((h2, h3), start=1):
        want = expected[k] / expected[0] if k < len(expected) else 0.0
        assert level / h1 == pytest.approx(want, abs=0.01), (timbre, k)


def test_feedback_takes_the_timbre_from_its_settings() -> None:
    fb = AudioFeedback(AudioSettings(timbre="bright"))
    assert fb._tone.harmonics == TIMBRE_HARMONICS["bright"]
    fb.apply_settings(AudioSettings(timbre="sine"))
    assert fb._tone.harmonics == (1.0,)
    with pytest.raises(ValueError, match="timbre"):
        AudioSettings(timbre="kazoo").validated()


def test_the_bright_tone_is_as_loud_as_it_can_be_without_clipping() -> None:
    """Normalised by its true peak: the peak reaches the volume (the sum of the amplitudes is
    never reached and would make the second isotope quieter for nothing)."""
    fs = 48_000
    tone = ToneOscillator(fs)
    tone.set_harmonics(TIMBRE_HARMONICS["bright"])
    tone.set_target(441.0, 0.8)
    tone.render(4800)
    peak = np.abs(tone.render(48_000)).max()
    assert 0.8 * 0.99 < peak <= 0.8 + 1e-12
