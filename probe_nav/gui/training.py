"""Training mode: a top view of the simulated patient where mouse or touch moves the probe, a
wheel sets the probe's height, sliders its tilt and direction, a scenario chooser and a switch
that hides the map for blind-search exercises."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPen, QWheelEvent
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from probe_nav.gui import style
from probe_nav.gui.training_sim import MapBounds, TrainingSim

HEIGHT_RANGE_MM = (-30.0, 100.0)  # negative: pressed into a wound cavity


class TopView(QWidget):
    """The scenario seen from above; press and drag to move the probe, wheel for height."""

    pose_changed = Signal(float, float)  # x_mm, y_mm
    height_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(360, 360)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.bounds = MapBounds(-100, 100, -100, 100)
        self.sources: list[tuple[str, tuple[float, float, float], float]] = []
        self.probe_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.axis_xy: tuple[float, float] = (0.0, 0.0)
        self.show_map = True
        self.height_mm = 0.0
        self.setMouseTracking(False)

    # ------------------------------------------------------------ mm <-> pixels

    def _area(self) -> QRectF:
        side = min(self.width(), self.height()) - 16
        return QRectF((self.width() - side) / 2, (self.height() - side) / 2, side, side)

    def to_px(self, x_mm: float, y_mm: float) -> QPointF:
        """Screen point of a scenario position (y up)."""
        a, b = self._area(), self.bounds
        fx = (x_mm - b.x_min_mm) / (b.x_max_mm - b.x_min_mm)
        fy = (y_mm - b.y_min_mm) / (b.y_max_mm - b.y_min_mm)
        return QPointF(a.left() + fx * a.width(), a.bottom() - fy * a.height())

    def to_mm(self, point: QPointF) -> tuple[float, float]:
        """Scenario position of a screen point, clamped to the map."""
        a, b = self._area(), self.bounds
        fx = min(1.0, max(0.0, (point.x() - a.left()) / a.width()))
        fy = min(1.0, max(0.0, (a.bottom() - point.y()) / a.height()))
        return (b.x_min_mm + fx * (b.x_max_mm - b.x_min_mm),
                b.y_min_mm + fy * (b.y_max_mm - b.y_min_mm))

    # ------------------------------------------------------------ input

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.pose_changed.emit(*self.to_mm(event.position()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons():
            self.pose_changed.emit(*self.to_mm(event.position()))

    def wheelEvent(self, event: QWheelEvent) -> None:
        step = 5.0 if event.angleDelta().y() > 0 else -5.0
        lo, hi = HEIGHT_RANGE_MM
        self.height_mm = min(hi, max(lo, self.height_mm + step))
        self.height_changed.emit(self.height_mm)

    # ------------------------------------------------------------ painting

    def paintEvent(self, event: object) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        area = self._area()
        painter.fillRect(area, QColor("#2a1f1d") if self.show_map else QColor("#1e2328"))
        painter.setPen(QPen(QColor("#3a4652"), 1))
        b = self.bounds
        step = 20.0
        x = math.ceil(b.x_min_mm / step) * step
        while x <= b.x_max_mm:
            p0, p1 = self.to_px(x, b.y_min_mm), self.to_px(x, b.y_max_mm)
            painter.drawLine(p0, p1)
            x += step
        y = math.ceil(b.y_min_mm / step) * step
        while y <= b.y_max_mm:
            painter.drawLine(self.to_px(b.x_min_mm, y), self.to_px(b.x_max_mm, y))
            y += step
        if self.show_map:
            self._paint_sources(painter)
        else:
            painter.setPen(QColor(style.GREY))
            painter.drawText(area.adjusted(8, 8, -8, -8), Qt.AlignmentFlag.AlignTop,
                             "blind search: map hidden (H)")
        self._paint_probe(painter)
        painter.end()

    def _paint_sources(self, painter: QPainter) -> None:
        for name, (x, y, z), activity_mbq in self.sources:
            radius = 4.0 + 4.0 * max(0.0, math.log10(max(activity_mbq, 1e-6) * 1e3 + 1.0))
            shade = max(60, 255 - int(2.5 * abs(z)))  # deeper = darker
            painter.setPen(QPen(QColor(style.HOT), 1))
            painter.setBrush(QColor(shade, int(shade * 0.43), 0, 200))
            centre = self.to_px(x, y)
            painter.drawEllipse(centre, radius, radius)
            painter.setPen(QColor(style.TEXT))
            painter.drawText(centre + QPointF(radius + 3, 4), f"{name} ({abs(z):.0f} mm)")

    def _paint_probe(self, painter: QPainter) -> None:
        x, y, _ = self.probe_mm
        centre = self.to_px(x, y)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(style.ACCENT), 3))
        painter.drawEllipse(centre, 12, 12)
        ax, ay = self.axis_xy
        painter.drawLine(centre, centre + QPointF(40 * ax, -40 * ay))

    def show_probe(self, position_mm: tuple[float, float, float],
                   axis_xy: tuple[float, float]) -> None:
        """Move the probe marker (repaints only when it moved)."""
        if (position_mm, axis_xy) != (self.probe_mm, self.axis_xy):
            self.probe_mm, self.axis_xy = position_mm, axis_xy
            self.update()


class TrainingPanel(QWidget):
    """Top view, scenario chooser, map switch, scan switch, tilt and direction sliders."""

    scenario_chosen = Signal(str)

    def __init__(self, scenarios: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sim: TrainingSim | None = None
        self.view = TopView(self)
        self.scenario = QComboBox(self)
        self.scenario.addItems(scenarios)
        self.scenario.currentTextChanged.connect(self.scenario_chosen.emit)
        self.map_button = QPushButton("Hide map (H)", self)
        self.map_button.setCheckable(True)
        self.scan_button = QPushButton("Scripted scan (S)", self)
        self.scan_button.setCheckable(True)
        self.scan_button.setChecked(True)
        self.tilt = QSlider(Qt.Orientation.Horizontal, self)
        self.tilt.setRange(0, 80)
        self.azimuth = QSlider(Qt.Orientation.Horizontal, self)
        self.azimuth.setRange(0, 359)
        self.pose_label = QLabel("", self)
        self.pose_label.setStyleSheet("font-size: 12pt; color: #9fb3c8;")
        for w in (self.map_button, self.scan_button, self.tilt, self.azimuth):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        grid = QGridLayout()
        grid.addWidget(QLabel("Scenario", self), 0, 0)
        grid.addWidget(self.scenario, 0, 1, 1, 2)
        grid.addWidget(self.map_button, 1, 1)
        grid.addWidget(self.scan_button, 1, 2)
        grid.addWidget(QLabel("Tilt", self), 2, 0)
        grid.addWidget(self.tilt, 2, 1, 1, 2)
        grid.addWidget(QLabel("Towards", self), 3, 0)
        grid.addWidget(self.azimuth, 3, 1, 1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.pose_label)
        layout.addLayout(grid)
        self.map_button.toggled.connect(self.set_map_hidden)
        self.scan_button.toggled.connect(self._scan_toggled)
        self.view.pose_changed.connect(self._hold_at)
        self.view.height_changed.connect(lambda _h: self._hold_at(*self.view.probe_mm[:2]))
        self.tilt.valueChanged.connect(lambda _v: self._hold_here())
        self.azimuth.valueChanged.connect(lambda _v: self._hold_here())

    def attach(self, sim: TrainingSim) -> None:
        """Show and drive this simulation."""
        self.sim = sim
        self.view.bounds = sim.bounds()
        self.view.sources = sim.sources()
        self.scenario.blockSignals(True)
        self.scenario.setCurrentText(sim.scenario_name)
        self.scenario.blockSignals(False)
        self.scan_button.setChecked(not sim.held)
        self.view.update()

    def set_map_hidden(self, hidden: bool) -> None:
        """Blind search on or off."""
        self.map_button.blockSignals(True)
        self.map_button.setChecked(hidden)
        self.map_button.blockSignals(False)
        self.view.show_map = not hidden
        self.view.update()

    def _scan_toggled(self, scripted: bool) -> None:
        if self.sim is None:
            return
        if scripted:
            self.sim.release()
        else:
            self._hold_here()

    def _hold_here(self) -> None:
        x, y, _ = self.view.probe_mm
        self._hold_at(x, y)

    def _hold_at(self, x_mm: float, y_mm: float) -> None:
        if self.sim is None:
            return
        self.sim.hold(x_mm, y_mm, self.view.height_mm, self.tilt.value(), self.azimuth.value())
        if self.scan_button.isChecked():
            self.scan_button.blockSignals(True)
            self.scan_button.setChecked(False)
            self.scan_button.blockSignals(False)
        self.refresh()

    def refresh(self) -> None:
        """Follow the probe (scripted or held) on the map."""
        if self.sim is None:
            return
        pose = self.sim.sim.pose_at(self.sim.sim.t_s)
        x, y, z = pose.position_mm
        self.view.show_probe((x, y, z), (pose.axis[0], pose.axis[1]))
        tilt = math.degrees(math.acos(max(-1.0, min(1.0, -pose.axis[2]))))
        mode = "held" if self.sim.held else "scripted"
        self.pose_label.setText(f"probe x {x:.0f} mm, y {y:.0f} mm, height {z:.0f} mm, "
                                f"tilt {tilt:.0f}°  ({mode})")
