"""Settings of the audio feedback: one dataclass, validated in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass

MODES = ("pitch", "clicks", "squelch")
# Tone colours: relative amplitudes of the harmonics of the count tone. Dual-isotope surgery gives
# each isotope its own (probe_nav.live.dual.TIMBRES), so the surgeon hears which one sounds.
TIMBRE_HARMONICS: dict[str, tuple[float, ...]] = {
    "sine": (1.0,),
    "bright": (1.0, 0.5, 0.33, 0.25),  # the first four of a sawtooth: reedy, clearly not a sine
}


@dataclass
class AudioSettings:
    """What the surgeon hears and how (rates in cps, frequencies in Hz, times in s)."""

    mode: str = "pitch"  # "pitch" | "clicks" | "squelch"
    timbre: str = "sine"  # a key of TIMBRE_HARMONICS
    volume: float = 0.8  # 0..1, scales the count feedback (tone, clicks, hot cue)
    muted: bool = False  # silences the count feedback; alarms still sound (docs/audio.md)
    pitch_min_hz: float = 200.0
    pitch_max_hz: float = 2000.0
    rate_min_cps: float = 1.0  # rates at or below this get pitch_min_hz
    rate_max_cps: float = 10000.0  # rates at or above this get pitch_max_hz
    click_max_rate_cps: float = 200.0  # above this, one click per k counts (docs/audio.md)
    squelch_z: float = 3.0  # squelch mode: silent until Reading.z reaches this (or hot)
    hot_cue: bool = True  # a rising two-note chime when the hot decision turns on
    sample_rate_hz: int = 48000
    glide_ms: float = 15.0  # time constant of the pitch glide (log frequency)
    ramp_ms: float = 8.0  # volume ramps (start, stop, volume changes) take this long
    alarm_min_volume: float = 0.5  # alarms never sound softer than this, whatever the volume
    alarm_realarm_s: float = 120.0  # an acknowledged alarm sounds again after this if it persists

    def validated(self) -> AudioSettings:
        """Self, after checking every field; ValueError names the first bad one."""
        if self.mode not in MODES:
            raise ValueError(f"audio mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.timbre not in TIMBRE_HARMONICS:
            raise ValueError(f"timbre must be one of {', '.join(TIMBRE_HARMONICS)}, "
                             f"got {self.timbre!r}")
        _check_range("volume", self.volume, 0.0, 1.0)
        _check_range("alarm_min_volume", self.alarm_min_volume, 0.0, 1.0)
        if not 8000 <= int(self.sample_rate_hz) <= 384000:
            raise ValueError(f"sample_rate_hz must be 8000..384000, got {self.sample_rate_hz}")
        nyquist = self.sample_rate_hz / 2.0
        _check_range("pitch_min_hz", self.pitch_min_hz, 20.0, nyquist)
        _check_range("pitch_max_hz", self.pitch_max_hz, self.pitch_min_hz, nyquist)
        _check_range("rate_min_cps", self.rate_min_cps, 1e-6, 1e12)
        _check_range("rate_max_cps", self.rate_max_cps, self.rate_min_cps * (1 + 1e-9), 1e12)
        _check_range("click_max_rate_cps", self.click_max_rate_cps, 1.0, 400.0)
        _check_range("squelch_z", self.squelch_z, 0.0, 1e6)
        _check_range("glide_ms", self.glide_ms, 0.0, 1000.0)
        _check_range("ramp_ms", self.ramp_ms, 0.5, 1000.0)
        _check_range("alarm_realarm_s", self.alarm_realarm_s, 0.0, 1e6)
        return self


def _check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not (isinstance(value, int | float) and math.isfinite(value) and lo <= value <= hi):
        raise ValueError(f"{name} must be between {lo:g} and {hi:g}, got {value!r}")
