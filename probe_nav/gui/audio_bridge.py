"""The console's only door to sound: the shared start-up (probe_nav.audio.qt_output.start_audio,
also used by `monitor --audio`) when it can be loaded, otherwise a silent stand-in that says why.
Without sound, `status_text` is the reason only (the NO AUDIO banner names the state itself), and
exactly one line is logged.

Every frame's Reading goes to `AudioFeedback.update` (the audio callback synthesises from the
latest state, so the GUI never blocks on sound). Mute silences the count sound only: alarms
(NO SIGNAL, OVER RANGE, LOW BATTERY) always sound (probe_nav.audio.feedback).
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from probe_nav.audio.feedback import AudioFeedback
from probe_nav.audio.nosound import log_no_sound
from probe_nav.audio.settings import AudioSettings
from probe_nav.core.pipeline import Reading
from probe_nav.drivers.frames import LinkState

if TYPE_CHECKING:
    from probe_nav.audio.qt_output import AudioStart

DISABLED = "sound disabled"
log = logging.getLogger(__name__)


class AudioBridge:
    """Feedback + output from the shared start-up, or nothing (with the reason in
    `status_text`). Each console launch builds one unmuted (mute is never a saved setting)."""

    def __init__(self, mode: str = "pitch", volume: float = 0.7, muted: bool = False,
                 enabled: bool = True) -> None:
        self._start: AudioStart | None = None
        try:
            self._settings = AudioSettings(mode=mode, volume=float(volume),
                                           muted=bool(muted)).validated()
        except (TypeError, ValueError) as exc:  # e.g. a hand-edited gui.json: sound all the same
            log.warning("sound settings ignored (%s): the default sound is used", exc)
            self._settings = AudioSettings()
        self._problem = DISABLED  # why there is no sound without a start-up
        if not enabled:
            return
        try:
            from probe_nav.audio.qt_output import start_audio
        except ImportError as exc:  # Qt's core libraries cannot be loaded
            self._problem = f"the sound output cannot be loaded ({exc})"
            log_no_sound(self._problem)
            return
        self._start = start_audio(self._settings)  # one logged line when there is no sound

    @property
    def feedback(self) -> AudioFeedback | None:
        """The synthesiser (None when the sound is disabled or cannot be loaded)."""
        return self._start.feedback if self._start is not None else None

    @property
    def muted(self) -> bool:
        """True while the count sound is silenced (alarms still sound)."""
        return self._settings.muted

    @property
    def available(self) -> bool:
        """True while sound plays (it turns False if the output fails later)."""
        return self._start is not None and self._start.available

    @property
    def status_text(self) -> str:
        """The output device while sound plays; otherwise only why not (e.g. "no output device
        found"): the detail under the NO AUDIO banner, which names the state itself."""
        start = self._start
        if start is None:
            return self._problem
        if start.available:
            return start.status_text
        return start.reason or "no output device"

    @property
    def active_alarm(self) -> str | None:
        """The alarm condition present now, if any (as text)."""
        feedback = self.feedback
        return None if feedback is None else feedback.active_alarm

    def update(self, reading: Reading | None, link: LinkState, counts: int | None = None,
               live_s: float | None = None, battery_low: bool = False) -> None:
        """One frame (or one tick without a frame: reading None) to the sound."""
        feedback = self.feedback
        if feedback is None:
            return
        feedback.update(reading, link, counts=counts or 0, live_s=live_s or 0.0,
                        battery_low=battery_low)

    def set_aim(self, score: float | None) -> None:
        """Navigation's aim score for the aiming pips (None: silent); renewed every refresh."""
        feedback = self.feedback
        if feedback is not None:
            feedback.set_aim(score)

    def apply(self, mode: str, volume: float, muted: bool) -> None:
        """New mode, volume or mute (ValueError for an invalid mode or volume)."""
        feedback = self.feedback
        base = feedback.settings if feedback is not None else self._settings  # its sample rate
        self._settings = replace(base, mode=mode, volume=float(volume),
                                 muted=bool(muted)).validated()
        if feedback is not None:
            feedback.apply_settings(self._settings)

    def set_timbre(self, timbre: str) -> None:
        """The count tone's colour (dual-isotope: one per isotope); ValueError if unknown."""
        feedback = self.feedback
        base = feedback.settings if feedback is not None else self._settings
        self._settings = replace(base, timbre=timbre).validated()
        if feedback is not None:
            feedback.apply_settings(self._settings)

    @property
    def timbre(self) -> str:
        """The count tone's colour now."""
        return self._settings.timbre

    def acknowledge_alarm(self) -> None:
        """Silence the alarm sounding now (it sounds again if the problem persists)."""
        feedback = self.feedback
        if feedback is not None:
            feedback.acknowledge_alarm()

    def stop(self) -> None:
        """Stop the output stream."""
        if self._start is not None:
            self._start.stop()
