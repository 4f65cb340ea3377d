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
    QHBoxLayout,
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
ROOMY_MAP_PX, COMPACT_MAP_PX = 320, 200  # the map's smallest side at the two densities


def _overlap(a: QRectF, b: QRectF) -> float:
    """Area two rectangles share."""
    shared = a.intersected(b)
    return max(0.0, shared.width()) * max(0.0, shared.height())


def _clamped(box: QRectF, area: QRectF) -> QRectF:
    """The box moved (not resized) to lie inside the area as far as it can."""
    x = min(max(box.left(), area.left()), area.right() - box.width())
    y = min(max(box.top(), area.top()), area.bottom() - box.height())
    return QRectF(max(x, area.left()), max(y, area.top()), box.width(), box.height())


class TopView(QWidget):
    """The scenario seen from above; press and drag to move the probe, wheel for height."""

    pose_changed = Signal(float, float)  # x_mm, y_mm
    height_changed = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(ROOMY_MAP_PX, ROOMY_MAP_PX)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.bounds = MapBounds(-100, 100, -100, 100)
        self.sources: list[tuple[str, tuple[float, float, float], float]] = []
        self.probe_mm: tuple[float, float, float] = (0.0, 0.0, 0.0)
        self.axis_xy: tuple[float, float] = (0.0, 0.0)
        self.show_map = True
        self.height_mm = 0.0
        self.setMouseTracking(False)
        self._marks_key: object = None
        self._marks: list[tuple[QPointF, float, QRectF, str, QColor]] = []
        self._source_pen = QPen(QColor(style.HOT), 1)
        self._text_colour = QColor(style.TEXT)

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

    def _source_marks(self) -> list[tuple[QPointF, float, QRectF, str, QColor]]:
        """(centre, radius, label box, label, fill) of every source; label boxes are placed
        so that no two overlap and none covers a source or leaves the map (first free spot of
        right, left, above, below, the diagonals, then further above or below, each also slid
        into the map; greedy, largest source first; when no spot is free, the least covered)."""
        key = (self.width(), self.height(), self.bounds, tuple(self.sources),
               self.font().toString())
        if key == self._marks_key:
            return self._marks
        metrics = self.fontMetrics()
        area = self._area()
        bounds = QRectF(self.rect())
        marks = []
        for name, (x, y, z), activity_mbq in self.sources:
            radius = 4.0 + 4.0 * max(0.0, math.log10(max(activity_mbq, 1e-6) * 1e3 + 1.0))
            shade = max(60, 255 - int(2.5 * abs(z)))  # deeper = darker
            text = f"{name} ({abs(z):.0f} mm)"
            marks.append((self.to_px(x, y), radius, text, QColor(shade, int(shade * 0.43), 0, 200),
                          activity_mbq))
        taken = [QRectF(c.x() - r, c.y() - r, 2 * r, 2 * r) for c, r, *_ in marks]
        placed: dict[int, QRectF] = {}
        for i in sorted(range(len(marks)), key=lambda i: -marks[i][4]):
            centre, radius, text, _, _ = marks[i]
            w, h = metrics.horizontalAdvance(text) + 4, metrics.height()
            gap = radius + 3
            spots = [(gap, -h / 2), (-gap - w, -h / 2), (-w / 2, -gap - h), (-w / 2, gap),
                     (gap, -gap - h), (-gap - w, -gap - h), (gap, gap), (-gap - w, gap)]
            for step in (1, 2, 3):  # then further up or down, in line with the source
                spots += [(-w / 2, -gap - (step + 1) * h), (-w / 2, gap + step * h),
                          (0, -gap - (step + 1) * h), (-w, gap + step * h)]
            boxes = [QRectF(centre.x() + dx, centre.y() + dy, w, h) for dx, dy in spots]
            boxes += [_clamped(box, area) for box in boxes]  # the same, slid into the map
            best, best_cost = None, math.inf
            for box in boxes:
                # covering another label or a source is worse than leaving the map a little
                cost = 10 * sum(_overlap(box, other) for other in (*taken, *placed.values())
                                if other is not taken[i])
                cost += w * h - _overlap(box, area)
                cost += 100 * (w * h - _overlap(box, bounds))  # cut off by the widget's edge
                if cost < best_cost:
                    best, best_cost = box, cost
                if cost == 0:
                    break
            placed[i] = best if best is not None else QRectF()
        self._marks = [(c, r, placed[i], text, fill)
                       for i, (c, r, text, fill, _) in enumerate(marks)]
        self._marks_key = key
        return self._marks

    def label_rects(self) -> list[QRectF]:
        """Where the source labels go (tests: they never overlap)."""
        return [box for _, _, box, _, _ in self._source_marks()]

    def _paint_sources(self, painter: QPainter) -> None:
        marks = self._source_marks()
        painter.setPen(self._source_pen)
        for centre, radius, _, _, fill in marks:
            painter.setBrush(fill)
            painter.drawEllipse(centre, radius, radius)
        painter.setPen(self._text_colour)
        for _, _, box, text, _ in marks:
            painter.drawText(box, int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter),
                             text)

    def set_compact(self, compact: bool) -> None:
        """A smaller minimum map on small screens."""
        side = COMPACT_MAP_PX if compact else ROOMY_MAP_PX
        self.setMinimumSize(side, side)

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
        self.scenario.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.scenario.setMinimumContentsLength(12)
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
        self.pose_label.setStyleSheet(f"font-size: 11pt; color: {style.MUTED_TEXT};")
        self.pose_label.setWordWrap(True)
        self.pose_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        for w in (self.map_button, self.scan_button, self.tilt, self.azimuth):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        grid = QGridLayout()
        grid.addWidget(QLabel("Scenario", self), 0, 0)
        grid.addWidget(self.scenario, 0, 1, 1, 2)
        buttons = QHBoxLayout()
        buttons.addWidget(self.map_button)
        buttons.addWidget(self.scan_button)
        grid.addLayout(buttons, 1, 0, 1, 3)
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

    def set_compact(self, compact: bool) -> None:
        """Smaller map minimum on small screens."""
        self.view.set_compact(compact)

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
