"""Tables across pages without a row cut in two. Qt's text layout breaks a table row between
its lines when a page ends inside it (a checksum's last line alone at the top of the next
page), or moves the row down and stretches the row above to the page's foot. Instead the
report's tables are written in pieces (probe_nav.report.layout.Piece): a piece that goes on
on a new page starts there with the header row repeated.

`find_cut` finds the first row a page break cuts (or Qt moved down) in a laid-out document;
`plan_splits` then plans where the rest of that table's pieces start from the rows' heights
laid out without pages, so a long table takes one layout pass, not one per page; the caller
lays the document out again to check (rows before a planned split are placed exactly, so each
pass fixes at least the first remaining cut). Every piece of a table keeps the column widths
of the whole table (`column_widths`, `set_columns`)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from probe_nav.report import layout

PLAN_SLACK_PX = 6.0  # device pixels (0.5 mm at 300 dpi) kept free at a page's foot when planning


@dataclass(frozen=True)
class Cut:
    """The first table row to start a new page: table (index in Document.tables), row (index
    in the table's rows), and the page on which that row's text now ends."""

    table: int
    row: int
    page: int


def tables(doc) -> list:
    """The document's tables (QTextTable frames) in document order: one per Piece."""
    from PySide6.QtGui import QTextTable

    return [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]


def start_pieces_on_new_pages(doc, pieces: list[layout.Piece]) -> None:
    """A table piece marked new_page starts a new page; a whole table moved so takes the
    headings just before it along (they start the page instead)."""
    from PySide6.QtGui import QTextCursor, QTextFormat

    always = QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore
    frames = tables(doc)
    if len(frames) != len(pieces):
        raise RuntimeError(f"{len(pieces)} table pieces written, {len(frames)} laid out")
    for table, piece in zip(frames, pieces, strict=True):
        if not piece.new_page:
            continue
        heading = None
        block = doc.findBlock(table.cellAt(0, 0).firstPosition()).previous()
        while piece.start == 0 and block.isValid() and block.blockFormat().headingLevel() > 0:
            heading, block = block, block.previous()
        if heading is not None:
            fmt = heading.blockFormat()
            fmt.setPageBreakPolicy(always)
            QTextCursor(heading).setBlockFormat(fmt)
        else:
            fmt = table.format()
            fmt.setPageBreakPolicy(always)
            table.setFormat(fmt)


def row_extent(doc, table, row: int) -> tuple[float, float]:
    """Top of the highest and bottom of the lowest text line of a table row."""
    tops, bottoms = [], []
    for column in range(table.columns()):
        cell = table.cellAt(row, column)
        block = doc.findBlock(cell.firstPosition())
        while block.isValid() and block.position() <= cell.lastPosition():
            rect = doc.documentLayout().blockBoundingRect(block)
            lines = block.layout()
            for i in range(lines.lineCount()):
                line = lines.lineAt(i)
                tops.append(rect.top() + line.y())
                bottoms.append(rect.top() + line.y() + line.height())
            block = block.next()
    return (min(tops), max(bottoms)) if tops else (0.0, 0.0)


@dataclass
class NaturalRows:
    """A table laid out without pages: the offset of its first body row's text from the top
    of a piece, and each body row's height (text top to the next row's text top)."""

    offset: float = 0.0
    heights: dict[int, float] | None = None


def natural_rows(doc, pieces: list[layout.Piece]) -> dict[int, NaturalRows]:
    """Each table's NaturalRows, measured before the document gets its page size."""
    out: dict[int, NaturalRows] = {}
    for table, piece in zip(tables(doc), pieces, strict=True):
        frame = doc.documentLayout().frameBoundingRect(table)
        tops = [row_extent(doc, table, r)[0] for r in range(piece.header_rows, table.rows())]
        if not tops:
            continue
        entry = out.setdefault(piece.table, NaturalRows(tops[0] - frame.top(), {}))
        assert entry.heights is not None
        for i, (top, below) in enumerate(itertools.pairwise([*tops, frame.bottom()])):
            entry.heights[piece.start + i] = below - top
    return out


def find_cut(doc, pieces: list[layout.Piece], page_h: float) -> Cut | None:
    """The first table row from which the table is to go on on a new page: a row that a page
    break cuts in two (and that fits on a page), the first row Qt moved to the next page itself
    (it then stretches the row before it to the page's foot), or the last row of a piece whose
    frame (its bottom border and padding) spills onto the next page when the table's next piece
    starts a page of its own: that page would be left blank. None if there is none."""
    frames = tables(doc)
    for index, (table, piece) in enumerate(zip(frames, pieces, strict=True)):
        first = piece.header_rows + (1 if piece.new_page else 0)
        previous_page = None
        for row in range(max(first - 1, piece.header_rows), table.rows()):
            top, bottom = row_extent(doc, table, row)
            page = int(top // page_h)
            end_page = int((bottom - 1.0) // page_h)
            cut = bottom - top < page_h and page != end_page
            moved = previous_page is not None and page > previous_page
            if row >= first and (cut or moved):
                return Cut(piece.table, piece.start + row - piece.header_rows, end_page)
            previous_page = page
        follows = pieces[index + 1] if index + 1 < len(pieces) else None
        last = table.rows() - 1
        if follows is not None and follows.table == piece.table and follows.new_page \
                and last >= first:
            bottom = row_extent(doc, table, last)[1]
            text_page = int((bottom - 1.0) // page_h)
            # What follows the piece before the next one: its frame's border and padding, and
            # the empty paragraph Qt puts after every table.
            after = doc.findBlock(table.lastPosition() + 1)
            ends = [doc.documentLayout().frameBoundingRect(table).bottom()]
            if after.isValid():
                ends.append(doc.documentLayout().blockBoundingRect(after).bottom())
            if any(int((end - 1.0) // page_h) > text_page for end in ends):
                return Cut(piece.table, piece.start + last - piece.header_rows, text_page + 1)
    return None


def plan_splits(cut: Cut, rows: NaturalRows, page_h: float) -> set[int]:
    """The rows that start the pieces of the cut table from the cut on: the cut row on the
    next page, then each row whose height would cross the foot of its page."""
    heights = rows.heights or {}
    planned = {cut.row}
    page, y = cut.page, cut.page * page_h + rows.offset
    for row in sorted(r for r in heights if r >= cut.row):
        if row != cut.row and y + heights[row] > (page + 1) * page_h - PLAN_SLACK_PX:
            planned.add(row)
            page += 1
            y = page * page_h + rows.offset
        y += heights[row]
    return planned


def column_widths(doc, pieces: list[layout.Piece]) -> dict[int, list[float]]:
    """Each table's column widths (CSS pixels, all but the last column) as Qt laid out the
    whole table: every piece of a split table then gets the same columns."""
    out = {}
    to_css = layout.CSS_PX_PER_INCH / layout.DPI
    for table, piece in zip(tables(doc), pieces, strict=True):
        frame = doc.documentLayout().frameBoundingRect(table)
        lefts = [min(doc.documentLayout().blockBoundingRect(
            doc.findBlock(table.cellAt(row, column).firstPosition())).left()
            for row in range(table.rows())) for column in range(table.columns())]
        widths = [b - a for a, b in itertools.pairwise([*lefts, frame.right()])]
        if all(w > 0 for w in widths):
            out[piece.table] = [w * to_css for w in widths[:-1]]
    return out


def set_columns(doc, pieces: list[layout.Piece], widths: dict[int, list[float]]) -> None:
    """Fixed widths for all columns but the last, which takes the rest."""
    from PySide6.QtGui import QTextLength

    for table, piece in zip(tables(doc), pieces, strict=True):
        if piece.table in widths:
            fmt = table.format()
            fmt.setColumnWidthConstraints(
                [QTextLength(QTextLength.Type.FixedLength, w) for w in widths[piece.table]] +
                [QTextLength()])
            table.setFormat(fmt)
