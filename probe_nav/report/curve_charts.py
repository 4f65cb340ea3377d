"""Report charts of fitted curves (drawn with QPainter onto the PDF page, like charts.py):

* LogCurveChart: measured points with sd bars and fitted curves on a logarithmic value axis
  over a linear time axis; the stretches outside the measured times (where a curve is an
  extrapolation) are shaded and labelled, and the curves are dashed there. A point at or below
  zero cannot sit on a log axis: it is drawn as an open triangle on the bottom edge.
* ResidualChart: standardised residuals of one or more fits against time, a zero line and
  +-2 lines; points are not joined (each is its own measurement).

The charts take plain numbers (lists of floats), so whatever fitted the curves stays out of
the report package.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF

from probe_nav.report import numbers
from probe_nav.report.axes import nice_ceiling, nice_ticks, tick_labels
from probe_nav.report.charts import AXIS_INK, GRID, INK, POINT, _mm, chart_font, draw_x_axis

EXTRAPOLATED = QColor("#f1ece0")
EXTRAPOLATED_TEXT = "extrapolated"


@dataclass(frozen=True)
class Curve:
    """A fitted curve sampled at x (NaN or <= 0 values are left out on a log axis)."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    colour: str
    width_mm: float = 0.35


@dataclass(frozen=True)
class PointSeries:
    """Measured (or derived) points with 1 sd bars (sd <= 0 or NaN: no bar)."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    sd: Sequence[float]
    colour: str = "#1f4e99"


def _legend_line(painter: QPainter, items: Sequence[tuple[str, QColor, bool]],
                 at: QPointF) -> float:
    """A one-line legend of line (False) and point (True) samples; returns its height."""
    device = painter.device()
    fm = QFontMetricsF(painter.font(), device)
    x, y_mid = at.x(), at.y() + _mm(device, 2.1)
    for label, colour, is_point in items:
        painter.setPen(QPen(colour, _mm(device, 0.35)))
        if is_point:
            painter.setBrush(QBrush(colour))
            painter.drawEllipse(QPointF(x + _mm(device, 2), y_mid), _mm(device, 0.9),
                                _mm(device, 0.9))
        else:
            painter.drawLine(QPointF(x, y_mid), QPointF(x + _mm(device, 5), y_mid))
        painter.setPen(INK)
        painter.drawText(QRectF(x + _mm(device, 6), at.y(), fm.horizontalAdvance(label) + 2,
                                _mm(device, 4.2)), int(Qt.AlignLeft | Qt.AlignVCenter), label)
        x += _mm(device, 10) + fm.horizontalAdvance(label)
    return _mm(device, 4.5)


def _x_axis(painter: QPainter, plot: QRectF, x_max: float, px: Callable[[float], float],
            title: str) -> None:
    draw_x_axis(painter, plot, nice_ticks(0.0, x_max, 8), px, title, label_mm=16.0,
                title_gap_mm=5.0, title_mm=4.0)


def _plot_rect(painter: QPainter, rect: QRectF, tick_w: float, x_max: float) -> QRectF:
    """The plotting area inside `rect`: the y labels (`tick_w` wide) on the left, a legend line
    on top, the x axis and its title below, the last x label's overhang on the right."""
    device = painter.device()
    left = rect.left() + _mm(device, 5) + tick_w + _mm(device, 1.5)
    legend_h = _mm(device, 5)
    return QRectF(left, rect.top() + legend_h + _mm(device, 1),
                  rect.right() - left - _right_inset(painter, x_max),
                  rect.height() - legend_h - _mm(device, 12))


def _right_inset(painter: QPainter, x_max: float) -> float:
    """Room right of the plot for half the last time label (centred on the plot's edge)."""
    device = painter.device()
    fm = QFontMetricsF(painter.font(), device)
    ticks = nice_ticks(0.0, x_max, 8)
    widest = max((fm.horizontalAdvance(t) for t in tick_labels(ticks, numbers.fixed)),
                 default=0.0)
    return max(_mm(device, 2), widest / 2 + _mm(device, 0.5))


def _y_title(painter: QPainter, rect: QRectF, plot: QRectF, title: str) -> None:
    device = painter.device()
    painter.save()
    painter.setPen(AXIS_INK)
    painter.translate(rect.left(), plot.center().y())
    painter.rotate(-90)
    painter.drawText(QRectF(-plot.height() / 2, 0, plot.height(), _mm(device, 4)),
                     int(Qt.AlignHCenter | Qt.AlignTop), title)
    painter.restore()


def _y_labels(painter: QPainter, rect: QRectF, left: float, ticks: Sequence[tuple[float, str]],
              plot: QRectF, py: Callable[[float], float]) -> None:
    device = painter.device()
    for value, text in ticks:
        painter.setPen(QPen(GRID, _mm(device, 0.15)))
        painter.drawLine(QPointF(plot.left(), py(value)), QPointF(plot.right(), py(value)))
        painter.setPen(AXIS_INK)
        painter.drawText(QRectF(rect.left(), py(value) - _mm(device, 2),
                                left - rect.left() - _mm(device, 1.5), _mm(device, 4)),
                         int(Qt.AlignRight | Qt.AlignVCenter), text)


def log_ticks(lo: float, hi: float) -> list[float]:
    """Tick values of a log axis from lo to hi (> 0): every decade, and 2 and 5 times it when
    the axis spans fewer than three decades."""
    first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
    steps = (1.0,) if last - first >= 3 else (1.0, 2.0, 5.0)
    return [m * 10.0 ** k for k in range(first, last + 1) for m in steps
            if lo * (1 - 1e-9) <= m * 10.0 ** k <= hi * (1 + 1e-9)]


def log_tick_label(value: float) -> str:
    """A log-axis tick as written: 1000, 100, 10, 1, 0.5, 0.01 (the decimals it needs)."""
    return numbers.fixed(value, max(0, -math.floor(math.log10(value) + 1e-9)))


class LogCurveChart:
    """Points with sd bars and fitted curves on a log value axis; outside [measured_from,
    measured_to] the plot is shaded and the curves dashed (an extrapolation)."""

    HEIGHT_RATIO = 0.55

    def __init__(self, points: PointSeries, curves: Sequence[Curve], *,
                 measured: tuple[float, float], x_max: float, x_title: str,
                 y_title: str) -> None:
        self.points, self.curves = points, list(curves)
        self.measured, self.x_title, self.y_title = measured, x_title, y_title
        self.x_max = nice_ceiling(max(x_max, measured[1]))

    def height(self, width: float, device: object) -> float:
        """Height in device pixels for this width."""
        return width * self.HEIGHT_RATIO

    def y_range(self) -> tuple[float, float]:
        """The log axis's ends: every positive point (with its bar) and the curves over the
        measured times, to whole or half decades (an extrapolated curve may leave the plot: it
        does not squeeze the measurements into a corner)."""
        values = [y + s for y, s in zip(self.points.y, self.points.sd, strict=True)
                  if math.isfinite(y) and y > 0]
        values += [y - s for y, s in zip(self.points.y, self.points.sd, strict=True)
                   if math.isfinite(y) and math.isfinite(s) and y - s > 0]
        values += [y for y in self.points.y if math.isfinite(y) and y > 0]
        for c in self.curves:
            values += [y for x, y in zip(c.x, c.y, strict=True)
                       if math.isfinite(y) and y > 0
                       and self.measured[0] <= x <= self.measured[1]]
        if not values:
            return 0.1, 10.0
        lo, hi = math.log10(min(values)), math.log10(max(values))
        lo, hi = math.floor(2 * lo) / 2, math.ceil(2 * hi) / 2
        if hi - lo < 1:
            lo, hi = lo - 0.5, hi + 0.5
        return 10.0 ** lo, 10.0 ** hi

    def draw(self, painter: QPainter, rect: QRectF) -> None:
        """Draw into rect (device pixels)."""
        device = painter.device()
        painter.save()
        painter.setFont(chart_font())
        fm = QFontMetricsF(chart_font(), device)
        y_lo, y_hi = self.y_range()
        ticks = [(t, log_tick_label(t)) for t in log_ticks(y_lo, y_hi)]
        tick_w = max((fm.horizontalAdvance(text) for _, text in ticks), default=0.0)
        plot = _plot_rect(painter, rect, tick_w, self.x_max)
        x_max = self.x_max

        def px(x: float) -> float:
            return plot.left() + x / x_max * plot.width()

        def py(y: float) -> float:
            frac = (math.log10(y) - math.log10(y_lo)) / (math.log10(y_hi) - math.log10(y_lo))
            return plot.bottom() - frac * plot.height()

        self._shade_extrapolation(painter, plot, px)
        _y_labels(painter, rect, plot.left(), ticks, plot, py)
        _x_axis(painter, plot, x_max, px, self.x_title)
        _y_title(painter, rect, plot, self.y_title)
        painter.setClipRect(plot)
        for curve in self.curves:
            self._draw_curve(painter, curve, px, py, y_lo)
        self._draw_points(painter, plot, px, py, y_lo)
        painter.setClipping(False)
        painter.setPen(QPen(AXIS_INK, _mm(device, 0.25)))
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(plot)
        items = [(self.points.label, QColor(self.points.colour), True)]
        items += [(c.label, QColor(c.colour), False) for c in self.curves]
        _legend_line(painter, items, QPointF(plot.left(), rect.top()))
        painter.restore()

    def _shade_extrapolation(self, painter: QPainter, plot: QRectF,
                             px: Callable[[float], float]) -> None:
        device = painter.device()
        first, last = self.measured
        painter.setPen(AXIS_INK)
        for x0, x1 in ((0.0, first), (last, self.x_max)):
            if x1 - x0 <= 0:
                continue
            box = QRectF(px(x0), plot.top(), px(x1) - px(x0), plot.height())
            painter.fillRect(box, EXTRAPOLATED)
            if box.width() > QFontMetricsF(painter.font(), device).horizontalAdvance(
                    EXTRAPOLATED_TEXT) + _mm(device, 2):
                painter.drawText(box.adjusted(0, _mm(device, 1), 0, 0),
                                 int(Qt.AlignHCenter | Qt.AlignTop), EXTRAPOLATED_TEXT)

    def _draw_curve(self, painter: QPainter, curve: Curve, px: Callable[[float], float],
                    py: Callable[[float], float], y_lo: float) -> None:
        """Solid over the measured times, dashed outside them (a step between two samples is
        dashed when its middle is outside)."""
        device = painter.device()
        first, last = self.measured
        samples = [(x, QPointF(px(x), py(max(y, y_lo * 1e-3))))
                   for x, y in zip(curve.x, curve.y, strict=True)
                   if math.isfinite(y) and y > 0 and 0 <= x <= self.x_max]
        runs: list[tuple[bool, list[QPointF]]] = []
        for (xa, a), (xb, b) in itertools.pairwise(samples):
            inside = first - 1e-9 <= (xa + xb) / 2 <= last + 1e-9
            if runs and runs[-1][0] == inside:
                runs[-1][1].append(b)
            else:
                runs.append((inside, [a, b]))
        painter.setBrush(Qt.NoBrush)
        for inside, run in runs:
            painter.setPen(QPen(QColor(curve.colour), _mm(device, curve.width_mm),
                                Qt.SolidLine if inside else Qt.DashLine))
            path = QPainterPath(run[0])
            for p in run[1:]:
                path.lineTo(p)
            painter.drawPath(path)

    def _draw_points(self, painter: QPainter, plot: QRectF, px: Callable[[float], float],
                     py: Callable[[float], float], y_lo: float) -> None:
        device = painter.device()
        colour = QColor(self.points.colour)
        radius = _mm(device, 0.9)
        s = self.points
        for x, y, sd in zip(s.x, s.y, s.sd, strict=True):
            painter.setPen(QPen(colour, _mm(device, 0.25)))
            if not (math.isfinite(y) and y > 0):  # not on a log axis: a mark on the edge
                painter.setBrush(Qt.NoBrush)
                b = plot.bottom() - _mm(device, 0.3)
                painter.drawPolygon(QPolygonF([QPointF(px(x) - radius, b - 2 * radius),
                                               QPointF(px(x) + radius, b - 2 * radius),
                                               QPointF(px(x), b)]))
                continue
            if math.isfinite(sd) and sd > 0:
                low = py(y - sd) if y - sd > 0 else plot.bottom()
                painter.drawLine(QPointF(px(x), low), QPointF(px(x), py(y + sd)))
                for end in (low, py(y + sd)):
                    painter.drawLine(QPointF(px(x) - radius, end), QPointF(px(x) + radius, end))
            painter.setBrush(QBrush(colour))
            painter.drawEllipse(QPointF(px(x), py(y)), radius, radius)


class ResidualChart:
    """Standardised residuals (value - fit) / sd of one or more fits against time, with a zero
    line and +-2 lines; each fit's points side by side, not joined."""

    HEIGHT_RATIO = 0.3

    def __init__(self, series: Sequence[PointSeries], *, x_max: float, x_title: str,
                 y_title: str = "standardised residual") -> None:
        self.series = list(series)
        self.x_max = nice_ceiling(x_max)
        self.x_title, self.y_title = x_title, y_title

    def height(self, width: float, device: object) -> float:
        """Height in device pixels for this width."""
        return width * self.HEIGHT_RATIO

    def y_limit(self) -> float:
        """Half the span of the symmetric value axis: at least 3, past every residual."""
        worst = max((abs(v) for s in self.series for v in s.y if math.isfinite(v)), default=0.0)
        return max(3.0, math.ceil(worst + 0.5))

    def draw(self, painter: QPainter, rect: QRectF) -> None:
        """Draw into rect (device pixels)."""
        device = painter.device()
        painter.save()
        painter.setFont(chart_font())
        fm = QFontMetricsF(chart_font(), device)
        limit = self.y_limit()
        ticks = nice_ticks(-limit, limit, 6)
        labelled = list(zip(ticks, tick_labels(ticks, numbers.fixed), strict=True))
        tick_w = max((fm.horizontalAdvance(t) for _, t in labelled), default=0.0)
        plot = _plot_rect(painter, rect, tick_w, self.x_max)

        def px(x: float) -> float:
            return plot.left() + x / self.x_max * plot.width()

        def py(y: float) -> float:
            return plot.center().y() - y / limit * plot.height() / 2

        _y_labels(painter, rect, plot.left(), labelled, plot, py)
        _x_axis(painter, plot, self.x_max, px, self.x_title)
        _y_title(painter, rect, plot, self.y_title)
        for level, style in ((0.0, Qt.SolidLine), (2.0, Qt.DashLine), (-2.0, Qt.DashLine)):
            painter.setPen(QPen(AXIS_INK, _mm(device, 0.25), style))
            painter.drawLine(QPointF(plot.left(), py(level)), QPointF(plot.right(), py(level)))
        offset = _mm(device, 0.9)
        for i, s in enumerate(self.series):
            shift = (i - (len(self.series) - 1) / 2) * 2 * offset
            colour = QColor(s.colour)
            painter.setPen(QPen(colour, _mm(device, 0.25)))
            painter.setBrush(QBrush(colour))
            for x, y in zip(s.x, s.y, strict=True):
                if math.isfinite(y):
                    painter.drawEllipse(QPointF(px(x) + shift, py(max(-limit, min(limit, y)))),
                                        offset, offset)
        painter.setPen(QPen(AXIS_INK, _mm(device, 0.25)))
        painter.setBrush(Qt.NoBrush)
        painter.drawRect(plot)
        _legend_line(painter, [(s.label, QColor(s.colour), True) for s in self.series],
                     QPointF(plot.left(), rect.top()))
        painter.restore()


__all__ = ["POINT", "Curve", "LogCurveChart", "PointSeries", "ResidualChart", "log_tick_label",
           "log_ticks"]
