"""A phase-continuous sine oscillator with a gliding pitch and ramped amplitude, sample-accurate.

The phase is an accumulator (sum of 2*pi*f/fs), so a pitch change never jumps the waveform; the
frequency glides exponentially in log frequency (time constant `glide_s`) and the amplitude moves
linearly at full scale per `ramp_s`, so neither a new pitch nor a start or stop makes a click.
"""

from __future__ import annotations

import math

import numpy as np

TWO_PI = 2.0 * math.pi


class ToneOscillator:
    """One sine voice; set targets, then `render` blocks of samples."""

    def __init__(self, sample_rate_hz: int, glide_s: float = 0.015, ramp_s: float = 0.008) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self.glide_s = float(glide_s)
        self.ramp_s = float(ramp_s)
        self.phase = 0.0
        self.freq_hz = 0.0  # 0 = never sounded: the first target is taken at once
        self.amp = 0.0
        self.target_hz = 0.0
        self.target_amp = 0.0
        self.harmonics: tuple[float, ...] = (1.0,)  # amplitudes of f, 2f, 3f, ... (a timbre)
        self._peak = 1.0

    def set_harmonics(self, harmonics: tuple[float, ...]) -> None:
        """The tone's colour: relative amplitudes of its harmonics (normalised to peak <= 1)."""
        if not harmonics or any(not (h >= 0 and math.isfinite(h)) for h in harmonics) or \
                sum(harmonics) <= 0:
            raise ValueError(f"harmonic amplitudes must be >= 0 with a positive sum, "
                             f"got {harmonics!r}")
        self.harmonics = tuple(float(h) for h in harmonics)
        # normalised by the waveform's true peak (not the sum of the amplitudes, which is
        # reached by no phase and would make the tone quieter than the sine for nothing)
        phase = np.linspace(0.0, TWO_PI, 4096, endpoint=False)
        wave = sum(h * np.sin((k + 1) * phase) for k, h in enumerate(self.harmonics))
        self._peak = float(np.abs(wave).max()) * (1.0 + 1e-5)  # the grid misses < 1e-6 of it

    def set_target(self, freq_hz: float | None, amp: float) -> None:
        """Glide to `freq_hz` and ramp to `amp`; None keeps the pitch and ramps to silence."""
        if freq_hz is not None and math.isfinite(freq_hz) and freq_hz > 0:
            self.target_hz = float(freq_hz)
            if self.freq_hz <= 0 or self.amp == 0.0:
                self.freq_hz = self.target_hz  # a silent voice starts on its pitch, no glide
            self.target_amp = min(1.0, max(0.0, float(amp)))
        else:
            self.target_amp = 0.0

    def stop_now(self) -> None:
        """Silence within one ramp (used when the data stops: no tail of a stale pitch)."""
        self.target_amp = 0.0

    def render(self, n: int) -> np.ndarray:
        """The next `n` samples (float64)."""
        if n <= 0:
            return np.zeros(0)
        if self.amp == 0.0 and self.target_amp == 0.0:
            return np.zeros(n)
        fs = self.sample_rate_hz
        k = np.arange(1, n + 1, dtype=np.float64)
        freq = self._glide(k)
        dphi = TWO_PI * freq / fs
        phase = self.phase + np.cumsum(dphi) - dphi  # phase at each sample, first = current
        amp = self._ramp(k)
        if len(self.harmonics) == 1:
            out = amp * np.sin(phase)
        else:  # sum of harmonics over its peak: the peak stays <= amp
            wave = sum(h * np.sin((k + 1) * phase) for k, h in enumerate(self.harmonics))
            out = amp * wave / self._peak
        self.phase = float((phase[-1] + dphi[-1]) % TWO_PI)
        self.freq_hz = float(freq[-1])
        self.amp = float(amp[-1])
        return out

    def _glide(self, k: np.ndarray) -> np.ndarray:
        if self.target_hz <= 0 or self.freq_hz == self.target_hz:
            return np.full(k.size, self.freq_hz)
        n_tau = self.glide_s * self.sample_rate_hz
        if n_tau <= 0:
            return np.full(k.size, self.target_hz)
        log_t = math.log(self.target_hz)
        decay = np.exp(-k / n_tau)
        freq = np.exp(log_t + (math.log(self.freq_hz) - log_t) * decay)
        if abs(freq[-1] / self.target_hz - 1.0) < 1e-6:
            freq[-1] = self.target_hz  # settle exactly, so a steady tone is exactly steady
        return freq

    def _ramp(self, k: np.ndarray) -> np.ndarray:
        step = 1.0 / max(1.0, self.ramp_s * self.sample_rate_hz)
        diff = self.target_amp - self.amp
        if diff == 0.0:
            return np.full(k.size, self.amp)
        moved = np.minimum(k * step, abs(diff))
        return self.amp + math.copysign(1.0, diff) * moved
