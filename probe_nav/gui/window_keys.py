"""The console window's sound settings and the small actions its keys call (mute, volume, sound
mode, timed-count preset, Esc, clearing the over-range latch), kept apart from the window's
layout and refresh (probe_nav.gui.window mixes this in)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from probe_nav.gui.controls import AUDIO_MODES


class SoundAndKeys:
    """Mixed into ConsoleWindow: uses its settings, audio, controls, session and _remember."""

    settings: Any
    audio: Any
    controls: Any
    session: Any
    muted: bool
    _remember: Any

    def set_audio(self, mode: str, volume: float, muted: bool) -> None:
        """New sound settings."""
        self.muted = bool(muted)  # shown as the MUTED banner; never saved
        self.audio.apply(mode, volume, self.muted)
        self.controls.select(mode=mode, volume=volume, muted=self.muted)
        self._remember(audio_mode=mode, volume=volume)

    def _toggle_mute(self) -> None:
        s = self.settings
        self.set_audio(s.audio_mode, s.volume, not self.muted)

    def _nudge_volume(self, step: float) -> None:
        s = self.settings
        self.set_audio(s.audio_mode, round(min(1.0, max(0.0, s.volume + step)), 2), self.muted)

    def _cycle_audio_mode(self) -> None:
        s = self.settings
        self._cycle(AUDIO_MODES, s.audio_mode,
                    lambda m: self.set_audio(m, s.volume, self.muted))

    @staticmethod
    def _cycle(options: tuple[str, ...], current: str, apply: Callable[[str], None]) -> None:
        i = options.index(current) if current in options else -1
        apply(options[(i + 1) % len(options)])

    def _select_preset(self, preset_s: float) -> None:
        self.controls.select(preset_s=preset_s)
        self._remember(timed_preset_s=preset_s)

    def _escape(self) -> None:
        self.audio.acknowledge_alarm()
        if self.session is not None:
            self.session.cancel_timed_count()

    def _clear_over_range(self) -> None:
        """The user vouches the probe is away from any strong source (a GM counter cannot show
        its own recovery from paralysis): the over-range latch is released."""
        if self.session is not None:
            self.session.clear_over_range()
