"""Alarm sounds after the style of IEC 60601-1-8: pulse bursts of a harmonic-rich tone whose
rhythm says the priority, so no alarm can be taken for the smooth, pure count tone.

| alarm | priority | burst: pulse starts (s) | pulse | repeat |
|---|---|---|---|---|
| NO SIGNAL | high | 0 .25 .5, 1.0 1.25; 1.9 2.15 2.4, 2.9 3.15 | 150 ms | 6.3 s |
| OVER RANGE | medium | 0 .35 .7 | 200 ms | 5.9 s |
| LOW BATTERY | low | 0 .4 | 200 ms | 20 s |

Pulses rise and fall linearly over 15 % of their length (IEC: 10-20 %); the fundamental has four
harmonics within 15 dB of it (IEC: at least four in 300-4000 Hz).
Acknowledging silences every present condition for `realarm_s`; a condition still present then
sounds again, a condition that cleared and comes back sounds at once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

log = logging.getLogger(__name__)
NO_SIGNAL = "NO SIGNAL"
OVER_RANGE = "OVER RANGE"
LOW_BATTERY = "LOW BATTERY"
HARMONIC_AMPS = (1.0, 0.7, 0.5, 0.4, 0.32)  # fundamental + 4 harmonics, all within 10 dB
FADE_S = 0.005  # an alarm that clears fades out this fast (no pop)


@dataclass(frozen=True, slots=True)
class AlarmPattern:
    """A burst of pulses repeated every `period_s` (times from the start of the burst)."""

    name: str
    priority: int  # higher wins
    pulse_starts_s: tuple[float, ...]
    pulse_s: float
    period_s: float
    fundamental_hz: float
    rise_fraction: float = 0.15

    def envelope(self, t_s: np.ndarray) -> np.ndarray:
        """0..1 pulse envelope at times since the alarm started sounding."""
        phase = np.mod(t_s, self.period_s)
        env = np.zeros_like(phase)
        rise = self.rise_fraction * self.pulse_s
        for start in self.pulse_starts_s:
            u = phase - start
            inside = (u >= 0) & (u < self.pulse_s)
            ramp = np.minimum(np.minimum(u, self.pulse_s - u) / rise, 1.0)
            env = np.where(inside, np.maximum(env, ramp), env)
        return env


PATTERNS: dict[str, AlarmPattern] = {
    NO_SIGNAL: AlarmPattern(
        NO_SIGNAL, 3, (0.0, 0.25, 0.5, 1.0, 1.25, 1.9, 2.15, 2.4, 2.9, 3.15), 0.15, 6.3, 523.25
    ),
    OVER_RANGE: AlarmPattern(OVER_RANGE, 2, (0.0, 0.35, 0.7), 0.2, 5.9, 440.0),
    LOW_BATTERY: AlarmPattern(LOW_BATTERY, 1, (0.0, 0.4), 0.2, 20.0, 392.0),
}


def alarm_tone(t_s: np.ndarray, fundamental_hz: float) -> np.ndarray:
    """The harmonic-rich alarm waveform (peak <= 1) at times `t_s`."""
    out = np.zeros_like(t_s)
    for h, a in enumerate(HARMONIC_AMPS, start=1):
        out += a * np.sin(2.0 * math.pi * h * fundamental_hz * t_s)
    return out / sum(HARMONIC_AMPS)


class AlarmSequencer:
    """Which alarm sounds, when its burst started, and its samples (on the audio sample clock)."""

    def __init__(self, sample_rate_hz: int, realarm_s: float = 120.0) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.realarm_s = float(realarm_s)
        self.present: set[str] = set()
        self._silenced_until: dict[str, int] = {}
        self._sounding: str | None = None
        self._sounding_from = 0
        self._fading: tuple[str, int, int] | None = None  # (name, burst start, fade start)

    def set_present(self, conditions: set[str], now_sample: int) -> None:
        """The alarm conditions present now."""
        for gone in sorted(self.present - conditions):
            self._silenced_until.pop(gone, None)
            log.info("alarm cleared: %s", gone)
        for new in sorted(conditions - self.present):
            log.info("alarm raised: %s (priority %d)", new, PATTERNS[new].priority)
        self.present = set(conditions)
        self._choose(now_sample)

    def acknowledge(self, now_sample: int) -> None:
        """Silence every present condition for the re-alarm interval."""
        until = now_sample + round(self.realarm_s * self.sample_rate_hz)
        if self.present:
            log.info("alarm acknowledged: %s (silenced for %g s)", ", ".join(sorted(self.present)),
                     self.realarm_s)
        for name in self.present:
            self._silenced_until[name] = until
        self._choose(now_sample)

    @property
    def highest(self) -> str | None:
        """The highest-priority condition present (sounding or acknowledged)."""
        if not self.present:
            return None
        return max(self.present, key=lambda name: PATTERNS[name].priority)

    @property
    def sounding(self) -> str | None:
        """The alarm being heard now, if any."""
        return self._sounding

    def _choose(self, now_sample: int) -> None:
        audible = [
            n for n in self.present if self._silenced_until.get(n, -1) <= now_sample
        ]
        for n in audible:
            self._silenced_until.pop(n, None)
        best = max(audible, key=lambda n: PATTERNS[n].priority) if audible else None
        if best != self._sounding:
            if self._sounding is not None:
                self._fading = (self._sounding, self._sounding_from, now_sample)
            self._sounding = best
            self._sounding_from = now_sample

    def render(self, start_sample: int, n: int) -> np.ndarray:
        """Samples [start_sample, start_sample + n) of the alarm sound (peak <= 1)."""
        self._choose(start_sample)
        idx = start_sample + np.arange(n)
        fs = self.sample_rate_hz
        out = np.zeros(n)
        if self._sounding is not None:
            pattern = PATTERNS[self._sounding]
            t = (idx - self._sounding_from) / fs
            env = pattern.envelope(t)
            if env.any():
                out += env * alarm_tone(t, pattern.fundamental_hz)
        if self._fading is not None:
            name, burst_from, fade_from = self._fading
            pattern = PATTERNS[name]
            t = (idx - burst_from) / fs
            gain = np.clip(1.0 - (idx - fade_from) / (FADE_S * fs), 0.0, 1.0)
            if gain[0] > 0.0:
                out += gain * pattern.envelope(t) * alarm_tone(t, pattern.fundamental_hz)
            if gain[-1] <= 0.0:
                self._fading = None
        return out
