"""Lays a report Document (probe_nav.report.layout) out on A4 pages of a QPdfWriter: the body
through QTextDocument at the writer's resolution, a running header and a "page N of M" footer
drawn on every page, charts drawn where their placeholders landed. Headless: Qt comes from
probe_nav.qt_app.ensure_qt_app(headless=True)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from probe_nav.errors import UserError
from probe_nav.qt_app import ensure_qt_app
from probe_nav.report import layout, paginate
from probe_nav.report.layout import Document

CLIP_INSET_PX = 1.0  # device pixels (1/300 inch): lines of the neighbouring pages stay out
MAX_KEEP_PASSES = 20  # headings moved to keep them with what follows; each pass moves one
MAX_SPLIT_PASSES = 40  # layouts to place table pieces (see probe_nav.report.paginate)
logger = logging.getLogger(__name__)


def _px(mm: float) -> float:
    return mm / 25.4 * layout.DPI


@dataclass
class _Placed:
    """A chart's placeholder after layout: its page and rectangle within the body."""

    figure: layout.Figure
    page: int
    top: float
    left: float
    width: float
    height: float


def _text_document(html: str, writer: object, width: float):
    from PySide6.QtCore import QSizeF
    from PySide6.QtGui import QTextDocument, QTextOption

    doc = QTextDocument()
    option = QTextOption()
    option.setWrapMode(QTextOption.WrapMode.WordWrap)  # between words only: never inside one
    doc.setDefaultTextOption(option)
    doc.documentLayout().setPaintDevice(writer)
    doc.setDefaultFont(layout.report_font(9.0))  # the family of every part
    doc.setDefaultStyleSheet(layout.STYLE)
    doc.setDocumentMargin(0)
    doc.setHtml(html)
    doc.setTextWidth(width)
    doc.setPageSize(QSizeF(width, 1e9))
    return doc


def _insert_figures(doc, report: Document, writer: object, width: float) -> list[tuple[int,
                                                                                       float]]:
    """Replace each placeholder by a blank image of the chart's size; (text position, height
    in device pixels) of each."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QColor, QImage, QTextDocument, QTextImageFormat

    blank = QImage(1, 1, QImage.Format.Format_ARGB32)
    blank.fill(QColor(0, 0, 0, 0))
    doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl("figure:blank"), blank)
    to_css = layout.CSS_PX_PER_INCH / layout.DPI
    out = []
    for i, fig in enumerate(report.figures):
        cursor = doc.find(f"[[figure:{i}]]")
        if cursor.isNull():
            raise RuntimeError(f"figure {i} placeholder lost")
        w = width * fig.width_fraction
        h = fig.chart.height(w, writer)
        fmt = QTextImageFormat()
        fmt.setName("figure:blank")
        fmt.setWidth(w * to_css)
        fmt.setHeight(h * to_css)
        cursor.insertImage(fmt)
        out.append((cursor.position() - 1, h))
    return out


def _first_line_top(doc, block) -> float:
    rect = doc.documentLayout().blockBoundingRect(block)
    lines = block.layout()
    if lines.lineCount() == 0:
        return rect.top()
    return rect.top() + lines.lineAt(0).y()  # a line moved to the next page keeps its offset


def _keep_with_next(doc, page_h: float, figure_blocks: set[int]) -> None:
    """Headings, and the block just before a chart, stay on the page of what follows them: a
    chain of such blocks that a page break would separate from its next block starts a page."""
    from PySide6.QtGui import QTextCursor, QTextFormat

    def keeps(block) -> bool:
        nxt = block.next()
        return nxt.isValid() and (block.blockFormat().headingLevel() > 0 or
                                  nxt.blockNumber() in figure_blocks)

    def page(block) -> int:
        return int((_first_line_top(doc, block) + 1.0) // page_h)  # +1: rounding at a break

    auto = QTextFormat.PageBreakFlag.PageBreak_Auto
    for _ in range(MAX_KEEP_PASSES):
        block, moved = doc.begin(), False
        while block.isValid() and not moved:
            if keeps(block) and page(block.next()) > page(block):
                start = block
                while (start.previous().isValid() and keeps(start.previous()) and
                       page(start.previous()) == page(start)):
                    start = start.previous()
                at_top = _first_line_top(doc, start) - page(start) * page_h < 2.0
                if start.blockFormat().pageBreakPolicy() == auto and not at_top:
                    fmt = start.blockFormat()
                    fmt.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
                    QTextCursor(start).setBlockFormat(fmt)
                    moved = True
            block = block.next()
        if not moved:
            return


def _place_figures(doc, report: Document, positions: list[tuple[int, float]],
                   page_h: float) -> list[_Placed]:
    placed = []
    for fig, (pos, h) in zip(report.figures, positions, strict=True):
        block = doc.findBlock(pos)
        rect = doc.documentLayout().blockBoundingRect(block)
        lines = block.layout()
        line = lines.lineForTextPosition(pos - block.position())
        top = rect.top() + line.y() + line.ascent() - h  # the image sits on the baseline
        x = rect.left() + line.cursorToX(pos - block.position())[0]
        page = int((top + 1) // page_h)
        placed.append(_Placed(fig, page, top - page * page_h, x,
                              rect.width() * fig.width_fraction, h))
    return placed


def _layout_body(report: Document, writer: object, width: float, page_h: float):
    """The body laid out on pages of this height: no table row cut by a page break (the table
    goes on on a new page, header repeated: probe_nav.report.paginate), headings kept with
    what follows. Returns the document and its figures' (text position, height)."""
    from PySide6.QtCore import QSizeF

    splits: dict[int, set[int]] = {}
    columns: dict[int, list[float]] = {}  # each table's column widths, laid out whole
    for _ in range(MAX_SPLIT_PASSES):
        html, pieces = report.layout_html(splits)
        body = _text_document(html, writer, width)
        paginate.start_pieces_on_new_pages(body, pieces)
        if not columns:
            columns = paginate.column_widths(body, pieces)
        else:  # every piece of a table keeps the columns of the whole table
            paginate.set_columns(body, pieces, {t: columns[t] for t in splits if t in columns})
        positions = _insert_figures(body, report, writer, width)
        natural = paginate.natural_rows(body, pieces)
        body.setPageSize(QSizeF(width, page_h))
        _keep_with_next(body, page_h, {body.findBlock(pos).blockNumber()
                                       for pos, _ in positions})
        cut = paginate.find_cut(body, pieces, page_h)
        if cut is None:
            break
        kept = {r for r in splits.get(cut.table, set()) if r < cut.row}
        splits[cut.table] = kept | paginate.plan_splits(cut, natural[cut.table], page_h)
    else:
        logger.warning("report %r: table rows still cut by page breaks after %d passes",
                       report.title, MAX_SPLIT_PASSES)
    return body, positions


def render_pdf(report: Document) -> bytes:
    """The report laid out on A4 pages: the PDF file's bytes."""
    ensure_qt_app(headless=True)
    from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRectF
    from PySide6.QtGui import (
        QAbstractTextDocumentLayout,
        QPageLayout,
        QPageSize,
        QPainter,
        QPdfWriter,
    )

    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setResolution(layout.DPI)
    writer.setTitle(report.title)
    writer.setCreator("probe-nav")
    writer.setPageLayout(QPageLayout(QPageSize(QPageSize.PageSizeId.A4),
                                     QPageLayout.Orientation.Portrait, QMarginsF(0, 0, 0, 0),
                                     QPageLayout.Unit.Millimeter))
    body_w = _px(layout.PAGE_MM[0] - 2 * layout.MARGIN_MM)
    header = _text_document(report.header_html(), writer, body_w)
    header_h = header.documentLayout().documentSize().height()
    body_top = _px(layout.TOP_MM + layout.HEADER_GAP_MM) + header_h
    body_h = _px(layout.PAGE_MM[1] - layout.BOTTOM_MM) - body_top
    body, positions = _layout_body(report, writer, body_w, body_h)
    placed = _place_figures(body, report, positions, body_h)
    pages = body.pageCount()
    painter = QPainter()
    if not painter.begin(writer):
        raise UserError("cannot lay out the PDF report")
    try:
        for page in range(pages):
            if page:
                writer.newPage()
            _page_furniture(painter, report, header, header_h, page, pages)
            painter.save()
            painter.translate(_px(layout.MARGIN_MM), body_top - page * body_h)
            clip = QRectF(0, page * body_h, body_w, body_h)
            painter.setClipRect(clip)
            context = QAbstractTextDocumentLayout.PaintContext()
            # Qt draws every line that touches the context's clip; a line of the next page
            # starts within rounding of this page's end. Drawn, it would be hidden by the
            # painter's clip but still be text in the PDF (found, extracted, on the wrong page).
            context.clip = clip.adjusted(0, CLIP_INSET_PX, 0, -CLIP_INSET_PX)
            body.documentLayout().draw(painter, context)
            painter.restore()
            for p in placed:
                if p.page == page:
                    painter.save()
                    p.figure.chart.draw(painter, QRectF(_px(layout.MARGIN_MM) + p.left,
                                                        body_top + p.top, p.width, p.height))
                    painter.restore()
    finally:
        painter.end()
    buffer.close()
    return bytes(data.data())


def _page_furniture(painter, report: Document, header, header_h: float, page: int,
                    pages: int) -> None:
    """The running header, its rule, and the footer with 'page N of M'."""
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QPen

    left, width = _px(layout.MARGIN_MM), _px(layout.PAGE_MM[0] - 2 * layout.MARGIN_MM)
    painter.save()
    painter.translate(left, _px(layout.TOP_MM))
    header.drawContents(painter)
    painter.restore()
    rule_y = _px(layout.TOP_MM) + header_h + _px(1.2)
    painter.setPen(QPen(QColor(layout.RULE), _px(0.2)))
    painter.drawLine(QPointF(left, rule_y), QPointF(left + width, rule_y))
    painter.setFont(layout.report_font(7.5))
    painter.setPen(QColor("#000000"))
    footer = QRectF(left, _px(layout.PAGE_MM[1] - layout.FOOTER_MM) - _px(4), width, _px(4))
    page_text = f"page {page + 1} of {pages}"
    painter.drawText(footer, int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom),
                     page_text)
    room = width - painter.fontMetrics().horizontalAdvance(page_text) - _px(6)
    painter.drawText(QRectF(left, footer.top(), room, footer.height()),
                     int(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignBottom),
                     report.footer)
