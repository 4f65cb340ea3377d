"""The navigation guide a surgeon reads at a glance from 2 m: the status on its colour, an arrow
over the skin from the tip towards the chosen spot (patient frame, y up as on the top view), the
distance to move, the spot's depth and how far off the probe's axis it lies. Renders a
GuideDisplay (probe_nav.gui.guide_state) and nothing else: no numbers without a live pose."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import QSizePolicy, QWidget

from probe_nav.gui import style
from probe_nav.gui.guide_state import GUIDING, GuideDisplay

FULL_SCALE_MM = 60.0  # an arrow this long or longer fills the dial
ABOVE_MM = 3.0  # closer than this over the skin: "above it", no arrow


class GuideView(QWidget):
    """The 2D guide (module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumSize(240, 260)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.display: GuideDisplay | None = None
        self._big = QFont(self.font())
        self._big.setBold(True)
        self._small = QFont(self.font())

    def show_display(self, display: GuideDisplay) -> None:
        """Render this content (repaints only when it changed)."""
        if display != self.display:
            self.display = display
            self.update()

    def paintEvent(self, event: object) -> None:
        d = self.display
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor(style.BACKGROUND))
        if d is None:
            p.end()
            return
        w, h = self.width(), self.height()
        unit = max(10, min(w, h) // 14)  # type scales with the widget: legible from 2 m
        band = QRectF(0, 0, w, unit * 2.0)
        back, fore = d.colours
        p.fillRect(band, QColor(back))
        self._big.setPixelSize(int(unit * 1.3))
        p.setFont(self._big)
        p.setPen(QColor(fore))
        status = "ON TARGET" if d.guidance is not None and d.guidance.on_target else d.status
        p.drawText(band, Qt.AlignmentFlag.AlignCenter, status)
        # the foot (the spot and the reconstruction's detail) takes the lines it needs, the
        # dial the rest: a wrapped detail is never cut off
        self._small.setPixelSize(int(unit * 0.55))
        text = f"{d.spot_label}\n{d.detail}"
        flags = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
        needed = QFontMetrics(self._small).boundingRect(
            QRectF(0, 0, w - 16, h).toRect(), int(flags.value), text).height()
        foot_h = max(unit * 1.5, min(float(needed) + 4, h * 0.45))
        dial = QRectF(0, band.bottom() + unit * 0.3, w,
                      max(0.0, h - band.height() - unit * 2.2 - foot_h))
        if d.status == GUIDING and d.guidance is not None:
            self._paint_dial(p, dial, d, unit)
        p.setFont(self._small)
        p.setPen(QColor(style.MUTED_TEXT))
        p.drawText(QRectF(8, h - foot_h - unit * 0.1, w - 16, foot_h), flags, text)
        p.end()

    def _paint_dial(self, p: QPainter, area: QRectF, d: GuideDisplay, unit: int) -> None:
        g = d.guidance
        assert g is not None
        radius = min(area.width(), area.height() - unit * 2.5) / 2 - 6
        centre = QPointF(area.center().x(), area.top() + 6 + radius)
        p.setPen(QPen(QColor(style.GREY), 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawEllipse(centre, radius, radius)
        p.drawEllipse(centre, radius / 2, radius / 2)
        accent = QColor(style.HOT if g.on_target else style.ACCENT)
        if g.horizontal_mm < ABOVE_MM:
            p.setBrush(accent)
            p.setPen(Qt.PenStyle.NoPen)
            p.drawEllipse(centre, radius / 6, radius / 6)
        else:
            length = radius * min(1.0, max(0.25, g.horizontal_mm / FULL_SCALE_MM))
            angle = math.radians(g.bearing_deg)
            tip = QPointF(centre.x() + length * math.cos(angle),
                          centre.y() - length * math.sin(angle))  # y up
            p.setPen(QPen(accent, max(4, unit // 3), Qt.PenStyle.SolidLine,
                          Qt.PenCapStyle.RoundCap))
            p.drawLine(centre, tip)
            head = unit * 0.9
            left = angle + math.radians(150)
            right = angle - math.radians(150)
            poly = QPolygonF([tip,
                              QPointF(tip.x() + head * math.cos(left),
                                      tip.y() - head * math.sin(left)),
                              QPointF(tip.x() + head * math.cos(right),
                                      tip.y() - head * math.sin(right))])
            p.setBrush(accent)
            p.setPen(Qt.PenStyle.NoPen)
            p.drawPolygon(poly)
        move = "above it" if g.horizontal_mm < ABOVE_MM else f"move {g.horizontal_mm:.0f} mm"
        top = centre.y() + radius + 4
        self._fit_line(p, QRectF(area.left(), top, area.width(), unit * 1.3),
                       f"{move} · depth {g.depth_mm:.0f} mm", int(unit * 1.1), style.LIVE)
        self._fit_line(p, QRectF(area.left(), top + unit * 1.3, area.width(), unit * 1.0),
                       f"{g.off_axis_deg:.0f}° off axis · {g.distance_mm:.0f} mm away",
                       int(unit * 0.8), style.TEXT)

    def _fit_line(self, p: QPainter, box: QRectF, text: str, pixel_size: int,
                  colour: str) -> None:
        """One centred line, its font shrunk until the text fits the box's width."""
        font = QFont(self._big)
        font.setPixelSize(pixel_size)
        width = QFontMetrics(font).horizontalAdvance(text)
        if width > box.width() - 8:
            font.setPixelSize(max(8, int(pixel_size * (box.width() - 8) / width)))
        p.setFont(font)
        p.setPen(QColor(colour))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, text)
