"""The control column: connection, isotope, meter, background, timed count, sound.

Large touch targets; every action also has a keyboard shortcut (a foot pedal or a remote sends
keys), listed in SHORTCUTS and in docs/gui.md. The panel only emits signals: the window decides.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QProgressBar,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from probe_nav.calibration.nuclides import NUCLIDES
from probe_nav.core.rate import METER_NAMES
from probe_nav.core.timed import TIMED_PRESETS_S

AUDIO_MODES = ("pitch", "clicks", "squelch")

# key -> what it does (QKeySequence text); the window binds them
SHORTCUTS: dict[str, str] = {
    "Space": "start a timed count (preset below)",
    "1": "timed count preset 1 s", "2": "preset 2 s", "5": "preset 5 s", "0": "preset 10 s",
    "B": "measure the background",
    "N": "record the last timed count as a node",
    "M": "mute / unmute", "+": "volume up", "-": "volume down", "A": "next audio mode",
    "R": "next rate meter", "I": "next isotope",
    "Esc": "acknowledge the alarm / cancel the timed count",
    "O": "clear OVER RANGE (the probe is away from any strong source)",
    "H": "hide / show the map (training)", "S": "scenario scan on/off (training)",
    "Ctrl+Q": "quit",
}


def _button(text: str, parent: QWidget, checkable: bool = False) -> QPushButton:
    b = QPushButton(text, parent)
    b.setCheckable(checkable)
    b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys always go to the window's shortcuts
    return b


class ControlPanel(QWidget):
    """Buttons and selectors; emits what the user asked for."""

    connect_requested = Signal(str, str)  # url, protocol
    simulator_requested = Signal()
    isotope_changed = Signal(str)
    meter_changed = Signal(str)
    background_requested = Signal()
    timed_requested = Signal(float)
    preset_changed = Signal(float)
    audio_changed = Signal(str, float, bool)  # mode, volume 0..1, muted

    def __init__(self, protocols: list[str], ports: list[str], parent: QWidget | None = None
                 ) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)

        box = QGroupBox("Probe", self)
        grid = QGridLayout(box)
        self.port = QComboBox(box)
        self.port.setEditable(True)
        self.port.addItems(ports)
        self.protocol = QComboBox(box)
        self.protocol.addItems([*protocols, "auto"])
        self.connect_button = _button("Connect", box)
        self.sim_button = _button("Simulator", box)
        grid.addWidget(self.port, 0, 0, 1, 2)
        grid.addWidget(self.protocol, 1, 0)
        grid.addWidget(self.connect_button, 1, 1)
        grid.addWidget(self.sim_button, 2, 0, 1, 2)
        self.connect_button.clicked.connect(
            lambda: self.connect_requested.emit(self.port.currentText().strip(),
                                                self.protocol.currentText()))
        self.sim_button.clicked.connect(self.simulator_requested.emit)
        layout.addWidget(box)

        box = QGroupBox("Isotope · meter", self)
        grid = QGridLayout(box)
        self.isotope = QComboBox(box)
        self.isotope.addItems(list(NUCLIDES))
        self.isotope.currentTextChanged.connect(self.isotope_changed.emit)
        grid.addWidget(self.isotope, 0, 0, 1, len(METER_NAMES))
        self.meter_group = QButtonGroup(box)
        self.meter_buttons: dict[str, QPushButton] = {}
        for i, name in enumerate(METER_NAMES):
            b = _button("adapt" if name == "adaptive" else f"{name} s", box, checkable=True)
            self.meter_group.addButton(b)
            self.meter_buttons[name] = b
            b.clicked.connect(lambda _=False, n=name: self.meter_changed.emit(n))
            grid.addWidget(b, 1, i)
        layout.addWidget(box)

        box = QGroupBox("Counts", self)
        grid = QGridLayout(box)
        self.background_button = _button("Background (B)", box)
        self.background_button.clicked.connect(self.background_requested.emit)
        self.background_progress = QProgressBar(box)
        self.background_progress.setRange(0, 100)
        grid.addWidget(self.background_button, 0, 0, 1, 2)
        grid.addWidget(self.background_progress, 0, 2, 1, 2)
        self.preset_group = QButtonGroup(box)
        self.preset_buttons: dict[float, QPushButton] = {}
        for i, preset in enumerate(TIMED_PRESETS_S):
            b = _button(f"{preset:g} s", box, checkable=True)
            self.preset_group.addButton(b)
            self.preset_buttons[preset] = b
            b.clicked.connect(lambda _=False, p=preset: self.preset_changed.emit(p))
            grid.addWidget(b, 1, i)
        self.timed_button = _button("Timed count (Space)", box)
        self.timed_button.clicked.connect(lambda: self.timed_requested.emit(self.preset_s))
        self.timed_progress = QProgressBar(box)
        self.timed_progress.setRange(0, 100)
        grid.addWidget(self.timed_button, 2, 0, 1, 4)
        grid.addWidget(self.timed_progress, 3, 0, 1, 4)
        layout.addWidget(box)

        box = QGroupBox("Sound", self)
        grid = QGridLayout(box)
        self.mode_group = QButtonGroup(box)
        self.mode_buttons: dict[str, QPushButton] = {}
        for i, mode in enumerate(AUDIO_MODES):
            b = _button(mode, box, checkable=True)
            self.mode_group.addButton(b)
            self.mode_buttons[mode] = b
            b.clicked.connect(self._emit_audio)
            grid.addWidget(b, 0, i)
        self.volume = QSlider(Qt.Orientation.Horizontal, box)
        self.volume.setRange(0, 100)
        self.volume.setMinimumHeight(48)
        self.volume.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.volume.valueChanged.connect(self._emit_audio)
        self.mute_button = _button("Mute (M)", box, checkable=True)
        self.mute_button.clicked.connect(self._emit_audio)
        row = QHBoxLayout()
        row.addWidget(self.volume, 1)
        row.addWidget(self.mute_button)
        grid.addLayout(row, 1, 0, 1, 3)
        layout.addWidget(box)
        layout.addStretch(1)
        self._layout = layout

    def set_compact(self, compact: bool) -> None:
        """Tighter spacing on small screens (the style sheet sets the button heights)."""
        self._layout.setSpacing(4 if compact else 8)
        self.volume.setMinimumHeight(36 if compact else 48)

    # ------------------------------------------------------------ state from the window

    @property
    def preset_s(self) -> float:
        """The timed-count preset selected."""
        for preset, b in self.preset_buttons.items():
            if b.isChecked():
                return preset
        return 10.0

    def select(self, *, meter: str | None = None, preset_s: float | None = None,
               isotope: str | None = None, mode: str | None = None,
               volume: float | None = None, muted: bool | None = None) -> None:
        """Show these choices without emitting signals."""
        if meter is not None and meter in self.meter_buttons:
            self.meter_buttons[meter].setChecked(True)
        if preset_s is not None and preset_s in self.preset_buttons:
            self.preset_buttons[preset_s].setChecked(True)
        if isotope is not None:
            self.isotope.blockSignals(True)
            self.isotope.setCurrentText(isotope)
            self.isotope.blockSignals(False)
        if mode is not None and mode in self.mode_buttons:
            self.mode_buttons[mode].setChecked(True)
        if volume is not None:
            self.volume.blockSignals(True)
            self.volume.setValue(round(100 * volume))
            self.volume.blockSignals(False)
        if muted is not None:
            self.mute_button.setChecked(muted)

    def audio_choice(self) -> tuple[str, float, bool]:
        """(mode, volume 0..1, muted) as shown."""
        mode = next((m for m, b in self.mode_buttons.items() if b.isChecked()), "pitch")
        return mode, self.volume.value() / 100.0, self.mute_button.isChecked()

    def _emit_audio(self) -> None:
        self.audio_changed.emit(*self.audio_choice())

    def show_progress(self, timed: float | None, background: float | None) -> None:
        """Progress bars of the timed count and background measurement (None: idle)."""
        self.timed_progress.setValue(0 if timed is None else round(100 * timed))
        self.background_progress.setValue(0 if background is None else round(100 * background))
