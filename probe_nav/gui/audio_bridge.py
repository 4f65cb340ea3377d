"""The console's only door to sound: probe_nav.audio when it is importable and an output device
opens, otherwise a silent stand-in that says why (the NO AUDIO DEVICE banner shows it).

Every frame's Reading goes to `AudioFeedback.update` (the audio callback synthesises from the
latest state, so the GUI never blocks on sound).
"""

from __future__ import annotations

from probe_nav.core.pipeline import Reading
from probe_nav.drivers.frames import LinkState


class AudioBridge:
    """Feedback + output from probe_nav.audio, or nothing (with the reason in `status_text`)."""

    def __init__(self, mode: str = "pitch", volume: float = 0.7, muted: bool = False,
                 enabled: bool = True) -> None:
        self._feedback = None
        self._output = None
        self._settings = None
        self.available = False
        self.status_text = "sound disabled"
        if not enabled:
            return
        try:
            from probe_nav.audio.feedback import AudioFeedback
            from probe_nav.audio.qt_output import QtAudioOutput
            from probe_nav.audio.settings import AudioSettings
        except ImportError as exc:
            self.status_text = f"audio module unavailable ({exc.name or exc})"
            return
        try:
            self._settings = AudioSettings(mode=mode, volume=float(volume), muted=bool(muted))
            self._settings.validated()
            self._feedback = AudioFeedback(self._settings)
            self._output = QtAudioOutput(self._feedback)
            self.available = bool(self._output.start())
            self.status_text = str(getattr(self._output, "status_text", "")) or (
                "sound on" if self.available else "no sound output device")
        except Exception as exc:  # a broken sound stack must not stop the console
            self.available = False
            self.status_text = f"sound output failed: {exc}"

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
