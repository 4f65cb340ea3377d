"""The dual-isotope readout: two isotopes side by side, corrected for crosstalk, one of them heard.

Each side shows its isotope, the corrected rate (never below 0) with its sd, and its state on a
colour: HOT, "<other> SPILL - not significant" (the window's detector fired on the other
isotope), BACKGROUND NOT SET, or NO SIGNAL (grey numbers: nothing stale is shown as live). The side
the sound follows is framed and marked; the I key switches it.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from probe_nav.gui import style
from probe_nav.gui.display_state import format_rate
from probe_nav.live.dual import DualState, WindowView

ROLES = ("seed", "node")  # what the first and second isotope of a pair usually mark
SWITCH_KEY = "W"


def state_text(view: WindowView, other: str, live: bool) -> tuple[str, str]:
    """(text, colour) of one side's state lamp."""
    if not live:
        return "NO SIGNAL", style.GREY
    if not view.background_set:
        return "BACKGROUND NOT SET", style.WARNING
    if view.hot:
        return "HOT", style.HOT
    if view.dominated:
        return f"{other} SPILL — not significant", style.WARNING
    return "not hot", style.NOT_HOT


class IsotopeBox(QFrame):
    """One isotope's number and state."""

    def __init__(self, role: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.role = role
        self.setObjectName("isotope_box")
        self.title = QLabel("", self)
        self.rate = QLabel("—", self)
        self.rate.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.sd = QLabel("", self)
        self.sd.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.lamp = QLabel("", self)
        self.lamp.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(2)
        for w in (self.title, self.rate, self.sd, self.lamp):
            layout.addWidget(w)
        self._px, self._colour, self._styles = 64, style.GREY, {}
        self._restyle(self.rate, f"font-size: {self._px}px; font-weight: 600; color: {style.GREY};")

    def _restyle(self, widget: QWidget, sheet: str) -> None:
        """setStyleSheet only on a change (restyling every refresh costs a relayout)."""
        if self._styles.get(id(widget)) != sheet:
            self._styles[id(widget)] = sheet
            widget.setStyleSheet(sheet)

    def set_rate_px(self, px: int) -> None:
        """The number's size (the console fits it to the window)."""
        self._px = px
        self._restyle(self.rate, f"font-size: {px}px; font-weight: 600; color: {self._colour};")

    def show_view(self, view: WindowView, other: str, live: bool, heard: bool) -> None:
        """Render one side."""
        self.title.setText(f"{view.nuclide} ({self.role}){'   ♪ SOUND' if heard else ''}")
        shown = live and math.isfinite(view.corrected_cps)
        self.rate.setText(format_rate(view.corrected_cps) if shown else "—")
        self._colour = style.LIVE if shown else style.GREY
        self.set_rate_px(self._px)
        self.sd.setText(f"± {format_rate(view.corrected_sd_cps)} cps" if shown else "cps")
        text, lamp = state_text(view, other, live)
        self.lamp.setText(text)
        self._restyle(self.lamp, f"background: {lamp}; color: {style.TEXT}; font-weight: 600; "
                                 "padding: 4px; border-radius: 4px;")
        border = style.ACCENT if heard else "#2c343c"
        self._restyle(self, f"QFrame#isotope_box {{ border: 3px solid {border}; "
                            "border-radius: 8px; }")


class DualPanel(QWidget):
    """Both isotopes; hidden unless dual-isotope counting is on."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.boxes = (IsotopeBox(ROLES[0], self), IsotopeBox(ROLES[1], self))
        self.footer = QLabel("", self)
        self.footer.setStyleSheet(f"color: {style.MUTED_TEXT};")
        row = QHBoxLayout()
        for box in self.boxes:
            row.addWidget(box, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.footer)
        self.last: DualState | None = None
        self.calibration_note = ""  # where the crosstalk correction comes from

    def fit(self, window_height_px: int, compact: bool = False) -> None:
        """Size the numbers to the window: two side by side, each at least 1/10 of its height
        (the single readout's is 1/7.5; 1/10 of a 768 px window is still 77 px, legible from
        2 m)."""
        px = max(40, int(window_height_px / (12 if compact else 10)))
        for box in self.boxes:
            box.set_rate_px(px)

    def show_state(self, state: DualState) -> None:
        """Render both sides and the footer."""
        names = [v.nuclide for v in state.windows]
        for k, box in enumerate(self.boxes):
            box.show_view(state.windows[k], names[1 - k], state.live, k == state.selected)
        notes = [f"{SWITCH_KEY}: sound follows the other isotope"]
        if not state.corrected:
            notes.insert(0, "CROSSTALK NOT CORRECTED (no calibration): each window's own rate")
        elif self.calibration_note:
            notes.insert(0, f"crosstalk corrected: {self.calibration_note}")
        if state.background_progress is not None:
            notes.insert(0, f"measuring both backgrounds … {100 * state.background_progress:.0f} %")
        self.footer.setText("   ·   ".join(notes))
        self.last = state
