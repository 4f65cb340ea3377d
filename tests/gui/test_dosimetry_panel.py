"""The console's Dosimetry tab on a real case store (SQLite in tmp_path) and real widgets: a
therapy case's points listed, a non-therapy case refused, the last timed count added with the
session's background (or refused without one), bad typed input refused with nothing stored, a
fit of a simulated Lu-177-PSMA week shown with both models and its plot, refitted when a point
is added, the PDF written, and the console feeding the tab its timed counts."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path

import pyqtgraph as pg
import pytest

from probe_nav.cases import CaseStore
from probe_nav.core.background import Background
from probe_nav.core.timed import TimedCountResult
from probe_nav.dosimetry.fit import fit_series
from probe_nav.gui import dosimetry_state as ds
from probe_nav.gui.dosimetry_panel import DosimetryPanel
from probe_nav.gui.dosimetry_plot import CHOSEN_PX, OTHER_PX
from probe_nav.simulator.retention import measure_series
from probe_nav.simulator.scenario import load
from tests.gui.conftest import WAIT_MS, timed_count
from tests.report.pdfcheck import flat, page_texts

DAY_S = 86400.0
TIMES_H = (2.0, 6.0, 24.0, 48.0, 72.0, 120.0, 168.0)  # 7 points: bi's AICc is defined


def make_case(db: Path, case_id: str = "LU-1", *, therapy: bool = True,
              days_ago: float = 8.0) -> float:
    """A Lu-177 case administered `days_ago` days ago (or, therapy=False, a surgical case with
    no administration time); returns the administration time."""
    injected = time.time() - days_ago * DAY_S
    details = {"injection_unix_s": injected, "injected_activity_mbq": 7400.0} if therapy else {}
    with CaseStore.open(db) as store:
        store.create_case(case_id, "psma", "Lu-177", created_unix_s=injected + 60, **details)
    return injected


def stored(db: Path, case_id: str = "LU-1") -> list:
    with CaseStore.open(db) as store:
        return store.retention_points(case_id)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cases.sqlite3"


@pytest.fixture
def panel(qtbot, db: Path) -> DosimetryPanel:
    widget = DosimetryPanel(db)
    qtbot.addWidget(widget)
    widget.resize(1400, 700)
    return widget


def series():
    """Lu-177-PSMA over a week (55 % cleared with T_eff 3.4 h, 45 % with 43.6 h), 60 s counts
    at 1 m with counting noise, seed fixed."""
    return measure_series(load("lu177-psma-week"), TIMES_H, 60.0, seed=18)


def type_row(panel: DosimetryPanel, time_h, counts, live_s, bg, bg_sd="") -> None:
    for key, value in (("time_h", time_h), ("counts", counts), ("live_s", live_s),
                       ("background_cps", bg), ("background_sd_cps", bg_sd)):
        panel.manual[key].setText(str(value))


def enter_series(panel: DosimetryPanel, s, upto: int, start: int = 0) -> None:
    """Points start..upto-1 of the series typed into the manual row, one Add entry each."""
    for i in range(start, upto):
        type_row(panel, f"{s.times_h[i]:g}", int(s.counts[i]), repr(float(s.live_s[i])),
                 repr(float(s.background_cps[i])), repr(float(s.background_sd_cps[i])))
        assert panel.add_manual(), panel.message.text()


def fake_count(counts: int = 12000, live_s: float = 60.0, real_s: float = 61.0):
    rate = counts / live_s
    return TimedCountResult(counts, live_s, real_s, rate, math.sqrt(counts) / live_s, 0.0, 0.0,
                            rate, math.sqrt(counts) / live_s, True, True, 100.0)


def test_points_of_the_case_are_listed(panel, db):
    make_case(db)
    with CaseStore.open(db) as store:
        for t_h, n in ((4.0, 20000), (24.0, 9800), (48.0, 6600)):
            store.add_retention_point("LU-1", counts=n, live_s=60.0, geometry="1m-standing",
                                      time_h=t_h, background_cps=1.5, background_sd_cps=0.2)
    panel.show()
    index = panel.case_choice.findText("LU-1")  # offered in the chooser; choosing it opens it
    assert index >= 0 and panel.case is None
    panel.case_choice.setCurrentIndex(index)
    panel.case_choice.activated.emit(index)
    assert panel.case is not None and panel.case.case_id == "LU-1", panel.message.text()
    assert panel.table.rowCount() == 3
    rows = [[panel.table.item(r, c).text() for c in range(panel.table.columnCount())]
            for r in range(3)]
    assert [r[1] for r in rows] == ["4.00", "24.00", "48.00"]
    assert [r[3] for r in rows] == ["20000", "9800", "6600"]
    assert rows[0][5] == "1.5 ± 0.2" and rows[0][6] == "1m-standing"
    assert rows[0][2] == f"{20000 / 60 - 1.5:.5g} ± {math.hypot(math.sqrt(20000) / 60, 0.2):.2g}"
    assert "Lu-177" in panel.case_label.text() and "3 point(s)" in panel.case_label.text()


def test_a_case_without_administration_time_is_refused(panel, db):
    make_case(db, "SLN-1", therapy=False)
    assert not panel.open_case("SLN-1")
    assert "no administration time" in panel.message.text()
    assert panel.case is None and panel.table.rowCount() == 0
    assert not panel.open_case("NOPE")
    assert "no case 'NOPE'" in panel.message.text()
    panel.show()
    assert panel.case_choice.findText("SLN-1") < 0  # only therapy cases are offered


def test_the_last_timed_count_becomes_a_point_with_the_session_background(panel, db):
    injected = make_case(db)
    panel.open_case("LU-1")
    assert not panel.add_last() and "count with Space" in panel.message.text()
    finished = time.time()
    panel.offer(fake_count(12000, 60.0, 61.0), Background.given(2.0, 0.25), finished)
    assert "session background 2 ± 0.25 cps" in panel.pending_label.text()
    panel.geometry_id.setText("1m-bed")
    assert panel.add_last(), panel.message.text()
    (p,) = stored(db)
    assert (p.counts, p.live_s, p.background_cps, p.background_sd_cps, p.geometry) == (
        12000, 60.0, 2.0, 0.25, "1m-bed")
    # the point's time is the middle of the count (real time), in hours after administration
    assert p.measured_unix_s == pytest.approx(finished - 30.5, abs=1e-6)
    assert p.time_h == pytest.approx((finished - 30.5 - injected) / 3600.0, abs=1e-6)
    assert panel.table.rowCount() == 1 and panel.pending is None
    assert not panel.add_last()  # the same count is not added twice
    assert len(stored(db)) == 1


def test_a_count_without_background_needs_one_typed(panel, db):
    make_case(db)
    panel.open_case("LU-1")
    panel.offer(fake_count(), None, time.time())
    assert "no background in use" in panel.pending_label.text()
    assert not panel.add_last()
    assert "no background" in panel.message.text() and stored(db) == []  # never guessed
    panel.manual["background_cps"].setText("0")  # explicitly none
    assert panel.add_last(), panel.message.text()
    (p,) = stored(db)
    assert (p.background_cps, p.background_sd_cps) == (0.0, 0.0)


@pytest.mark.parametrize(("row", "geometry", "said"), [
    (("24", "many", "60", "1"), "1m", "counts must be a whole number"),
    (("24", "1000", "sixty", "1"), "1m", "live time (s) must be a number"),
    (("24", "1000", "60", ""), "1m", "no background"),
    (("24", "1000", "60", "nan"), "1m", "background rate must be a finite number"),
    (("24", "1000", "0", "1"), "1m", "live"),
    (("24", "-5", "60", "1"), "1m", "counts"),
    (("-1", "1000", "60", "1"), "1m", "before the administration"),
    (("400", "1000", "60", "1"), "1m", "future"),  # 400 h after an administration 8 days ago
    (("24", "1000", "60", "-1"), "1m", "background rate"),
    (("24", "1000", "60", "1"), "  ", "geometry"),
])
def test_bad_input_is_refused_in_one_line_and_nothing_is_stored(panel, db, row, geometry,
                                                                said):
    make_case(db)
    panel.open_case("LU-1")
    type_row(panel, *row)
    panel.geometry_id.setText(geometry)
    assert not panel.add_manual()
    text = panel.message.text()
    assert text.startswith("not added: ") and said in text and "\n" not in text
    assert stored(db) == [] and panel.table.rowCount() == 0


def test_nothing_is_added_without_an_open_case(panel, db):
    type_row(panel, "24", "1000", "60", "1")
    assert not panel.add_manual() and "open a therapy case" in panel.message.text()


def test_fit_of_a_simulated_week_shows_both_models_and_the_chosen_one(panel, db):
    s = series()
    make_case(db)
    panel.open_case("LU-1")
    enter_series(panel, s, len(TIMES_H))
    assert panel.table.rowCount() == len(TIMES_H)
    assert panel.fit(), panel.message.text()
    # the panel shows what fit_series finds on the stored points
    expected = fit_series([p.as_point() for p in stored(db)], "Lu-177")
    chosen = expected.chosen
    assert chosen.model == "bi"  # 55 % fast with T_fast = T_slow / 13: AICc picks bi
    assert panel.analysis is not None and panel.analysis.chosen.model == "bi"
    summary = panel.summary.text()
    assert "chosen by AICc: bi-exponential" in summary
    assert f"T_eff {ds.hours(chosen.t_eff_h, chosen.t_eff_sd_h)}" in summary
    assert f"TIAC {ds.hours(chosen.tiac_h, chosen.tiac_sd_h)}" in summary
    # fixed seed; the truth within 4 reported sd: this checks that the panel shows the fit of
    # the stored series (the estimator's accuracy and coverage are tests/dosimetry's)
    assert abs(chosen.t_eff_h - s.truth["t_eff_h"]) < 4 * chosen.t_eff_sd_h
    table = {panel.results.item(r, 0).text(): (panel.results.item(r, 1).text(),
                                               panel.results.item(r, 2).text())
             for r in range(panel.results.rowCount())}
    assert table["T_eff"] == (ds.hours(expected.mono.t_eff_h, expected.mono.t_eff_sd_h),
                              ds.hours(chosen.t_eff_h, chosen.t_eff_sd_h))
    assert table["AICc"] == (f"{expected.mono.aicc:.2f}", f"{chosen.aicc:.2f}")
    assert table["T_eff fast"][0] == "—" and table["T_eff fast"][1].startswith(
        f"{chosen.t_eff_fast_h:.4g} ± ")
    assert "FLAGGED" not in table["TIAC outside data"][1]
    value, sd = chosen.retained_fraction(TIMES_H)  # retained fractions at the measured times
    for t, v, e in zip(TIMES_H, value, sd, strict=True):
        assert table[f"retained at {t:g} h"][1] == f"{100 * v:.1f} ± {100 * e:.1f} %"
    # about 31 % retained at 24 h (the scenario's truth), within 4 of the fit's sd
    assert abs(value[2] - s.truth["retained_fraction"][2]) < 4 * sd[2]
    # the plot: both curves, the chosen one bold, extrapolated pieces dashed; residuals
    curves = panel.plot.curves
    assert set(curves) == {"mono", "bi"}
    assert curves["bi"][1].opts["pen"].width() == CHOSEN_PX
    assert curves["mono"][1].opts["pen"].width() == OTHER_PX
    from PySide6.QtCore import Qt
    assert [c.opts["pen"].style() for c in curves["bi"]] == [
        Qt.PenStyle.DashLine, Qt.PenStyle.SolidLine, Qt.PenStyle.DashLine]
    assert curves["bi"][1].xData[0] == TIMES_H[0] and curves["bi"][1].xData[-1] == TIMES_H[-1]
    bars = [i for i in panel.plot.rate.getPlotItem().items if isinstance(i, pg.ErrorBarItem)]
    assert len(bars) == 1 and len(bars[0].opts["x"]) == len(TIMES_H)  # every point's 1 sd bar
    residuals = list(panel.plot.resid.getPlotItem().listDataItems())
    assert len(residuals) == 2 and all(len(i.xData) == len(TIMES_H) for i in residuals)


def test_a_new_point_refits_and_a_short_series_is_refused(panel, db):
    s = series()
    make_case(db)
    panel.open_case("LU-1")
    enter_series(panel, s, 2)
    assert not panel.fit() and "at least 3 points" in panel.message.text()
    assert panel.analysis is None and panel.results.rowCount() == 0
    enter_series(panel, s, 3, start=2)  # the third point
    assert panel.fit()
    assert panel.analysis is not None and len(panel.analysis.t_h) == 3
    type_row(panel, "96", "3000", "60", "1")
    assert panel.add_manual()  # the fit on display follows: never one of fewer points
    assert panel.analysis is not None and len(panel.analysis.t_h) == 4
    assert "mono-exponential" in panel.summary.text()


def test_report_pdf_is_written(panel, db, tmp_path):
    s = series()
    make_case(db)
    panel.open_case("LU-1")
    enter_series(panel, s, len(TIMES_H))
    out = panel.write_report(tmp_path / "report")  # the suffix is added
    assert out == tmp_path / "report.pdf" and out.read_bytes().startswith(b"%PDF")
    assert os.stat(out).st_mode & 0o777 == 0o600
    text = flat(" ".join(page_texts(out)))
    assert "LU-1" in text and "bi-exponential(chosen)" in text
    assert "report written to" in panel.message.text()


def test_the_console_has_the_tab_and_feeds_it_timed_counts(make_sim, make_console, qtbot,
                                                           tmp_path):
    window = make_console(make_sim())
    assert window.tabs.tabText(window.tabs.indexOf(window.dosimetry)) == "Dosimetry"
    injected = time.time() - DAY_S
    with CaseStore.open(tmp_path / "cases.sqlite3") as store:
        store.create_case("LU-9", "psma", "Lu-177", injection_unix_s=injected)
    assert window.cases.reopen_case("LU-9")  # the Case tab opens it: the tab follows
    assert window.dosimetry.case is not None and window.dosimetry.case.case_id == "LU-9"
    qtbot.waitUntil(lambda: window.last_display is not None and window.last_display.live,
                    timeout=WAIT_MS)
    window.controls.preset_buttons[1.0].click()
    timed_count(window, qtbot, window.controls.timed_button.click,
                lambda: window.dosimetry.pending is not None)
    pending = window.dosimetry.pending
    assert pending.counts == window.cases.pending.counts
    assert pending.background is None  # the sim's session has no background set
    window.dosimetry.manual["background_cps"].setText("5")
    assert window.dosimetry.add_last(), window.dosimetry.message.text()
    assert [p.counts for p in stored(tmp_path / "cases.sqlite3", "LU-9")] == [pending.counts]


def test_a_case_opened_in_the_case_tab_is_followed_only_if_it_is_a_therapy_case(panel, db):
    make_case(db, "SLN-1", therapy=False)
    make_case(db, "LU-1")
    make_case(db, "LU-2")
    panel.follow_case("SLN-1")  # nothing open here: the refusal is said
    assert panel.case is None and "no administration time" in panel.message.text()
    panel.follow_case("LU-1")
    assert panel.case is not None and panel.case.case_id == "LU-1"
    panel.follow_case("SLN-1")  # e.g. B without a case: the series stays on screen
    assert panel.case.case_id == "LU-1"
    panel.follow_case("LU-2")
    assert panel.case.case_id == "LU-2"


def test_extrapolation_is_flagged_and_geometries_are_fitted_apart(panel, db):
    s = series()
    make_case(db)
    panel.open_case("LU-1")
    enter_series(panel, s, 3)  # 2, 6 and 24 h only: most of the TIAC lies after the last point
    panel.geometry_id.setText("2m")
    type_row(panel, "48", "1500", "60", "1")
    assert panel.add_manual()
    assert not panel.fit()  # 2m has one point: refused, nothing fitted
    assert "at least 3 points" in panel.message.text() and panel.analysis is None
    panel.geometry_id.setText("1m")
    assert panel.fit(), panel.message.text()
    assert len(panel.fitted) == 3 and {p.geometry for p in panel.fitted} == {"1m"}
    chosen = panel.analysis.chosen
    assert chosen.extrapolation_flag  # the share outside 2..24 h is far above 20 %
    assert "EXTRAPOLATION FLAGGED" in panel.summary.text()
    table = {panel.results.item(r, 0).text(): panel.results.item(r, 1).text()
             for r in range(panel.results.rowCount())}
    assert table["TIAC outside data"].endswith("FLAGGED")
    panel.geometry_id.setText("3m")
    assert not panel.fit() and "no retention point in geometry '3m'" in panel.message.text()


def test_points_at_or_below_background_sit_on_the_floor_of_the_log_axis(panel, db):
    make_case(db)
    panel.open_case("LU-1")
    for t_h, counts in (("4", "6000"), ("24", "3000"), ("48", "1500")):
        type_row(panel, t_h, counts, "60", "1")
        assert panel.add_manual()
    type_row(panel, "96", "30", "60", "1")  # 0.5 cps gross under a 1 cps background
    assert panel.add_manual() and panel.fit(), panel.message.text()
    marks = ds.log_points(panel.fitted, [panel.analysis.mono])
    assert marks.below_zero_h.tolist() == [96.0] and marks.x_h.tolist() == [4.0, 24.0, 48.0]
    # the floor is half a decade or more under the lowest point and the curve's end
    assert marks.floor_log <= min(marks.y_log) - 0.5
    assert marks.floor_log <= math.log10(panel.analysis.mono.rate_cps(ds.x_max_h(
        [4, 24, 48, 96]))[0]) - 0.5
    edge = [i for i in panel.plot.rate.getPlotItem().listDataItems()
            if i.opts["symbol"] == "t"]  # drawn as a mark on the bottom edge
    assert len(edge) == 1 and edge[0].xData.tolist() == [96.0]
    assert edge[0].yData.tolist() == [marks.floor_log]


def outermost_scroll_area(widget, window):
    """The outermost scroll area (below the window's own) that holds the widget: a table or
    plot inside the Dosimetry tab's scroll area is held to the window through that one."""
    from PySide6.QtWidgets import QAbstractScrollArea

    found, parent = None, widget.parentWidget()
    while parent is not None and parent is not window:
        if isinstance(parent, QAbstractScrollArea) and parent.objectName() != "window_scroll":
            found = parent
        parent = parent.parentWidget()
    return found


def test_the_console_fits_every_screen_with_the_dosimetry_tab_open(make_sim, make_console,
                                                                   qtbot, tmp_path,
                                                                   monkeypatch):
    """tests/gui/test_layout.py's checks (nothing clipped or cut, no window scrolling, minimum
    size) with the Dosimetry tab showing a fitted series. The tab scrolls inside itself, so
    its tables and plots (scroll areas themselves) may reach past the window within the tab's
    scroll area; that one must lie inside the window."""
    from tests.gui import test_layout

    monkeypatch.setattr(test_layout, "inside_scroll_area", outermost_scroll_area)
    s = series()
    db = tmp_path / "cases.sqlite3"
    make_case(db)
    window = make_console(make_sim())
    window.tabs.setCurrentWidget(window.dosimetry)
    panel = window.dosimetry
    assert panel.open_case("LU-1")
    enter_series(panel, s, len(TIMES_H))
    assert panel.fit()
    panel.offer(fake_count(), None, time.time())
    window.timer.stop()
    problems: list[str] = []
    for width, height in test_layout.FITS:
        problems += test_layout.problems_at(window, width, height, may_scroll=False)
    for width, height in test_layout.SCROLLS:
        problems += test_layout.problems_at(window, width, height, may_scroll=True)
    assert not any("dosimetry_scroll" in p for p in problems)  # the tab's own: inside
    assert not problems, "\n".join(problems)


def test_no_database_is_created_to_look_and_an_unusable_one_is_one_line(qtbot, tmp_path):
    panel = DosimetryPanel(tmp_path / "none.sqlite3")
    qtbot.addWidget(panel)
    panel.show()
    assert not panel.open_case("LU-1") and "no case database" in panel.message.text()
    assert not (tmp_path / "none.sqlite3").exists()
    blocker = tmp_path / "not-a-folder"  # a regular file: nothing can be created below it
    blocker.write_text("")
    bad = DosimetryPanel(blocker / "cases.sqlite3")
    qtbot.addWidget(bad)
    bad.show()
    assert bad.case_choice.count() == 0
    bad.cases.path = lambda: blocker  # as if the file were there: opening it fails
    assert not bad.open_case("LU-1")
    assert str(blocker) in bad.message.text() and "\n" not in bad.message.text()
