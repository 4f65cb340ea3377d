"""AudioFeedback: Readings and link state in, audio samples out (no Qt, no I/O).

`update()` is called once per frame (or link change) by the consumer; `render()` by the audio
output, possibly on another thread. Everything sounds on the sample clock of `render`, so a
given sequence of updates and renders always gives the same samples (for a given seed).

What is heard (docs/audio.md):
- pitch: a continuous tone, log rate -> log pitch (`pitch.rate_to_pitch_hz`), its colour the
  `timbre` (a sine, or a bright tone for the second isotope of dual-isotope surgery);
- clicks: one click per count (`clicks.ClickTrack`), decimated above `click_max_rate_cps`;
- squelch: the pitch tone, only while z >= `squelch_z` or hot (held open `SQUELCH_HOLD_S`);
- a hot cue on the onset of the hot decision (`cue`), alarms by priority (`alarms`);
- in navigation, aiming pips (`aim`) that quicken as the probe points at the chosen spot
  (`set_aim`), silent with the count sound (mute, no signal) and when not renewed.
The count feedback stops at once (within one volume ramp) when the link is not connected, on
over range, or when no update came for `max(1 s, 5 frame intervals)` of audio time.
"""

from __future__ import annotations

import math
import threading
from dataclasses import replace

import numpy as np

from probe_nav.audio.aim import AimVoice
from probe_nav.audio.alarms import LOW_BATTERY, NO_SIGNAL, OVER_RANGE, AlarmSequencer
from probe_nav.audio.clicks import ClickTrack, decimation_factor
from probe_nav.audio.cue import CueVoice
from probe_nav.audio.pitch import rate_to_pitch_hz
from probe_nav.audio.settings import TIMBRE_HARMONICS, AudioSettings
from probe_nav.audio.tone import ToneOscillator
from probe_nav.core.pipeline import Reading
from probe_nav.drivers.frames import LinkState

TONE_LEVEL = 0.5  # peak of the count tone at volume 1
CLICK_LEVEL = 0.8
CUE_LEVEL = 0.4
AIM_LEVEL = 0.3
ALARM_LEVEL = 0.5
SQUELCH_HOLD_S = 0.25  # squelch stays open this long after the last significant reading
MIN_WATCHDOG_S = 1.0
NO_DATA_STATES = (LinkState.STALE, LinkState.DISCONNECTED)


class AudioFeedback:
    """The sound of the probe: see the module docstring. Thread-safe."""

    def __init__(self, settings: AudioSettings | None = None, seed: int = 0) -> None:
        self.settings = settings if settings is not None else AudioSettings()
        self._seed = seed
        self._lock = threading.RLock()
        self._build(self.settings.validated())

    def _build(self, cfg: AudioSettings) -> None:
        fs = int(cfg.sample_rate_hz)
        self._cfg = replace(cfg)
        self._sample = 0
        self._tone = ToneOscillator(fs, cfg.glide_ms / 1000.0, cfg.ramp_ms / 1000.0)
        self._tone.set_harmonics(TIMBRE_HARMONICS[cfg.timbre])
        self._clicks = ClickTrack(fs, self._seed)
        self._cue = CueVoice(fs)
        self._aim = AimVoice(fs)
        self._alarms = AlarmSequencer(fs, cfg.alarm_realarm_s)
        self._reading: Reading | None = None
        self._link = LinkState.CONNECTING
        self._battery_low = False
        self._was_hot = False
        self._squelch_open_until = -1
        self._last_update = 0
        self._frame_s = 0.0
        self._ever_live = False
        self._watchdog_fired = False
        self.last_render_tone_hz: float | None = None  # tone target during the last render

    # ------------------------------------------------------------ settings

    def apply_settings(self, settings: AudioSettings) -> None:
        """Take new settings (ValueError if invalid); a new sample rate restarts the clock."""
        cfg = replace(settings).validated()
        with self._lock:
            self.settings = settings
            if cfg.sample_rate_hz != self._cfg.sample_rate_hz:
                reading, link, battery = self._reading, self._link, self._battery_low
                self._build(cfg)
                self._reading, self._link, self._battery_low = reading, link, battery
            else:
                self._cfg = cfg
                self._tone.glide_s = cfg.glide_ms / 1000.0
                self._tone.ramp_s = cfg.ramp_ms / 1000.0
                self._tone.set_harmonics(TIMBRE_HARMONICS[cfg.timbre])
                self._alarms.realarm_s = cfg.alarm_realarm_s
            self._retarget()

    # ------------------------------------------------------------ input

    def update(
        self,
        reading: Reading | None,
        link_state: LinkState,
        *,
        counts: int = 0,
        live_s: float = 0.0,
        battery_low: bool = False,
    ) -> None:
        """The latest Reading (None: no data) and link state; `counts`/`live_s` of the frame."""
        with self._lock:
            link = LinkState(link_state)
            live = link is LinkState.CONNECTED and reading is not None
            self._reading = reading if live else None
            self._link = link
            self._battery_low = bool(battery_low)
            self._last_update = self._sample
            self._watchdog_fired = False
            live_s = _finite_or(live_s, 0.0)
            if live_s > 0:
                self._frame_s = live_s
            if not live:
                self._was_hot = False
                self._clicks.clear()
            else:
                self._ever_live = True
                self._on_live_frame(reading, _count(counts), live_s)
            self._retarget()

    def set_aim(self, score: float | None) -> None:
        """Navigation's aim score now (probe_nav.navigation.guidance.aim_score; None: no
        guidance). It must be renewed at least every aim.AIM_HOLD_S or it falls silent."""
        with self._lock:
            self._aim.set_aim(score, self._sample)

    def acknowledge_alarm(self) -> None:
        """Silence the present alarms; each sounds again after the re-alarm interval if it
        persists (AudioSettings.alarm_realarm_s)."""
        with self._lock:
            self._alarms.acknowledge(self._sample)

    # ------------------------------------------------------------ state

    @property
    def active_alarm(self) -> str | None:
        """The highest-priority alarm condition present, sounding or acknowledged."""
        with self._lock:
            return self._alarms.highest

    @property
    def alarm_sounding(self) -> str | None:
        """The alarm being heard now (None when none, or all acknowledged)."""
        with self._lock:
            return self._alarms.sounding

    @property
    def tone_target_hz(self) -> float | None:
        """The count tone's pitch now, None while it is silent."""
        with self._lock:
            t = self._tone
            return t.target_hz if t.target_amp > 0 else None

    @property
    def sample_position(self) -> int:
        """Samples rendered since the start (the synthesiser's clock)."""
        with self._lock:
            return self._sample

    # ------------------------------------------------------------ output

    def render(self, n_samples: int) -> np.ndarray:
        """The next `n_samples` of sound: float32 mono in [-1, 1]."""
        n = max(0, int(n_samples))
        if n == 0:
            return np.zeros(0, dtype=np.float32)
        with self._lock:
            self._check_watchdog()
            cfg = self._cfg
            start = self._sample
            self.last_render_tone_hz = self.tone_target_hz
            out = TONE_LEVEL * self._tone.render(n)
            count_vol = 0.0 if cfg.muted else cfg.volume
            if count_vol > 0.0:
                out += CLICK_LEVEL * count_vol * self._clicks.render(start, n)
            else:
                self._clicks.render(start, n)  # consume (silently) what was due
            aim = self._aim.render(start, n)  # consumed even when silent
            if count_vol > 0.0 and self._reading is not None:
                out += AIM_LEVEL * count_vol * aim
            out += self._cue.render(start, n)
            alarm_vol = max(cfg.volume, cfg.alarm_min_volume)
            out += ALARM_LEVEL * alarm_vol * self._alarms.render(start, n)
            self._sample = start + n
        np.clip(out, -1.0, 1.0, out=out)
        return out.astype(np.float32)

    # ------------------------------------------------------------ internals

    def _on_live_frame(self, reading: Reading, counts: int, live_s: float) -> None:
        cfg = self._cfg
        hot = bool(reading.hot)
        if hot and not self._was_hot and cfg.hot_cue and not cfg.muted and cfg.volume > 0:
            self._cue.trigger(self._sample, CUE_LEVEL * cfg.volume)
        self._was_hot = hot
        if _significant(reading, cfg.squelch_z):
            hold = int(SQUELCH_HOLD_S * cfg.sample_rate_hz)
            self._squelch_open_until = self._sample + hold
        if cfg.mode == "clicks" and counts > 0 and live_s > 0 and not reading.over_range:
            rate = _finite_or(reading.rate_cps, counts / live_s)
            k = decimation_factor(rate, cfg.click_max_rate_cps)
            self._clicks.add_frame(counts, live_s, self._sample, k)

    def _retarget(self) -> None:
        """Set the count tone from the latest state."""
        cfg = self._cfg
        present: set[str] = set()
        if self._link in NO_DATA_STATES or self._watchdog_fired:
            present.add(NO_SIGNAL)
        reading = self._reading
        if reading is not None and reading.over_range:
            present.add(OVER_RANGE)
        if self._battery_low:
            present.add(LOW_BATTERY)
        self._alarms.set_present(present, self._sample)
        if NO_SIGNAL in present:
            self._clicks.clear()
        freq = None
        sounding = cfg.mode == "pitch" or (
            cfg.mode == "squelch" and self._sample < self._squelch_open_until
        )
        if sounding and reading is not None and not reading.over_range and (
            NO_SIGNAL not in present
        ):
            freq = rate_to_pitch_hz(
                reading.rate_cps, pitch_min_hz=cfg.pitch_min_hz,
                pitch_max_hz=cfg.pitch_max_hz, rate_min_cps=cfg.rate_min_cps,
                rate_max_cps=cfg.rate_max_cps,
            )
        amp = 0.0 if cfg.muted else cfg.volume
        if freq is None or amp == 0.0:
            self._tone.stop_now()
        else:
            self._tone.set_target(freq, amp)

    def _check_watchdog(self) -> None:
        """No update for too long while live: the data stopped; say so (NO SIGNAL)."""
        if not self._ever_live or self._watchdog_fired or self._link in NO_DATA_STATES:
            return
        timeout_s = max(MIN_WATCHDOG_S, 5.0 * self._frame_s)
        if self._sample - self._last_update > timeout_s * self._cfg.sample_rate_hz:
            self._watchdog_fired = True
            self._reading = None
            self._was_hot = False
            self._retarget()
        elif self._cfg.mode == "squelch" and self._reading is not None:
            self._retarget()  # the squelch hold may have run out


def _significant(reading: Reading, squelch_z: float) -> bool:
    """Opens the squelch. With no background set there is nothing to squelch against: the sound
    follows the gross rate (open), never silently off."""
    if not reading.background_set:
        return True
    z = reading.z
    return bool(reading.hot) or (isinstance(z, int | float) and math.isfinite(z) and z >= squelch_z)


def _finite_or(value: float, default: float) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def _count(counts: int) -> int:
    try:
        c = int(counts)
    except (TypeError, ValueError, OverflowError):
        return 0
    return max(0, c)
