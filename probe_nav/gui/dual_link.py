"""The console's dual-isotope mode: the Qt-free DualIsotope, its panel and the sound, wired.

On: the dual panel replaces the single readout (whose window-0 gross rate would count the other
isotope's spill), each poll's frames go through both windows, and the sound follows the selected
isotope - its corrected rate, its hot decision, its own timbre (live.dual.TIMBRES). W switches.
"""

from __future__ import annotations

import logging

from PySide6.QtWidgets import QWidget

from probe_nav.calibration.crosstalk import SpillMatrix
from probe_nav.drivers.frames import LinkState
from probe_nav.gui.audio_bridge import AudioBridge
from probe_nav.gui.dual_view import DualPanel
from probe_nav.live.dual import TIMBRES, DualError, DualIsotope
from probe_nav.live.snapshot import LiveSnapshot

log = logging.getLogger(__name__)


class ConsoleDual:
    """Dual-isotope counting in the console (off until `enable`)."""

    def __init__(self, panel: DualPanel, single_readout: QWidget, audio: AudioBridge) -> None:
        self.panel, self.single_readout, self.audio = panel, single_readout, audio
        self.dual: DualIsotope | None = None
        self.panel.hide()

    @property
    def on(self) -> bool:
        """True while dual-isotope counting is on."""
        return self.dual is not None

    def enable(self, preset: str, spill: SpillMatrix | None) -> None:
        """Count the pair `preset` with this crosstalk calibration (None: not corrected)."""
        self.dual = DualIsotope(preset, spill)
        self.panel.show()
        self.single_readout.hide()
        self._apply_timbre()
        log.info("dual-isotope %s, crosstalk %s", preset,
                 spill.texts() if spill is not None else "not corrected")

    def disable(self) -> None:
        """Back to one window."""
        self.dual = None
        self.panel.hide()
        self.single_readout.show()
        self.audio.set_timbre("sine")

    def switch(self) -> str:
        """The sound follows the other isotope; returns a line for the user."""
        if self.dual is None:
            return "dual-isotope counting is off"
        k = self.dual.switch()
        self._apply_timbre()
        return f"the sound follows {self.dual.nuclides[k]}"

    def start_background(self, duration_s: float) -> None:
        """B was pressed: measure both windows over the same live seconds."""
        if self.dual is not None:
            self.dual.start_background(duration_s)

    def feed(self, snap: LiveSnapshot) -> bool:
        """This poll to the dual view and the sound; False when off (the caller feeds the
        sound from window 0 then)."""
        if self.dual is None:
            return False
        try:
            state = self.dual.feed(snap)
        except DualError as exc:  # the device has no such pair of windows: say so, go single
            self.disable()
            snap_notice = f"dual-isotope off: {exc}"
            log.warning(snap_notice)
            self.panel.footer.setText(snap_notice)
            return False
        frames = [f for _, f in snap.frames]
        readings = self.dual.readings() if snap.live else []
        if len(readings) == len(frames):
            for reading, frame in zip(readings, frames, strict=True):
                self.audio.update(reading, LinkState.CONNECTED,
                                  counts=self.dual.selected_counts(frame), live_s=frame.live_s,
                                  battery_low=snap.battery_low)
        self.panel.show_state(state)
        return True

    def _apply_timbre(self) -> None:
        if self.dual is not None:
            self.audio.set_timbre(TIMBRES[self.dual.selected])
