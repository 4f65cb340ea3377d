"""PdfReport renders real, extractable text, tables across pages and plots, offscreen."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from pypdf import PdfReader

from probe_nav.report import PdfReport
from probe_nav.report.pdf import nice_ticks


def _text(path: Path) -> list[str]:
    """Text of each page with runs of whitespace (Qt writes spaces as gaps) made single spaces."""
    return [" ".join(page.extract_text().split()) for page in PdfReader(str(path)).pages]


def test_report_text_is_extractable(tmp_path: Path, qapp) -> None:
    report = PdfReport(tmp_path / "r.pdf", "Case CASE-0042")
    report.heading("Probe and calibration")
    report.key_values([("probe", "PL-1 serial 0042"), ("nuclide", "Tc-99m")])
    report.paragraph("The 10 % rule was applied to ex vivo counts. " * 8)
    report.table(["node", "rate cps"], [["SLN 1", "812.5"], ["SLN 2", "77.1"]], marked_rows=[0])
    report.line_plot([("rate", [0, 1, 2, 3], [1, 4, 9, 16])], "time (s)", "rate (cps)",
                     title="Trend", hlines=[("background", 2.0)])
    path = report.save()
    assert path == tmp_path / "r.pdf"
    assert path.read_bytes().startswith(b"%PDF")
    text = " ".join(_text(path))
    for expected in ("Case CASE-0042", "Probe and calibration", "PL-1 serial 0042", "Tc-99m",
                     "10 % rule", "SLN 1", "812.5", "SLN 2", "Trend", "time (s)", "background"):
        assert expected in text, expected


def test_long_table_breaks_pages_and_repeats_header(tmp_path: Path, qapp) -> None:
    rows = [[f"node-{i:03d}", f"{i * 1.5:.1f}"] for i in range(150)]
    report = PdfReport(tmp_path / "long.pdf", "Long")
    report.table(["node name", "value"], rows, marked_rows=range(0, 150, 10))
    report.save()
    pages = _text(tmp_path / "long.pdf")
    assert len(pages) >= 3
    assert all("node name" in page for page in pages)
    joined = " ".join(pages)
    assert all(f"node-{i:03d}" in joined for i in range(150))
    assert "page 3" in pages[2]


def test_plot_with_gaps_empty_series_and_one_point(tmp_path: Path, qapp) -> None:
    report = PdfReport(tmp_path / "p.pdf", "Plots")
    x = np.linspace(0, 10, 500)
    y = np.sin(x)
    y[100:120] = np.nan
    report.line_plot([("sine", x, y), ("empty", [], []), ("one", [5.0], [0.5])], "x", "y")
    report.line_plot([], "x", "y", title="nothing at all")
    report.save()
    assert "nothing at all" in " ".join(_text(tmp_path / "p.pdf"))


def test_bad_table_row_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="row 1"):
        PdfReport(tmp_path / "x.pdf", "x").table(["a", "b"], [["1", "2"], ["3"]])


def test_nice_ticks_cover_the_range() -> None:
    ticks = nice_ticks(0.0, 97.0)
    assert ticks[0] == 0.0 and ticks[-1] <= 97.0 and len(ticks) >= 4
    steps = np.diff(ticks)
    assert np.allclose(steps, steps[0]) and steps[0] in (10.0, 20.0, 25.0, 50.0)
    assert nice_ticks(5.0, 5.0)
