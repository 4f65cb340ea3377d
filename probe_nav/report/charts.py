"""Report charts drawn with QPainter straight onto the PDF page (vector lines, real text):

* NodeBarChart: one group of horizontal bars per node (in vivo / ex vivo / bed), the value at
  the end of each bar, and labelled reference lines (10 % of the hottest node, background). Nodes
  are categories, so nothing joins one node to the next.
* ControlChart: a quantity over real dates (ticks on calendar steps), its tolerance band, the
  centre line (the baseline), sd error bars, failed points in red; the date axis spans at
  least two days, so a single point sits in the middle of a +-1 day axis (never the -0.4..0.4
  days of an axis stretched around one point). Points may be joined (a daily series) or not
  (independent tests).

A chart reports its height for a width (device pixels of the paint device) so the page layout
can reserve the space, then draws into the rectangle it was given.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen

from probe_nav.report import numbers
from probe_nav.report.axes import date_ticks, nice_ceiling, nice_ticks, tick_labels
from probe_nav.report.layout import report_font

INK = QColor("#000000")
AXIS_INK = QColor("#222222")
GRID = QColor("#d0d0d0")
BAND = QColor("#e2f0e2")
FAIL = QColor("#c00000")
POINT = QColor("#1f4e99")
TEXT_PT = 7.5
_DAY_S = 86400.0
MIN_SPAN = timedelta(days=2)  # a date axis spans at least this (one point: +-1 day around it)


def chart_font(size_pt: float = TEXT_PT, bold: bool = False) -> QFont:
    """The report family at this size (no ligatures)."""
    return report_font(size_pt, bold)  # type: ignore[return-value]


def _mm(device: object, value_mm: float) -> float:
    return value_mm * device.logicalDpiY() / 25.4  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BarSeries:
    """One bar of every category (NaN: no bar), its legend label and fill colour."""

    label: str
    values: Sequence[float]
    colour: str


@dataclass(frozen=True)
class RefLine:
    """A labelled line across the plot at a value."""

    label: str
    value: float
    colour: str = "#222222"
    dashed: bool = True


class NodeBarChart:
    """Grouped horizontal bars, one group per category (node), with reference lines."""

    BAR_MM, GROUP_GAP_MM, AXIS_MM, LEGEND_MM, REF_ROW_MM = 3.4, 2.2, 10.0, 6.0, 4.2

    def __init__(self, categories: Sequence[str], series: Sequence[BarSeries], axis_label: str,
                 ref_lines: Sequence[RefLine] = (),
                 value_text: Callable[[float], str] = numbers.quantity) -> None:
        for s in series:
            if len(s.values) != len(categories):
                raise ValueError(f"series {s.label!r} has {len(s.values)} values for "
                                 f"{len(categories)} categories")
        self.categories = [str(c) for c in categories]
        self.series = [s for s in series if any(math.isfinite(v) for v in s.values)]
        self.axis_label = axis_label
        self.ref_lines = [r for r in ref_lines if math.isfinite(r.value)]
        self.value_text = value_text

    def _layout(self, width: float, device: object) -> tuple[float, float, list[float], int]:
        """Widths of the node labels and the value texts, group heights, reference-label rows."""
        fm = QFontMetricsF(chart_font(), device)  # type: ignore[call-overload]
        label_w = min(max((fm.horizontalAdvance(c) for c in self.categories), default=0.0)
                      + _mm(device, 2), 0.32 * width)
        value_w = max((fm.horizontalAdvance(self.value_text(v)) for s in self.series
                       for v in s.values if math.isfinite(v)), default=0.0) + _mm(device, 2)
        bars = max(len(self.series), 1)
        heights = []
        for c in self.categories:
            text = fm.boundingRect(QRectF(0, 0, label_w - _mm(device, 2), 1e6),
                                   int(Qt.TextWordWrap), c).height()
            heights.append(max(bars * _mm(device, self.BAR_MM), text) +
                           _mm(device, self.GROUP_GAP_MM))
        return label_w, value_w, heights, self._ref_rows(width - label_w - value_w, device)

    def _ref_slots(self, plot_w: float, device: object) -> list[tuple[float, float, int]]:
        """(centre x from the plot's left, text width, row) of each reference label."""
        fm = QFontMetricsF(chart_font(), device)  # type: ignore[call-overload]
        x_max = self._x_max()
        rows: list[list[tuple[float, float]]] = []
        slots = []
        for ref in self.ref_lines:
            w = fm.horizontalAdvance(ref.label) + _mm(device, 2)
            x = min(max(ref.value / x_max * plot_w, w / 2), plot_w - w / 2)
            row = next((i for i, used in enumerate(rows)
                        if all(abs(x - ux) >= (w + uw) / 2 for ux, uw in used)), len(rows))
            if row == len(rows):
                rows.append([])
            rows[row].append((x, w))
            slots.append((x, w, row))
        return slots

    def _ref_rows(self, plot_w: float, device: object) -> int:
        return 1 + max((row for *_, row in self._ref_slots(plot_w, device)), default=-1)

    def _x_max(self) -> float:
        values = [v for s in self.series for v in s.values if math.isfinite(v)]
        values += [r.value for r in self.ref_lines]
        return nice_ceiling(max([v for v in values if v > 0], default=1.0))

    def height(self, width: float, device: object) -> float:
        """Height in device pixels for this width."""
        _label_w, _value_w, heights, ref_rows = self._layout(width, device)
        return (sum(heights) + ref_rows * _mm(device, self.REF_ROW_MM) +
                _mm(device, self.AXIS_MM + self.LEGEND_MM))

    def draw(self, painter: QPainter, rect: QRectF) -> None:
        """Draw into rect (device pixels)."""
        device = painter.device()
        label_w, value_w, heights, ref_rows = self._layout(rect.width(), device)
        top = rect.top() + ref_rows * _mm(device, self.REF_ROW_MM)
        plot = QRectF(rect.left() + label_w, top, rect.width() - label_w - value_w,
                      sum(heights))
        x_max = self._x_max()

        def px(v: float) -> float:
            return plot.left() + max(v, 0.0) / x_max * plot.width()

        painter.save()
        painter.setFont(chart_font())
        draw_x_axis(painter, plot, nice_ticks(0.0, x_max, 5), px, self.axis_label)
        self._draw_refs(painter, rect, plot, px)
        y = plot.top()
        bar_h = _mm(device, self.BAR_MM)
        for i, (category, h) in enumerate(zip(self.categories, heights, strict=True)):
            group = (h - _mm(device, self.GROUP_GAP_MM))
            painter.setPen(INK)
            painter.drawText(QRectF(rect.left(), y + _mm(device, self.GROUP_GAP_MM) / 2,
                                    label_w - _mm(device, 2), group),
                             int(Qt.TextWordWrap | Qt.AlignRight | Qt.AlignVCenter), category)
            by = y + _mm(device, self.GROUP_GAP_MM) / 2 + (group - len(self.series) * bar_h) / 2
            for s in self.series:
                v = s.values[i]
                if math.isfinite(v):
                    painter.fillRect(QRectF(plot.left(), by, px(v) - plot.left(), bar_h * 0.86),
                                     QColor(s.colour))
                    text = self.value_text(v)
                    box = QRectF(px(v) + _mm(device, 0.6), by, QFontMetricsF(
                        painter.font(), device).horizontalAdvance(text) + _mm(device, 0.8),
                        bar_h * 0.86)
                    painter.fillRect(box, QColor("#ffffff"))
                    painter.setPen(INK)
                    painter.drawText(box, int(Qt.AlignCenter), text)
                by += bar_h
            y += h
        painter.setPen(QPen(AXIS_INK, _mm(device, 0.25)))
        painter.drawLine(plot.bottomLeft(), plot.topLeft())
        painter.drawLine(plot.bottomLeft(), plot.bottomRight())
        _legend(painter, [(s.label, QColor(s.colour)) for s in self.series],
                QPointF(plot.left(), plot.bottom() + _mm(device, 10)))
        painter.restore()

    def _draw_refs(self, painter: QPainter, rect: QRectF, plot: QRectF,
                   px: Callable[[float], float]) -> None:
        """The reference lines, each from its label (rows above the plot) down to the axis."""
        device = painter.device()
        for ref, (_x, _w, row) in zip(self.ref_lines, self._ref_slots(plot.width(), device),
                                      strict=True):
            pen = QPen(QColor(ref.colour), _mm(device, 0.35))
            if ref.dashed:
                pen.setStyle(Qt.DashLine)
            painter.setPen(pen)
            label_bottom = rect.top() + (row + 1) * _mm(device, self.REF_ROW_MM)
            painter.drawLine(QPointF(px(ref.value), label_bottom), QPointF(px(ref.value),
                                                                         plot.bottom()))
        for ref, (x, w, row) in zip(self.ref_lines, self._ref_slots(plot.width(), device),
                                    strict=True):  # labels over the lines of higher rows
            label_bottom = rect.top() + (row + 1) * _mm(device, self.REF_ROW_MM)
            box = QRectF(plot.left() + x - w / 2, label_bottom - _mm(device, 4), w,
                         _mm(device, 4))
            painter.fillRect(box, QColor("#ffffff"))
            painter.setPen(QColor(ref.colour))
            painter.drawText(box, int(Qt.AlignCenter), ref.label)


def draw_x_axis(painter: QPainter, plot: QRectF, ticks: Sequence[float],
                px: Callable[[float], float], title: str, *, label_mm: float = 24.0,
                title_gap_mm: float = 4.8, title_mm: float = 4.5) -> None:
    """Vertical grid lines at `ticks` with their labels under the plot, and the axis title
    below them (one drawer for every chart with a value x axis)."""
    device = painter.device()
    for t, text in zip(ticks, tick_labels(list(ticks), numbers.fixed), strict=True):
        painter.setPen(QPen(GRID, _mm(device, 0.15)))
        painter.drawLine(QPointF(px(t), plot.top()), QPointF(px(t), plot.bottom()))
        painter.setPen(AXIS_INK)
        painter.drawText(QRectF(px(t) - _mm(device, label_mm / 2), plot.bottom() + _mm(device, 0.8),
                                _mm(device, label_mm), _mm(device, 4)),
                         int(Qt.AlignHCenter | Qt.AlignTop), text)
    painter.drawText(QRectF(plot.left(), plot.bottom() + _mm(device, title_gap_mm), plot.width(),
                            _mm(device, title_mm)), int(Qt.AlignHCenter | Qt.AlignTop), title)


def _legend(painter: QPainter, items: Sequence[tuple[str, QColor]], at: QPointF) -> None:
    device = painter.device()
    fm = QFontMetricsF(painter.font(), device)
    x = at.x()
    for label, colour in items:
        painter.fillRect(QRectF(x, at.y() + _mm(device, 0.8), _mm(device, 4), _mm(device, 2.6)),
                         colour)
        painter.setPen(INK)
        painter.drawText(QRectF(x + _mm(device, 5), at.y(), fm.horizontalAdvance(label) + 2,
                                _mm(device, 4.2)), int(Qt.AlignLeft | Qt.AlignVCenter), label)
        x += _mm(device, 9) + fm.horizontalAdvance(label)


class ControlChart:
    """A quantity over dates with a tolerance band and a centre line (e.g. daily constancy);
    `hollow` points (e.g. baselines, 1 by definition) are drawn as open circles."""

    HEIGHT_RATIO = 0.42

    def __init__(self, times: Sequence[datetime], values: Sequence[float],
                 sds: Sequence[float] | None = None, *, band: tuple[float, float],
                 band_labels: tuple[str, str], centre: RefLine, axis_label: str,
                 failed: Sequence[bool] | None = None,
                 hollow: Sequence[bool] | None = None, joined: bool = True,
                 min_span: timedelta = MIN_SPAN) -> None:
        points = [(t.astimezone(UTC), float(v), float(sds[i]) if sds is not None else 0.0,
                   bool(failed[i]) if failed is not None else False,
                   bool(hollow[i]) if hollow is not None else False)
                  for i, (t, v) in enumerate(zip(times, values, strict=True))
                  if math.isfinite(float(v))]
        if not points:
            raise ValueError("a control chart needs a measurement")
        self.points = sorted(points, key=lambda p: p[0])
        self.joined, self.min_span = joined, min_span
        self.band, self.band_labels, self.centre = band, band_labels, centre
        self.axis_label = axis_label

    def height(self, width: float, device: object) -> float:
        """Height in device pixels for this width."""
        return width * self.HEIGHT_RATIO

    def _y_range(self) -> tuple[float, float]:
        lo, hi = self.band
        values = [p[1] - p[2] for p in self.points] + [p[1] + p[2] for p in self.points]
        margin = 0.25 * (hi - lo)
        return min(min(values), lo - margin), max(max(values), hi + margin)

    def draw(self, painter: QPainter, rect: QRectF) -> None:
        """Draw into rect (device pixels)."""
        device = painter.device()
        painter.save()
        painter.setFont(chart_font())
        fm = QFontMetricsF(chart_font(), device)
        y0, y1 = self._y_range()
        y_ticks = nice_ticks(y0, y1, 6)
        y_texts = tick_labels(y_ticks, numbers.fixed)
        tick_w = max(fm.horizontalAdvance(t) for t in y_texts)
        left = rect.left() + _mm(device, 5) + tick_w + _mm(device, 1.5)
        right_w = max(fm.horizontalAdvance(t) for t in (*self.band_labels, self.centre.label))
        plot = QRectF(left, rect.top() + _mm(device, 2), rect.right() - left - right_w -
                      _mm(device, 2), rect.height() - _mm(device, 12))
        t0, t1 = self.points[0][0], self.points[-1][0]
        pad = max((t1 - t0) * 0.05, (self.min_span - (t1 - t0)) / 2)
        t0, t1 = t0 - pad, t1 + pad
        span = (t1 - t0).total_seconds()

        def px(t: datetime) -> float:
            return plot.left() + (t - t0).total_seconds() / span * plot.width()

        def py(v: float) -> float:
            return plot.bottom() - (v - y0) / (y1 - y0) * plot.height()

        painter.fillRect(QRectF(plot.left(), py(self.band[1]), plot.width(),
                                py(self.band[0]) - py(self.band[1])), BAND)
        for t, text in zip(y_ticks, y_texts, strict=True):
            painter.setPen(QPen(GRID, _mm(device, 0.15)))
            painter.drawLine(QPointF(plot.left(), py(t)), QPointF(plot.right(), py(t)))
            painter.setPen(AXIS_INK)
            painter.drawText(QRectF(rect.left(), py(t) - _mm(device, 2), left - rect.left() -
                                    _mm(device, 1.5), _mm(device, 4)),
                             int(Qt.AlignRight | Qt.AlignVCenter), text)
        self._draw_date_axis(painter, plot, (t0, t1), px)
        painter.save()
        painter.translate(rect.left(), plot.center().y())
        painter.rotate(-90)
        painter.drawText(QRectF(-plot.height() / 2, 0, plot.height(), _mm(device, 4)),
                         int(Qt.AlignHCenter | Qt.AlignTop), self.axis_label)
        painter.restore()
        for value, label, style in ((self.band[1], self.band_labels[1], Qt.DashLine),
                                    (self.band[0], self.band_labels[0], Qt.DashLine),
                                    (self.centre.value, self.centre.label, Qt.SolidLine)):
            painter.setPen(QPen(AXIS_INK, _mm(device, 0.3), style))
            painter.drawLine(QPointF(plot.left(), py(value)), QPointF(plot.right(), py(value)))
            painter.setPen(AXIS_INK)
            painter.drawText(QRectF(plot.right() + _mm(device, 1), py(value) - _mm(device, 2),
                                    right_w + _mm(device, 1), _mm(device, 4)),
                             int(Qt.AlignLeft | Qt.AlignVCenter), label)
        painter.setPen(QPen(AXIS_INK, _mm(device, 0.25)))
        painter.drawRect(plot)
        self._draw_points(painter, px, py)
        painter.restore()

    def _draw_date_axis(self, painter: QPainter, plot: QRectF,
                        span: tuple[datetime, datetime],
                        px: Callable[[datetime], float]) -> None:
        """Grid lines and labels on calendar steps under the plot, and the axis title."""
        device = painter.device()
        t0, t1 = span
        sample = datetime(2026, 12, 28, 23, 59, 59, tzinfo=UTC)
        fm = QFontMetricsF(chart_font(), device)
        label_w = max(fm.horizontalAdvance(sample.strftime(f)) for f in ("%Y-%m-%d",
                                                                          "%m-%d %H:%M"))
        ticks, step = date_ticks(t0, t1, int(plot.width() // (label_w * 1.4)),
                                 min(self.min_span.total_seconds() / 2, _DAY_S))
        for t in ticks:
            painter.setPen(QPen(GRID, _mm(device, 0.15)))
            painter.drawLine(QPointF(px(t), plot.top()), QPointF(px(t), plot.bottom()))
            painter.setPen(AXIS_INK)
            painter.drawText(QRectF(px(t) - label_w, plot.bottom() + _mm(device, 0.8),
                                    2 * label_w, _mm(device, 4)),
                             int(Qt.AlignHCenter | Qt.AlignTop), t.strftime(step.label))
        days = {p[0].date() for p in self.points}
        x_title = "date (UTC)" if step.label.startswith("%Y") else (
            f"time (UTC) on {next(iter(days)).isoformat()}" if len(days) == 1 and
            "%d" not in step.label else "date and time (UTC)")
        painter.drawText(QRectF(plot.left(), plot.bottom() + _mm(device, 5), plot.width(),
                                _mm(device, 4)), int(Qt.AlignHCenter | Qt.AlignTop), x_title)

    def _draw_points(self, painter: QPainter, px: Callable[[datetime], float],
                     py: Callable[[float], float]) -> None:
        """The points with their sd bars (joined by a line for a series)."""
        device = painter.device()
        if self.joined:
            path = QPainterPath()
            for i, (t, v, *_rest) in enumerate(self.points):
                (path.lineTo if i else path.moveTo)(QPointF(px(t), py(v)))
            painter.setPen(QPen(POINT, _mm(device, 0.25)))
            painter.drawPath(path)
        radius = _mm(device, 0.9)
        for t, v, s, failed, hollow in self.points:
            colour = FAIL if failed else POINT
            painter.setPen(QPen(colour, _mm(device, 0.25)))
            if s > 0:
                painter.drawLine(QPointF(px(t), py(v - s)), QPointF(px(t), py(v + s)))
            painter.setBrush(QBrush(QColor("#ffffff") if hollow else colour))
            painter.drawEllipse(QPointF(px(t), py(v)), radius * (1.4 if failed else 1.0),
                                radius * (1.4 if failed else 1.0))
