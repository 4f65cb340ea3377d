"""PdfReport, the layout every report uses: real, extractable text; tables that repeat their
header and never cut a row across a page; headings kept with what follows; charts that need
no second point; offscreen."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe_nav.report import PdfReport
from tests.report.pdfcheck import flat, page_texts


def test_report_text_is_extractable(tmp_path: Path, qapp) -> None:
    report = PdfReport(tmp_path / "r.pdf", "Case CASE-0042", ["sln-breast · Tc-99m"])
    report.heading("Probe and calibration")
    report.key_values([("probe", "PL-1 serial 0042"), ("nuclide", "Tc-99m")])
    report.paragraph("The 10 % rule was applied to ex vivo counts. " * 8)
    report.table(["node", "rate (cps)"], [["SLN 1", "812.5"], ["SLN 2", "77.1"]],
                 marked_rows=[0])
    path = report.save()
    assert path == tmp_path / "r.pdf"
    assert path.read_bytes().startswith(b"%PDF")
    assert path.stat().st_mode & 0o777 == 0o600
    text = " ".join(page_texts(path))
    for expected in ("Case CASE-0042", "sln-breast · Tc-99m", "Probe and calibration",
                     "PL-1 serial 0042", "Tc-99m", "10 % rule", "SLN 1", "812.5", "SLN 2",
                     "page 1 of 1"):
        assert expected in text, expected


def test_long_table_breaks_pages_and_repeats_header(tmp_path: Path, qapp) -> None:
    rows = [[f"node-{i:03d}", f"{i * 1.5:.1f}"] for i in range(150)]
    report = PdfReport(tmp_path / "long.pdf", "Long")
    report.table(["node name", "value"], rows, marked_rows=range(0, 150, 10))
    report.save()
    pages = page_texts(tmp_path / "long.pdf")
    assert len(pages) >= 3
    assert all("node name" in page for page in pages)
    joined = " ".join(pages)
    assert all(f"node-{i:03d}" in joined for i in range(150))
    assert all(f"page {n} of {len(pages)}" in page for n, page in enumerate(pages, start=1))


def test_tall_rows_are_never_cut_by_a_page_break(tmp_path: Path, qapp) -> None:
    """Rows of 1 to 7 lines: each row's first and last line are on the same page."""
    rows = [[f"row-{i:02d}", "\n".join(f"r{i:02d}-line-{k}" for k in range(1 + i % 7))]
            for i in range(60)]
    report = PdfReport(tmp_path / "tall.pdf", "Tall rows")
    report.paragraph("An opening paragraph. " * 30)
    report.table(["row", "lines"], rows)
    report.save()
    pages = [flat(text) for text in page_texts(tmp_path / "tall.pdf")]
    assert len(pages) >= 3
    for i in range(60):
        first, last = f"r{i:02d}-line-0", f"r{i:02d}-line-{i % 7}"
        on = [n for n, text in enumerate(pages) if first in text]
        assert len(on) == 1 and last in pages[on[0]] and f"row-{i:02d}" in pages[on[0]], i
    assert all("rowlines" in text for text in pages)  # the header on every page


def test_long_words_wrap_inside_their_cell(tmp_path: Path, qapp) -> None:
    """A path far wider than its column wraps (at / - _ .) instead of being cut off."""
    path_text = "/var/lib/probe-nav/raw/20261102T074000123456Z-calibration-sensitivity.n42"
    report = PdfReport(tmp_path / "w.pdf", "Wrap")
    report.table(["a", "b", "c", "d"], [[path_text, path_text, path_text, "x"]])
    report.save()
    text = " ".join(page_texts(tmp_path / "w.pdf"))
    assert flat(text).count(flat(path_text)) == 3
    assert "…" not in text


def test_bad_table_row_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="row 1"):
        PdfReport(tmp_path / "x.pdf", "x").table(["a", "b"], [["1", "2"], ["3"]])


def test_control_chart_of_one_point_spans_two_days(tmp_path: Path, qapp) -> None:
    """One point: drawn mid-axis on whole-day ticks, not refused and not -0.4..0.4 days."""
    from probe_nav.report.charts import ControlChart, RefLine

    when = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)
    chart = ControlChart([when], [1.01], [0.01], band=(0.9, 1.1), band_labels=("-10 %", "+10 %"),
                         centre=RefLine("baseline", 1.0), axis_label="ratio")
    report = PdfReport(tmp_path / "c.pdf", "Chart")
    report.figure(chart, "one check so far")
    report.save()
    text = " ".join(page_texts(tmp_path / "c.pdf"))
    assert "2026-11-24" in text and "2026-11-25" in text and "date (UTC)" in text
    assert "09:30" not in text and "-0.4" not in text
    with pytest.raises(ValueError):
        ControlChart([], [], band=(0.9, 1.1), band_labels=("a", "b"), centre=RefLine("c", 1.0),
                     axis_label="x")


def test_a_long_table_is_planned_in_few_layout_passes(tmp_path: Path, qapp,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Pieces are planned from the rows' heights, not found one page per layout: a table of
    ten pages of 3-line rows takes at most four layouts (one per table and a check, plus two
    for planning's estimate), and no row is cut."""
    from probe_nav.report import paginate

    layouts = []
    find_cut = paginate.find_cut
    monkeypatch.setattr(paginate, "find_cut", lambda *a: layouts.append(1) or find_cut(*a))
    rows = [[f"row-{i:03d}", f"r{i:03d}-a\nr{i:03d}-b\nr{i:03d}-c"] for i in range(200)]
    report = PdfReport(tmp_path / "many.pdf", "Many")
    report.table(["row", "lines"], rows)
    report.save()
    pages = [flat(text) for text in page_texts(tmp_path / "many.pdf")]
    assert len(pages) >= 8
    for i in range(200):
        on = [n for n, text in enumerate(pages) if f"r{i:03d}-a" in text]
        assert len(on) == 1 and f"r{i:03d}-c" in pages[on[0]], i
    assert len(layouts) <= 4, len(layouts)


@pytest.mark.parametrize("heading", [True, False])
@pytest.mark.parametrize("filler", range(28, 50, 3))
def test_a_table_whose_first_row_would_be_cut_starts_on_the_next_page(
        tmp_path: Path, qapp, filler: int, heading: bool) -> None:
    """Filler paragraphs push a table with a 12-line first row down the page; at some of these
    heights a page break falls in that row: the table (and its heading) go to the next page."""
    report = PdfReport(tmp_path / "first.pdf", "First row")
    for i in range(filler):
        report.paragraph(f"filler {i}")
    if heading:
        report.heading("The table")
    report.table(["row", "lines"], [["first", "\n".join(f"first-line-{k}" for k in range(12))],
                                    ["second", "second-line"]])
    report.save()
    pages = [flat(text) for text in page_texts(tmp_path / "first.pdf")]
    on = [n for n, text in enumerate(pages) if "first-line-0" in text]
    assert len(on) == 1 and "first-line-11" in pages[on[0]], (filler, on)
    assert "rowlines" in pages[on[0]], filler
    assert not heading or "Thetable" in pages[on[0]], filler
