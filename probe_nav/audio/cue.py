"""The "hot" cue: a short rising two-note chime (pure tones with a bell-like decay) that marks the
onset of the hot decision; unlike an alarm it has no harmonics and never repeats."""

from __future__ import annotations

import math

import numpy as np

CUE_NOTES = ((0.0, 0.09, 1046.5), (0.09, 0.16, 1568.0))  # (start s, length s, Hz): C6 then G6
CUE_S = max(start + length for start, length, _ in CUE_NOTES)
ATTACK_S = 0.004


def hot_cue(t_s: np.ndarray) -> np.ndarray:
    """The cue's samples at times since its start (zero outside it; peak <= 1)."""
    out = np.zeros_like(t_s)
    for start, length, freq in CUE_NOTES:
        u = t_s - start
        inside = (u >= 0) & (u < length)
        attack = np.clip(u / ATTACK_S, 0.0, 1.0)
        release = np.clip((length - u) / ATTACK_S, 0.0, 1.0)
        decay = np.exp(-u / (0.4 * length))
        note = attack * release * decay * np.sin(2.0 * math.pi * freq * u)
        out += np.where(inside, note, 0.0)
    return out


class CueVoice:
    """Plays the cue from a given sample on the audio clock."""

    def __init__(self, sample_rate_hz: int) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self._start: int | None = None
        self.gain = 0.0

    def trigger(self, at_sample: int, gain: float) -> None:
        """Start the cue at `at_sample` with amplitude `gain`."""
        self._start = at_sample
        self.gain = float(gain)

    def render(self, start_sample: int, n: int) -> np.ndarray:
        """Samples [start_sample, start_sample + n) of the cue."""
        if self._start is None:
            return np.zeros(n)
        t = (start_sample + np.arange(n) - self._start) / self.sample_rate_hz
        if t[0] >= CUE_S:
            self._start = None
            return np.zeros(n)
        return self.gain * hot_cue(t)
