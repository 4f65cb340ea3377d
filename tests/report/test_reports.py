"""The case, QC/calibration and NEMA reports from fixed records (tests/report/fixtures.py):
their text (pypdf) and their pages rendered to PNG (pdftoppm) and checked as a reader would -
headers and "page N of M" on every page, nothing elided, numbers with units, charts only where
they mean something, nothing past the margins or over other text, dark headings."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from probe_nav.cases.report import typeset, write_case_report
from probe_nav.qc.report import write_report
from tests.report import fixtures, pdfcheck
from tests.report.pdfcheck import flat, page_texts

KINDS = ("case", "qc", "nema", "lone")
TITLES = {"case": "Case C-2026-117", "qc": "QC and calibration report",
          "nema": "NEMA NU 3 characterisation report", "lone": "QC report"}
IDENTITY = {"case": ("sln-breast", "Tc-99m", "Probelink PL-1 serial 0042", "QC record 12"),
            "qc": ("Probelink PL-1 #0042",), "nema": ("Probelink PL-1 #0042",),
            "lone": ("Probelink PL-1 #0042",)}
PNG_DPI = 100  # fine enough for 7.5 pt chart labels to reach full darkness


@pytest.fixture(scope="module")
def pdfs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each kind of report, written once for the module."""
    out = tmp_path_factory.mktemp("reports")
    case, measurements, table, notes = fixtures.case_fixture()
    return {
        "case": write_case_report(out / "case.pdf", case, measurements, table, notes),
        "qc": write_report(out / "qc.pdf", fixtures.qc_records(), "/srv/qc.sqlite"),
        "nema": write_report(out / "nema.pdf", fixtures.nema_records(), "/srv/qc.sqlite"),
        "lone": write_report(out / "lone.pdf", fixtures.lone_daily_records(), "/srv/qc.sqlite"),
    }


@pytest.mark.parametrize("kind", KINDS)
def test_every_page_has_the_header_and_its_number(pdfs: dict[str, Path], kind: str) -> None:
    pages = page_texts(pdfs[kind])
    for number, text in enumerate(pages, start=1):
        assert TITLES[kind] in text, (number, text[:200])
        for part in IDENTITY[kind]:
            assert part in text, (number, part)
        assert f"page {number} of {len(pages)}" in text, number


@pytest.mark.parametrize("kind", KINDS)
def test_nothing_is_elided(pdfs: dict[str, Path], kind: str) -> None:
    text = " ".join(page_texts(pdfs[kind]))
    assert "…" not in text and "..." not in text


def test_case_report_shows_every_word_of_the_case(pdfs: dict[str, Path]) -> None:
    text = " ".join(page_texts(pdfs["case"]))
    whole = flat(text)
    case, _measurements, table, _notes = fixtures.case_fixture()
    for expected in [fixtures.LONG_NODE, fixtures.LONG_NOTE, case.operator, case.probe,
                     case.calibration, "sentinel lymph node biopsy, breast",
                     *(r.node for r in table.rows), *(v.text for r in table.rows
                                                      for v in r.verdicts)]:
        assert flat(typeset(expected)) in whole, expected
    # injection and decay correction, numbers with units, rounded to their sd
    for expected in ("74.0 MBq at 2026-11-24 07:30 UTC", "2026-11-24 07:30:00 UTC (injection)",
                     "1023 ± 10", "10 234", "in vivo (cps)", "% of hottest"):
        assert expected in text, expected
    # a bar per node against the rules' thresholds; no line joining one node to the next
    assert "10 % of the hottest ex vivo" in text and "Trend" not in text
    assert ">=" not in text and "≥ 10 % of the hottest node" in text  # printed signs
    assert "decay-corrected rate (cps)" in text


def test_qc_report_numbers_units_and_records(pdfs: dict[str, Path]) -> None:
    text = " ".join(page_texts(pdfs["qc"]))
    whole = flat(text)
    for r in fixtures.qc_records():
        assert r.checksum in whole, r.id  # the whole SHA-256, in groups
        assert flat(Path(r.raw_data).name) in whole, r.id
    for expected in ("762 ± 22 cps/MBq", "2.00 ± 0.04 µs", "3.72 ± 0.14 %", "ratio 1 ±10 %",
                     "11 daily checks: 1 baseline and 10 judged checks, 1 outside",
                     "χ² = 2.58 with 9 degrees of freedom", "4.17 to 14.7", "FAIL"):
        assert expected in text, expected
    assert flat(f"Raw data files are in {fixtures.RAW}.") in whole
    # the running header names the probe's calibration records
    assert "calibration: energy #2, sensitivity #3, dead time #4 (2026-11-02)" in text
    # the control chart over real dates with its band; the chi-square history too
    assert "+10 %" in text and "-10 %" in text and "date (UTC)" in text
    assert "2026-11-09" in text  # a weekly date tick
    assert "expected (9)" in text and "no trend yet" not in text


def test_nema_report_rounds_to_the_uncertainty(pdfs: dict[str, Path]) -> None:
    text = " ".join(page_texts(pdfs["nema"]))
    for expected in ("100 060 ± 110 cps", "≥ 10 000 cps", "7949 ± 28 cps/MBq",
                     "19.67 ± 0.27 mm", "8.39 ± 0.04 % FWHM", "sensitivity in scatter (water)"):
        assert expected in text, expected
    assert "e+0" not in text and "+-" not in text


def test_one_daily_check_sits_on_a_day_axis(pdfs: dict[str, Path]) -> None:
    text = " ".join(page_texts(pdfs["lone"]))
    assert "2 daily checks: 1 baseline and 1 judged check, 0 outside" in text
    assert "daily checks: 1 baseline and 1 judged checks" not in text
    # one judged check (14 minutes after the baseline): a chart on a +-1 day date axis,
    # ticks on whole days - not an axis of minutes, nor -0.4..0.4 days around one point
    assert "+10 %" in text and "date (UTC)" in text
    assert "2026-11-02" in text and "2026-11-03" in text
    assert "07:45" not in text and "07:50" not in text
    lone = write_report(pdfs["lone"].with_name("one.pdf"), fixtures.lone_daily_records()[:1],
                        "/srv/qc.sqlite")
    text = " ".join(page_texts(lone))
    assert "1 daily check: 1 baseline and 0 judged checks" in text
    assert "Baseline only: no check has been judged against it yet" in text
    assert "+10 %" not in text  # no chart, so no band


@pytest.mark.parametrize("kind", KINDS)
def test_rendered_pages_are_clean(pdfs: dict[str, Path], kind: str, tmp_path: Path) -> None:
    pngs = pdfcheck.render_pngs(pdfs[kind], tmp_path, PNG_DPI)
    pages = pdfcheck.word_pages(pdfs[kind])
    assert len(pngs) == len(pages) == len(page_texts(pdfs[kind]))
    for number, (png, page) in enumerate(zip(pngs, pages, strict=True), start=1):
        image = pdfcheck.grey(png)
        assert page.words, number
        assert pdfcheck.outside_margins(page) == [], number
        assert pdfcheck.overlapping(page) == [], number
        left, right = pdfcheck.margin_strips(image)
        assert left.min() >= 250 and right.min() >= 250, number  # nothing drawn in them
        # Every word is dark (anti-aliased 7.5 pt text at 100 dpi reaches below 100 of 255);
        # headings (taller than 12 pt) are black: the pale-grey headings of old fail this.
        pale = [(w.text, pdfcheck.darkest(image, page, w)) for w in page.words
                if pdfcheck.darkest(image, page, w) > 110]
        assert pale == [], (number, pale)
        headings = [w for w in page.words if w.y1 - w.y0 > 12.0 and w.x1 - w.x0 > 12.0]
        # (a rotated axis title is tall too, but only one 7.5 pt line wide)
        assert all(pdfcheck.darkest(image, page, w) <= 30 for w in headings), number
    assert any(w.y1 - w.y0 > 12.0 for p in pages for w in p.words)  # a heading was checked


def test_node_chart_has_one_bar_per_node_and_kind(pdfs: dict[str, Path],
                                                   tmp_path: Path) -> None:
    """A vertical line just right of the chart's zero crosses one bar for every node counted
    in that kind (ex vivo: the four nodes; in vivo: SLN 1 and 2; bed: SLN 1)."""
    from probe_nav.cases.report import KIND_COLOURS

    dpi = 200
    png = pdfcheck.render_pngs(pdfs["case"], tmp_path, dpi)[0]
    page = pdfcheck.word_pages(pdfs["case"])[0]
    image = pdfcheck.rgb(png)
    scale = image.shape[1] / page.width  # pixels per point
    ticks = {w.text: w for w in page.words if w.text in ("0", "500", "1000")}
    assert set(ticks) == {"0", "500", "1000"}, ticks  # the rate axis's tick labels
    zero = ticks["0"]
    assert abs(zero.y0 - ticks["500"].y0) < 1.0  # on one line: the axis
    x = int(((zero.x0 + zero.x1) / 2 + 0.4 * pdfcheck.PT_PER_MM) * scale)  # 0.4 mm right of 0
    column = image[:int(zero.y0 * scale), x - 1:x + 2]  # the page's top down to the axis
    bar_px = int(1.5 * pdfcheck.PT_PER_MM * scale)  # a bar is 2.9 mm high; text is thinner
    _case, _measurements, table, _notes = fixtures.case_fixture()
    for kind, colour in KIND_COLOURS.items():
        counted = sum(1 for r in table.rows if getattr(r, f"{kind}_cps") > 0)
        assert pdfcheck.colour_runs(column, colour, bar_px) == counted, kind
    assert {r.node for r in table.rows} >= {"SLN 1", "SLN 2", "SLN 3", fixtures.LONG_NODE}


@pytest.mark.parametrize("kind", ("qc", "nema"))
def test_no_table_row_is_split_across_pages(pdfs: dict[str, Path], kind: str) -> None:
    """Each record's row of the checksum table (four lines of checksum) is on one page, and
    the table's header is repeated on the page where it goes on."""
    pages = [flat(text) for text in page_texts(pdfs[kind])]
    records = fixtures.qc_records() if kind == "qc" else fixtures.nema_records()
    for r in records:
        first, last = r.checksum[:8], r.checksum[-8:]
        on = [i for i, text in enumerate(pages) if first in text]
        assert len(on) == 1 and last in pages[on[0]], (r.id, on)
        assert flat(Path(r.raw_data).name) in pages[on[0]], r.id
    with_table = [text for text in pages if any(r.checksum[:8] in text for r in records)]
    assert len(with_table) >= 2  # the fixture's checksum table spans two pages
    assert all(flat("SHA-256 checksum") in text for text in with_table)


def test_qc_table_cells_are_whole(pdfs: dict[str, Path]) -> None:
    """Dates, tests and limits are printed whole (wrapped at most), never cut off."""
    whole = flat(" ".join(page_texts(pdfs["qc"])))
    for r in fixtures.qc_records():
        assert flat(r.time_utc.strftime("%Y-%m-%d %H:%M")) in whole, r.id
    for expected in ("dead-time calibration", "sensitivity calibration", "daily constancy"):
        assert flat(expected) in whole


def test_a_record_without_raw_data_keeps_the_common_folder(tmp_path: Path) -> None:
    """A calibration stored without raw data ("-") shows "–" and does not hide where the
    other records' raw data files are."""
    from dataclasses import replace

    deadtime = replace(fixtures.qc_records()[3], raw_data="-")
    pdf = write_report(tmp_path / "raw.pdf", [*fixtures.lone_daily_records(), deadtime],
                       "/srv/qc.sqlite")
    text = " ".join(page_texts(pdf))
    assert flat(f"Raw data files are in {fixtures.RAW}.") in flat(text)
    assert "raw data file" in text and " - " not in text


FOOTER = re.compile(r"generated \d{4}-\d\d-\d\d \d\d:\d\d UTC")


@pytest.mark.parametrize("n_records", [7, 15, 16, 23])
def test_no_page_is_left_blank_when_a_table_goes_on(n_records: int, tmp_path: Path) -> None:
    # With 15, 16 and 23 records the records table's first piece ended at the foot of a page
    # and its frame's border (or the empty paragraph Qt puts after a table) spilled onto the
    # next one; the continuation, which starts a page of its own, then left that page blank
    # but for the header and footer (found on a simulated NEMA report: page 2 of 3 empty).
    base = fixtures.nema_records()
    records = [dataclasses.replace(base[i % len(base)], id=i + 1) for i in range(n_records)]
    pdf = write_report(tmp_path / "many.pdf", records, "/srv/qc.sqlite")
    for number, text in enumerate(page_texts(pdf), start=1):
        body = text[FOOTER.search(text).end():]  # the header and footer come first
        assert body.strip(), f"page {number} has only its header and footer"
