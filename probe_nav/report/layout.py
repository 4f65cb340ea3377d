"""The report document: headings, paragraphs, notes, key-value blocks, tables and charts, laid
out by Qt's text engine (QTextDocument, one style sheet) onto A4 portrait pages of a QPdfWriter,
with a running header and a "page N of M" footer on every page.

Tables size their columns from their content and wrap text; nothing is ever elided. Numeric
columns (every cell a number, see numbers.parse_quantity) are right-aligned, and their unit is
written in the header by the caller ("rate (cps)"). A heading that would end a page is moved
to the next page with what follows it. Charts (probe_nav.report.charts) get a placeholder of
their height in the flow and are drawn onto the page where the placeholder landed, as vectors.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from probe_nav.report import numbers

FONT_FAMILY = "DejaVu Sans"
DPI = 300
PAGE_MM = (210.0, 297.0)  # A4 portrait
MARGIN_MM = 18.0  # left and right; the body's text never crosses it
TOP_MM = 12.0  # top of the running header
HEADER_GAP_MM = 4.0  # between the header's rule and the body
BOTTOM_MM = 20.0  # bottom of the body
FOOTER_MM = 12.0  # baseline area of the footer, from the paper's bottom edge
CSS_PX_PER_INCH = 96.0  # QTextDocument lengths (padding, image sizes) are 1/96 inch
MARKED_FILL = "#fbe1e1"
RULE = "#9a9a9a"
KEY_CELL = '<td class="key">'

STYLE = """
body { font-size: 9pt; color: #000000; }
h1 { font-size: 15pt; font-weight: bold; color: #000000; margin-top: 0px; margin-bottom: 6px; }
h2 { font-size: 12pt; font-weight: bold; color: #000000; margin-top: 14px;
      margin-bottom: 5px; }
h3 { font-size: 10pt; font-weight: bold; color: #000000; margin-top: 10px;
      margin-bottom: 4px; }
p { margin-top: 2px; margin-bottom: 4px; }
p.note { color: #1a1a1a; font-style: italic; }
p.caption { font-size: 8pt; color: #1a1a1a; margin-top: 1px; margin-bottom: 8px; }
li { margin-bottom: 2px; }
table { border-collapse: collapse; margin-top: 2px; margin-bottom: 6px; }
th { font-size: 8.5pt; font-weight: bold; background-color: #e4e4e4; color: #000000; }
td { font-size: 8.5pt; color: #000000; }
td.key { font-weight: bold; }
"""


def report_font(size_pt: float, bold: bool = False) -> object:
    """The report's font (a QFont) at this size, without ligatures: "ff" in a checksum or a
    file name must stay two letters when the PDF's text is copied or searched."""
    from PySide6.QtGui import QFont

    font = QFont(FONT_FAMILY)
    font.setPointSizeF(size_pt)
    font.setBold(bold)
    if hasattr(font, "setFeature"):  # Qt >= 6.7
        for tag in ("liga", "clig", "dlig"):
            font.setFeature(QFont.Tag(tag), 0)
    return font


class Chart(Protocol):
    """What a figure needs from a chart (probe_nav.report.charts)."""

    def height(self, width: float, device: object) -> float: ...

    def draw(self, painter: object, rect: object) -> None: ...


@dataclass(frozen=True)
class Figure:
    """A chart placed in the flow; `width_fraction` of the body's width."""

    chart: Chart
    width_fraction: float = 1.0


ZWSP = "\u200b"  # a break opportunity that prints nothing
LONG_TOKEN = 20  # characters; longer unbroken runs (paths, file names) get break opportunities
_BREAK_AFTER = re.compile(r"([/\\_.,;:-])")
_WORD = re.compile(r"\S+")  # \s includes the no-break spaces that hold a quantity together


def breakable(text: str) -> str:
    """Text with invisible break opportunities in runs longer than LONG_TOKEN (after / - _ .
    and then every 16 characters), so a path can wrap in a narrow column instead of running
    past the page; words and quantities are left whole."""

    def split(match: re.Match[str]) -> str:
        token = match.group(0)
        if len(token) <= LONG_TOKEN:
            return token
        parts = _BREAK_AFTER.sub(lambda m: m.group(1) + ZWSP, token).split(ZWSP)
        return ZWSP.join(ZWSP.join(part[i:i + 16] for i in range(0, len(part), 16))
                         for part in parts)

    return _WORD.sub(split, text)


def _text(value: object) -> str:
    return html.escape(breakable(str(value))).replace("\n", "<br/>")


def is_numeric(cell: str) -> bool:
    """True for what numbers.* prints (and MISSING): right-aligned in tables."""
    if cell.strip() in (numbers.MISSING, "-", ""):
        return True
    try:
        _value, _sd, unit = numbers.parse_quantity(cell)
    except ValueError:
        return False
    return unit == "" or (len(unit) <= 8 and " " not in unit and unit[0] not in "-:/.0123456789")


@dataclass(frozen=True)
class TablePart:
    """A table of the report: header cells (None: a key-value block, bold first column, no
    rules), rows of cell texts, 'left'/'right' per column, shaded rows."""

    headers: tuple[str, ...] | None
    rows: tuple[tuple[str, ...], ...]
    sides: tuple[str, ...]
    marked: frozenset[int]
    full_width: bool

    def html(self, start: int, end: int) -> str:
        """Rows start..end-1 as one HTML table (with the header row, if any)."""
        if self.headers is None:
            body = "".join("<tr>" + "".join(
                (KEY_CELL if j % 2 == 0 else "<td>") + _text(c) + "</td>"
                for j, c in enumerate(row)) + "</tr>" for row in self.rows[start:end])
            return f'<table cellspacing="0" cellpadding="2">{body}</table>'
        head = "".join(f'<th align="{s}">{_text(h)}</th>'
                       for h, s in zip(self.headers, self.sides, strict=True))
        rows = []
        for i in range(start, end):
            fill = f' bgcolor="{MARKED_FILL}"' if i in self.marked else ""
            rows.append(f"<tr{fill}>" + "".join(
                f'<td align="{s}">{_text(c)}</td>'
                for c, s in zip(self.rows[i], self.sides, strict=True)) + "</tr>")
        width = ' width="100%"' if self.full_width else ""
        return (f'<table border="1" cellspacing="0" cellpadding="3" style="border-color: '
                f'{RULE}; border-style: solid"{width}><thead><tr>{head}</tr></thead><tbody>'
                f'{"".join(rows)}</tbody></table>')


@dataclass(frozen=True)
class Piece:
    """Rows from `start` of table `table`, laid out as one QTextTable; `new_page`: it starts
    a new page (a page break would have cut its first row in two)."""

    table: int
    start: int
    new_page: bool
    header_rows: int


class Document:
    """A report built part by part; `render_pdf()` (probe_nav.report.render) lays it out."""

    def __init__(self, title: str, header: Sequence[str] = (), footer: str = "") -> None:
        self.title = title
        self.header = [h for h in header if h]  # running header lines under the title
        self.footer = footer or "probe-nav"
        self.parts: list[str | int] = []  # HTML, or the index of a table in self.tables
        self.tables: list[TablePart] = []
        self.figures: list[Figure] = []
        self.heading(title, level=0)

    # ---- building ---------------------------------------------------------------------
    def heading(self, text: str, level: int = 1) -> None:
        """The title (level 0), a section (1) or a subsection (2)."""
        tag = ("h1", "h2", "h3")[min(max(level, 0), 2)]
        self.parts.append(f"<{tag}>{_text(text)}</{tag}>")

    def paragraph(self, text: str) -> None:
        """Body text, wrapped."""
        self.parts.append(f"<p>{_text(text)}</p>")

    def note(self, text: str) -> None:
        """A remark set apart in italics (e.g. why a chart is not drawn)."""
        self.parts.append(f'<p class="note">{_text(text)}</p>')

    def bullets(self, items: Sequence[str]) -> None:
        """A bulleted list."""
        if items:
            self.parts.append("<ul>" + "".join(f"<li>{_text(i)}</li>" for i in items) +
                              "</ul>")

    def key_values(self, pairs: Sequence[tuple[str, str]], columns: int = 1) -> None:
        """Labels (bold) and values, `columns` pairs side by side; no rules, no header."""
        pairs = [(k, v) for k, v in pairs]
        if not pairs:
            return
        rows = []
        for start in range(0, len(pairs), columns):
            chunk = pairs[start:start + columns]
            chunk += [("", "")] * (columns - len(chunk))
            rows.append(tuple(str(x) for pair in chunk for x in pair))
        self._add_table(TablePart(None, tuple(rows), ("left",) * 2 * columns, frozenset(),
                                  full_width=False))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]],
              marked_rows: Collection[int] = (), *, align: Sequence[str] | None = None,
              full_width: bool = True) -> None:
        """A table with a header row repeated on every page it spans; rows in marked_rows are
        shaded; a row is never split across two pages. align: 'l' or 'r' per column (default:
        'r' for numeric columns)."""
        n = len(headers)
        cells = [tuple(str(c) for c in row) for row in rows]
        for i, row in enumerate(cells):
            if len(row) != n:
                raise ValueError(f"table row {i} has {len(row)} cells, the header {n}")
        if align is None:
            align = ["r" if cells and all(is_numeric(r[j]) for r in cells) else "l"
                     for j in range(n)]
        sides = tuple("right" if a == "r" else "left" for a in align)
        self._add_table(TablePart(tuple(str(h) for h in headers), tuple(cells), sides,
                                  frozenset(marked_rows), full_width))

    def _add_table(self, part: TablePart) -> None:
        self.parts.append(len(self.tables))
        self.tables.append(part)

    def figure(self, chart: Chart, caption: str = "", width_fraction: float = 1.0) -> None:
        """A chart across the body (or a fraction of it), with an optional caption below."""
        self.parts.append(f'<p class="figure">[[figure:{len(self.figures)}]]</p>')
        self.figures.append(Figure(chart, width_fraction))
        if caption:
            self.parts.append(f'<p class="caption">{_text(caption)}</p>')

    def html(self, splits: Mapping[int, Collection[int]] | None = None) -> str:
        """The body as HTML for QTextDocument (figures as placeholders); `splits`: for a
        table (by index), the rows that start a new piece of it on a new page."""
        return self.layout_html(splits or {})[0]

    def layout_html(self, splits: Mapping[int, Collection[int]]) -> tuple[str, list[Piece]]:
        """The body's HTML and its tables' pieces in document order (each piece is one
        QTextTable of the laid-out document)."""
        out: list[str] = []
        pieces: list[Piece] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            table = self.tables[part]
            breaks = {r for r in splits.get(part, ()) if 0 <= r < len(table.rows)}
            starts = sorted({0, *breaks})  # a break at 0: the whole table on a new page
            for start, end in zip(starts, [*starts[1:], len(table.rows)], strict=True):
                out.append(table.html(start, end))
                pieces.append(Piece(part, start, new_page=start in breaks,
                                    header_rows=0 if table.headers is None else 1))
        return "<html><body>" + "\n".join(out) + "</body></html>", pieces

    def header_html(self) -> str:
        """The running header: title in bold, then the identity lines."""
        lines = "".join(f"<br/>{_text(h)}" for h in self.header)
        return f'<p style="font-size: 7.5pt"><b>{_text(self.title)}</b>{lines}</p>'

    def render_pdf(self) -> bytes:
        """The laid-out PDF's bytes (see probe_nav.report.render)."""
        from probe_nav.report.render import render_pdf

        return render_pdf(self)
