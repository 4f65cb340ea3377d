"""The console's only door to sound: probe_nav.audio when it is importable and an output device
opens, otherwise a silent stand-in that says why (the NO AUDIO DEVICE banner shows it; so
`status_text` is the reason only, never the banner's own words again).

Every frame's Reading goes to `AudioFeedback.update` (the audio callback synthesises from the
latest state, so the GUI never blocks on sound).
"""

from __future__ import annotations

import logging

from probe_nav.core.pipeline import Reading
from probe_nav.drivers.frames import LinkState

log = logging.getLogger("probe_nav.audio")


class AudioBridge:
    """Feedback + output from probe_nav.audio, or nothing (with the reason in `status_text`)."""

    def __init__(self, mode: str = "pitch", volume: float = 0.7, muted: bool = False,
                 enabled: bool = True) -> None:
        self._feedback = None
        self._output = None
        self._settings = None
        self._problem: str | None = "sound disabled"  # why there is no sound before starting
        if not enabled:
            return
        try:
            from probe_nav.audio.feedback import AudioFeedback
            from probe_nav.audio.qt_output import QtAudioOutput
            from probe_nav.audio.settings import AudioSettings
        except ImportError as exc:
            self._no_sound(f"the audio module cannot be loaded ({exc})")
            return
        try:
            self._settings = AudioSettings(mode=mode, volume=float(volume), muted=bool(muted))
            self._settings.validated()
            self._feedback = AudioFeedback(self._settings)
            self._output = QtAudioOutput(self._feedback)
            self._output.start()  # logs one line when it fails
            self._problem = None
        except Exception as exc:  # a broken sound stack must not stop the console
            self._output = None
            self._no_sound(f"the sound output failed ({exc})")

    def _no_sound(self, reason: str) -> None:
        """No sound at all: the reason for the banner, and one log line."""
        self._problem = reason
        log.warning("no audio output available: %s; running without sound", reason)

    @property
    def available(self) -> bool:
        """True while sound plays (it turns False if the output fails later)."""
        return self._output is not None and bool(self._output.available)

    @property
    def status_text(self) -> str:
        """The output device while sound plays; otherwise only why not (e.g. "no output device
        found"): the detail under the NO AUDIO DEVICE banner, which names the state itself."""
        if self._output is None:
            return self._problem or "no sound output"
        if self._output.available:
            return str(self._output.status_text)
        return str(self._output.reason or "no output device")

    @property
    def active_alarm(self) -> str | None:
        """The alarm the audio is sounding now, if any (as text)."""
        alarm = getattr(self._feedback, "active_alarm", None)
        return None if alarm is None else str(getattr(alarm, "value", alarm))

    def update(self, reading: Reading | None, link: LinkState, counts: int | None = None,
               live_s: float | None = None, battery_low: bool = False) -> None:
        """One frame (or one tick without a frame: reading None) to the sound."""
        if self._feedback is None:
            return
        self._feedback.update(reading, link, counts=counts, live_s=live_s,
                              battery_low=battery_low)

    def apply(self, mode: str, volume: float, muted: bool) -> None:
        """New mode, volume or mute."""
        if self._feedback is None or self._settings is None:
            return
        from dataclasses import replace

        self._settings = replace(self._settings, mode=mode, volume=float(volume),
                                 muted=bool(muted)).validated()
        self._feedback.apply_settings(self._settings)

    def acknowledge_alarm(self) -> None:
        """Silence the alarm sounding now (it sounds again if the problem persists)."""
        if self._feedback is not None:
            self._feedback.acknowledge_alarm()

    def stop(self) -> None:
        """Stop the output stream."""
        if self._output is not None:
            self._output.stop()
