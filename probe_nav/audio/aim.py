"""The aiming cue of navigation: short high pips, faster as the probe points at the chosen spot.

Like a parking sensor: one pip every AIM_SLOW_S when the spot is far off the probe's axis (aim
score just above 0), one every AIM_FAST_S on target (score 1; probe_nav.navigation.guidance.
aim_score), silent at score 0 or without guidance. Pips are PIP_HZ, above the count tone's highest
pitch (2 kHz), so the two never mask each other. The aim is held only AIM_HOLD_S of audio time:
guidance that stops arriving (the pose lost, the reconstruction stopped) falls silent instead of
guiding on an old pose.
"""

from __future__ import annotations

import math

import numpy as np

PIP_HZ = 3000.0
PIP_S = 0.025
AIM_SLOW_S = 0.6  # interval between pips at the lowest score
AIM_FAST_S = 0.08  # and on target
AIM_HOLD_S = 0.5  # an aim not renewed within this is dropped (silence)


def pip_interval_s(score: float) -> float:
    """Seconds between pips at an aim score in (0, 1]: geometric from AIM_SLOW_S to AIM_FAST_S
    (equal steps of score are equal ratios of tempo, as the ear hears them)."""
    s = min(1.0, max(0.0, score))
    return AIM_SLOW_S * (AIM_FAST_S / AIM_SLOW_S) ** s


def pip(t_s: np.ndarray) -> np.ndarray:
    """One pip's samples at times since its start (zero outside; raised-cosine envelope)."""
    inside = (t_s >= 0) & (t_s < PIP_S)
    env = 0.5 - 0.5 * np.cos(2.0 * math.pi * np.clip(t_s, 0.0, PIP_S) / PIP_S)
    return np.where(inside, env * np.sin(2.0 * math.pi * PIP_HZ * t_s), 0.0)


class AimVoice:
    """Schedules and renders the pips on the audio sample clock (not thread-safe: the caller,
    AudioFeedback, holds its lock)."""

    def __init__(self, sample_rate_hz: int) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.score: float | None = None
        self._set_at = 0
        self._next_pip: int | None = None
        self._pips: list[int] = []  # starts of pips still sounding
        self._pip_len = int(PIP_S * self.sample_rate_hz) + 1

    def set_aim(self, score: float | None, at_sample: int) -> None:
        """The aim score now (None or <= 0: no guidance, silent)."""
        if score is None or not math.isfinite(score) or score <= 0.0:
            self.score, self._next_pip = None, None
            return
        self.score = min(1.0, float(score))
        self._set_at = at_sample
        interval = int(pip_interval_s(self.score) * self.sample_rate_hz)
        if self._next_pip is None or self._next_pip > at_sample + interval:
            # start at once (or sooner when the aim improved), never over a pip still sounding
            busy_until = max(self._pips, default=at_sample - self._pip_len) + self._pip_len
            self._next_pip = max(at_sample, busy_until)

    def render(self, start_sample: int, n: int) -> np.ndarray:
        """Samples [start_sample, start_sample + n) of the pips."""
        fs = self.sample_rate_hz
        end = start_sample + n
        if self.score is not None and start_sample - self._set_at > AIM_HOLD_S * fs:
            self.score, self._next_pip = None, None  # stale guidance: silence
        while self.score is not None and self._next_pip is not None and self._next_pip < end:
            self._pips.append(self._next_pip)
            self._next_pip += max(1, int(pip_interval_s(self.score) * fs))
        out = np.zeros(n)
        t = np.arange(start_sample, end)
        for begin in self._pips:
            out += pip((t - begin) / fs)
        self._pips = [b for b in self._pips if b + self._pip_len > end]
        return out
