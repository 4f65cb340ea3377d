"""A small PDF report writer on Qt's QPdfWriter: headings, paragraphs, tables and line plots.

Blocks are collected in order and laid out on A4 pages by `save()`, which breaks pages between
blocks (and between table rows, repeating the header). Text is drawn as text, so it can be searched
and extracted from the PDF. Qt comes from probe_nav.qt_app.ensure_qt_app(headless=True), so reports
render without a display.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.errors import UserError
from probe_nav.qt_app import ensure_qt_app

DPI = 300
MARGIN_MM = 18.0
SERIES_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
MARK_FILL = "#ffd6d6"


def _mm(mm: float) -> int:
    return round(mm / 25.4 * DPI)


@dataclass
class _Block:
    """One laid-out element: its height for a width, and how to draw it at a top y."""

    measure: Callable[[object, int], int]  # (painter, width) -> height in device pixels
    draw: Callable[[object, int, int], None]  # (painter, top y, width)
    splittable_rows: list[_Block] | None = None  # tables: rows that may go on later pages
    header: _Block | None = None


class PdfReport:
    """A PDF document built block by block; nothing is written until save()."""

    def __init__(self, path: Path, title: str) -> None:
        self.path = Path(path)
        self.title = title
        self._blocks: list[_Block] = []
        self.heading(title, level=0)

    # ---- building -------------------------------------------------------------------------
    def heading(self, text: str, level: int = 1) -> None:
        """A section heading (level 0 is the title)."""
        size = 16 if level == 0 else 12.5
        self._text_block(text, size, bold=True, space_before_mm=2.0 if level else 0.0)

    def paragraph(self, text: str) -> None:
        """Wrapped body text."""
        self._text_block(text, 9.5, bold=False, space_before_mm=0.5)

    def key_values(self, pairs: Sequence[tuple[str, str]]) -> None:
        """A two-column list of labels and values."""
        self.table(("", ""), [(k, v) for k, v in pairs], show_header=False)

    def table(
        self,
        headers: Sequence[str],
        rows: Sequence[Sequence[str]],
        marked_rows: Collection[int] = (),
        *,
        show_header: bool = True,
    ) -> None:
        """A table of text; rows whose index is in marked_rows are highlighted."""
        n = len(headers)
        cells = [[str(c) for c in row] for row in rows]
        for i, row in enumerate(cells):
            if len(row) != n:
                raise ValueError(f"table row {i} has {len(row)} cells, the header {n}")
        marked = set(marked_rows)
        font_size = 8.5

        def widths(painter: object, width: int) -> list[int]:
            from PySide6.QtGui import QFontMetrics

            fm = QFontMetrics(_font(font_size, True), painter.device())
            natural = [max([fm.horizontalAdvance(h) for h in headers if show_header] +
                           [fm.horizontalAdvance(r[j]) for r in cells] + [1]) + _mm(3)
                       for j, h in enumerate(headers)]
            total = sum(natural)
            if total <= width:
                return [*natural[:-1], width - sum(natural[:-1])]
            return [max(int(w * width / total), 1) for w in natural]

        def row_block(values: Sequence[str], bold: bool, fill: str | None) -> _Block:
            def measure(painter: object, width: int) -> int:
                from PySide6.QtGui import QFontMetrics

                return QFontMetrics(_font(font_size, bold), painter.device()).height() + _mm(1.6)

            def draw(painter: object, y: int, width: int) -> None:
                from PySide6.QtCore import QRect, Qt
                from PySide6.QtGui import QColor, QPen

                h = measure(painter, width)
                if fill:
                    painter.fillRect(QRect(0, y, width, h), QColor(fill))
                painter.setFont(_font(font_size, bold))
                painter.setPen(QPen(QColor("black")))
                x = 0
                for w, value in zip(widths(painter, width), values, strict=True):
                    rect = QRect(x + _mm(1), y, w - _mm(2), h)
                    text = painter.fontMetrics().elidedText(value, Qt.ElideRight, rect.width())
                    painter.drawText(rect, int(Qt.AlignVCenter | Qt.AlignLeft), text)
                    x += w
                painter.setPen(QPen(QColor("#bbbbbb"), 1))
                painter.drawLine(0, y + h, width, y + h)

            return _Block(measure, draw)

        header = row_block(headers, True, "#e8e8e8") if show_header else None
        body = [row_block(r, False, MARK_FILL if i in marked else None)
                for i, r in enumerate(cells)]
        self._blocks.append(_Block(lambda p, w: _mm(2), lambda p, y, w: None, body, header))

    def line_plot(
        self,
        series: Sequence[tuple[str, ArrayLike, ArrayLike]],
        x_label: str,
        y_label: str,
        title: str = "",
        hlines: Sequence[tuple[str, float]] = (),
    ) -> None:
        """A line plot of (label, x, y) series with optional labelled horizontal lines."""
        data = []
        for label, x, y in series:
            xa, ya = np.asarray(x, dtype=float).ravel(), np.asarray(y, dtype=float).ravel()
            if xa.shape != ya.shape:
                raise ValueError(f"series {label!r}: x and y differ in length")
            data.append((label, xa, ya))
        plot = _Plot(data, x_label, y_label, title, [(s, float(v)) for s, v in hlines])
        self._blocks.append(_Block(plot.measure, plot.draw))

    def _text_block(self, text: str, size: float, bold: bool, space_before_mm: float) -> None:
        def rect_for(painter: object, width: int):
            from PySide6.QtCore import QRect, Qt

            painter.setFont(_font(size, bold))
            flags = int(Qt.TextWordWrap | Qt.AlignLeft)
            return painter.boundingRect(QRect(0, 0, width, 100000), flags, text), flags

        def measure(painter: object, width: int) -> int:
            return rect_for(painter, width)[0].height() + _mm(space_before_mm + 1.5)

        def draw(painter: object, y: int, width: int) -> None:
            from PySide6.QtCore import QRect

            rect, flags = rect_for(painter, width)
            painter.drawText(QRect(0, y + _mm(space_before_mm), width, rect.height()), flags,
                             text)

        self._blocks.append(_Block(measure, draw))

    # ---- output ---------------------------------------------------------------------------
    def save(self) -> Path:
        """Lay out all blocks on A4 pages and write the PDF; returns its path."""
        ensure_qt_app(headless=True)
        from PySide6.QtCore import QMarginsF
        from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{self.path}: cannot create the folder ({exc.strerror})") from None
        writer = QPdfWriter(str(self.path))
        writer.setResolution(DPI)
        writer.setTitle(self.title)
        writer.setCreator("probe-nav")
        writer.setPageLayout(QPageLayout(QPageSize(QPageSize.A4), QPageLayout.Portrait,
                                         QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
                                         QPageLayout.Millimeter))
        painter = QPainter()
        if not painter.begin(writer):
            raise UserError(f"{self.path}: cannot write the PDF file")
        try:
            self._layout(painter, writer)
        finally:
            painter.end()
        if not self.path.exists() or self.path.stat().st_size == 0:
            raise UserError(f"{self.path}: the PDF file could not be written")
        return self.path

    def _layout(self, painter: object, writer: object) -> None:
        width = painter.viewport().width()
        height = painter.viewport().height()
        footer_h = _mm(6)
        usable = height - footer_h
        page = [1]
        y = 0

        def footer() -> None:
            from PySide6.QtCore import QRect, Qt

            painter.setFont(_font(7.5, False))
            painter.drawText(QRect(0, height - footer_h, width, footer_h),
                             int(Qt.AlignRight | Qt.AlignBottom),
                             f"{self.title} - page {page[0]}")

        def new_page() -> int:
            footer()
            writer.newPage()
            page[0] += 1
            return 0

        def place(block: _Block, y: int) -> int:
            h = block.measure(painter, width)
            if y + h > usable and y > 0:
                y = new_page()
            block.draw(painter, y, width)
            return y + h

        for block in self._blocks:
            if block.splittable_rows is None:
                y = place(block, y)
                continue
            rows = block.splittable_rows
            head_h = block.header.measure(painter, width) if block.header else 0
            first_h = rows[0].measure(painter, width) if rows else 0
            if y + head_h + first_h > usable and y > 0:
                y = new_page()
            if block.header:
                y = place(block.header, y)
            for row in rows:
                h = row.measure(painter, width)
                if y + h > usable:
                    y = new_page()
                    if block.header:
                        y = place(block.header, y)
                row.draw(painter, y, width)
                y += h
            y += block.measure(painter, width)
        footer()


def _font(size_pt: float, bold: bool):
    from PySide6.QtGui import QFont

    font = QFont("DejaVu Sans")
    font.setStyleHint(QFont.SansSerif)
    font.setPointSizeF(size_pt)
    font.setBold(bold)
    return font


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def _tick_text(value: float) -> str:
    return f"{value:g}"


class _Plot:
    """Draws a line plot into a rectangle: axes, ticks, series, labelled horizontal lines."""

    def __init__(self, data, x_label: str, y_label: str, title: str, hlines) -> None:
        self.data, self.x_label, self.y_label = data, x_label, y_label
        self.title, self.hlines = title, hlines

    def measure(self, painter: object, width: int) -> int:
        return int(width * 0.55) + _mm(4)

    def _ranges(self) -> tuple[float, float, float, float]:
        xs = [x[np.isfinite(x) & np.isfinite(y)] for _, x, y in self.data]
        ys = [y[np.isfinite(x) & np.isfinite(y)] for _, x, y in self.data]
        ys.append(np.array([v for _, v in self.hlines if math.isfinite(v)]))
        xall = np.concatenate(xs) if xs else np.empty(0)
        yall = np.concatenate(ys)
        x0, x1 = (float(xall.min()), float(xall.max())) if xall.size else (0.0, 1.0)
        y0, y1 = (float(yall.min()), float(yall.max())) if yall.size else (0.0, 1.0)
        y0 = min(y0, 0.0)
        if x1 <= x0:
            x0, x1 = x0 - 0.5, x1 + 0.5
        if y1 <= y0:
            y1 = y0 + 1.0
        return x0, x1, y0, y1 + 0.05 * (y1 - y0)

    def draw(self, painter: object, top: int, width: int) -> None:
        from PySide6.QtCore import QPointF, QRect, Qt
        from PySide6.QtGui import QColor, QPainterPath, QPen

        height = self.measure(painter, width) - _mm(4)
        small = _font(7.5, False)
        painter.setFont(small)
        fm = painter.fontMetrics()
        text_h = fm.height()
        title_h = text_h + _mm(1) if self.title else 0
        left = fm.horizontalAdvance("-00000.0") + text_h + _mm(2)
        legend_h = text_h + _mm(1)
        plot = QRect(left, top + title_h, width - left - _mm(2),
                     height - title_h - 2 * text_h - legend_h - _mm(2))
        x0, x1, y0, y1 = self._ranges()

        def px(x: float) -> float:
            return plot.left() + (x - x0) / (x1 - x0) * plot.width()

        def py(y: float) -> float:
            return plot.bottom() - (y - y0) / (y1 - y0) * plot.height()

        black = QPen(QColor("black"), 2)
        grid = QPen(QColor("#dddddd"), 1)
        if self.title:
            painter.setFont(_font(9, True))
            painter.drawText(QRect(0, top, width, title_h), int(Qt.AlignHCenter), self.title)
            painter.setFont(small)
        for t in nice_ticks(x0, x1):
            painter.setPen(grid)
            painter.drawLine(QPointF(px(t), plot.top()), QPointF(px(t), plot.bottom()))
            painter.setPen(black)
            painter.drawText(QRect(int(px(t)) - _mm(10), plot.bottom() + _mm(0.5), _mm(20),
                                   text_h), int(Qt.AlignHCenter), _tick_text(t))
        for t in nice_ticks(y0, y1):
            painter.setPen(grid)
            painter.drawLine(QPointF(plot.left(), py(t)), QPointF(plot.right(), py(t)))
            painter.setPen(black)
            painter.drawText(QRect(text_h, int(py(t)) - text_h // 2, left - text_h - _mm(1),
                                   text_h), int(Qt.AlignRight | Qt.AlignVCenter), _tick_text(t))
        painter.setPen(black)
        painter.drawRect(plot)
        painter.drawText(QRect(plot.left(), plot.bottom() + text_h + _mm(0.5), plot.width(),
                               text_h), int(Qt.AlignHCenter), self.x_label)
        painter.save()
        painter.translate(0, plot.center().y())
        painter.rotate(-90)
        painter.drawText(QRect(-plot.height() // 2, 0, plot.height(), text_h),
                         int(Qt.AlignHCenter), self.y_label)
        painter.restore()
        painter.save()
        painter.setClipRect(plot)
        for i, (label, value) in enumerate(self.hlines):
            if not math.isfinite(value):
                continue
            pen = QPen(QColor("#555555"), 2, Qt.DashLine)
            painter.setPen(pen)
            painter.drawLine(QPointF(plot.left(), py(value)), QPointF(plot.right(), py(value)))
            painter.drawText(QRect(plot.left() + _mm(1) + i * _mm(30), int(py(value)) - text_h,
                                   _mm(60), text_h), int(Qt.AlignLeft), label)
        for i, (_label, x, y) in enumerate(self.data):
            ok = np.isfinite(x) & np.isfinite(y)
            painter.setPen(QPen(QColor(SERIES_COLOURS[i % len(SERIES_COLOURS)]), 4))
            if int(ok.sum()) == 1:
                j = int(np.flatnonzero(ok)[0])
                painter.drawEllipse(QPointF(px(x[j]), py(y[j])), _mm(0.8), _mm(0.8))
                continue
            path = QPainterPath()
            pen_down = False
            for xv, yv, good in zip(x.tolist(), y.tolist(), ok.tolist(), strict=True):
                if not good:  # a gap in the data is a gap in the line
                    pen_down = False
                    continue
                if pen_down:
                    path.lineTo(px(xv), py(yv))
                else:
                    path.moveTo(px(xv), py(yv))
                    pen_down = True
            painter.drawPath(path)
        painter.restore()
        lx = plot.left()
        ly = plot.bottom() + 2 * text_h + _mm(1.5)
        for i, (label, _x, _y) in enumerate(self.data):
            painter.setPen(QPen(QColor(SERIES_COLOURS[i % len(SERIES_COLOURS)]), 6))
            painter.drawLine(lx, ly + text_h // 2, lx + _mm(6), ly + text_h // 2)
            painter.setPen(black)
            painter.drawText(QRect(lx + _mm(7), ly, _mm(60), text_h), int(Qt.AlignLeft), label)
            lx += _mm(8) + fm.horizontalAdvance(label) + _mm(4)
