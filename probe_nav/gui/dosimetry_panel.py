"""The console's Dosimetry tab: a therapy case's retention points (fixed-geometry counts after
Lu-177, I-131 or Ac-225 therapy), new points from the last timed count (Space) or typed in, the
mono- and bi-exponential fits of probe_nav.dosimetry with their plot and residuals, and the PDF
report of probe_nav.cases.dosimetry_report.

The logic (parsing, store access, the figures and curves) is in dosimetry_state.py and the plot
in dosimetry_plot.py; this module lays them out. A stored point or a fit is shown only as read
back or computed; after any change the fit on display is recomputed, never left standing for
other points.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from probe_nav.cases.model import Case
from probe_nav.cases.retention import RetentionRecord
from probe_nav.core.background import Background
from probe_nav.core.timed import TimedCountResult
from probe_nav.dosimetry.fit import RetentionAnalysis
from probe_nav.errors import UserError
from probe_nav.gui import dosimetry_state as ds
from probe_nav.gui import style
from probe_nav.gui.dosimetry_plot import RetentionPlot
from probe_nav.gui.readout import WrapLabel

log = logging.getLogger(__name__)

def _table(columns: tuple[str, ...], parent: QWidget) -> QTableWidget:
    table = QTableWidget(0, len(columns), parent)
    table.setHorizontalHeaderLabels(list(columns))
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setStretchLastSection(True)
    table.verticalHeader().hide()
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    table.setWordWrap(False)
    return table


class WordLabel(WrapLabel):
    """A wrapping label never narrower than its longest word (a word is never cut; the tab
    scrolls instead). Not for texts with paths, which are one long word."""

    def setText(self, text: str) -> None:
        super().setText(text)
        widest = max((self.fontMetrics().horizontalAdvance(w) for w in text.split()), default=0)
        self.setMinimumWidth(widest + 8)


def _fill(table: QTableWidget, rows: Sequence[Sequence[str]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            table.setItem(r, c, QTableWidgetItem(text))


class DosimetryPanel(QWidget):
    """Case, last count and manual entry, points table, Fit and Report PDF…, results, plot."""

    def __init__(self, store_path: str | Path | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.cases = ds.DosimetryCases(store_path)
        self.case: Case | None = None
        self.points: list[RetentionRecord] = []
        self.pending: ds.PendingCount | None = None
        self.analysis: RetentionAnalysis | None = None
        self.fitted: list[RetentionRecord] = []  # the points of the fit on display

        self.case_choice = QComboBox(self)
        self.case_choice.setEditable(True)
        self.case_choice.setMinimumContentsLength(14)
        edit = self.case_choice.lineEdit()  # there is one: the box is editable
        assert edit is not None
        edit.setPlaceholderText("therapy case id")
        self.case_choice.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)  # typed ids not kept
        self.case_choice.activated.connect(  # a case chosen from the list opens at once
            lambda _index: self.open_case(self.case_choice.currentText()))
        self.open_button = QPushButton("Open", self)
        self.open_button.clicked.connect(lambda: self.open_case(self.case_choice.currentText()))
        self.case_label = WordLabel("no therapy case open", self)
        self.fit_button = QPushButton("Fit", self)
        self.fit_button.clicked.connect(self.fit)
        self.report_button = QPushButton("Report PDF…", self)
        self.report_button.clicked.connect(self.choose_report_path)

        self.pending_label = WordLabel("no timed count yet: count with Space", self)
        self.pending_label.setStyleSheet(f"color: {style.MUTED_TEXT};")
        self.geometry_id = QLineEdit("1m", self)
        self.geometry_id.setToolTip("geometry id of the series (one fixed geometry per fit)")
        self.add_button = QPushButton("Add last count", self)
        self.add_button.clicked.connect(self.add_last)
        self.manual = {key: QLineEdit(self) for key in ("time_h", "counts", "live_s",
                                                        "background_cps",
                                                        "background_sd_cps")}
        for key, hint in (("time_h", "time after admin. (h)"), ("counts", "counts"),
                          ("live_s", "live time (s)"), ("background_cps", "background (cps)"),
                          ("background_sd_cps", "background sd (cps)")):
            self.manual[key].setPlaceholderText(hint)
            self.manual[key].setToolTip(hint)
        self.manual_button = QPushButton("Add entry", self)
        self.manual_button.clicked.connect(self.add_manual)
        self.message = WrapLabel("", self)
        self.message.setStyleSheet(f"color: {style.WARNING};")
        self.message.hide()  # shown while it has something to say

        self.table = _table(ds.POINT_COLUMNS, self)
        self.table.setObjectName("dosimetry_points")
        self.results = _table(("", "mono-exponential", "bi-exponential"), self)
        self.results.setObjectName("dosimetry_results")
        self.summary = WordLabel("", self)
        self.plot = RetentionPlot(self)
        self._lay_out()
        for w in (self.open_button, self.fit_button, self.report_button, self.add_button,
                  self.manual_button):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the console's keys stay the console's

    def showEvent(self, event: object) -> None:
        """The case chooser is filled when the tab is first looked at (not at start-up: the
        console does not open, let alone create, the case database before it is needed)."""
        super().showEvent(event)  # type: ignore[arg-type]
        if self.case_choice.count() == 0:
            self.reload_case_ids()

    def _lay_out(self) -> None:
        top = QGridLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setVerticalSpacing(4)
        top.addWidget(QLabel("case", self), 0, 0)
        top.addWidget(self.case_choice, 0, 1)
        top.addWidget(self.open_button, 0, 2)
        top.addWidget(self.case_label, 0, 3, 1, 4)
        top.addWidget(self.fit_button, 0, 7)
        top.addWidget(self.report_button, 0, 8)
        top.addWidget(self.pending_label, 1, 0, 1, 6)
        top.addWidget(QLabel("geometry", self), 1, 6)
        top.addWidget(self.geometry_id, 1, 7)
        top.addWidget(self.add_button, 1, 8)
        entry = QHBoxLayout()
        entry.setSpacing(4)
        for field in self.manual.values():
            field.setMinimumWidth(90)
            entry.addWidget(field, 1)
        entry.addWidget(self.manual_button)
        top.addLayout(entry, 2, 0, 1, 9)
        top.setColumnStretch(3, 1)
        left = QWidget(self)
        column = QVBoxLayout(left)
        column.setContentsMargins(0, 0, 0, 0)
        tables = QSplitter(Qt.Orientation.Vertical, left)
        tables.addWidget(self.table)
        tables.addWidget(self.results)
        tables.setChildrenCollapsible(False)
        column.addWidget(tables)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(left)
        split.addWidget(self.plot)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 1)
        split.setChildrenCollapsible(False)
        split.setSizes([1000, 1000])  # halves to begin with; the user may drag
        # its preferred height is its minimum: the tab's scroll area (which sizes the page by
        # its height for the width) scrolls only when the minimum does not fit
        split.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Ignored)
        self.split = split
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.message)
        layout.addWidget(self.summary)
        layout.addWidget(split, 1)
        # the tab scrolls rather than squeeze its tables and plot (or make the console's
        # minimum size grow: a QTabWidget is as large as its largest page)
        self.scroll_area = QScrollArea(self)
        self.scroll_area.setObjectName("dosimetry_scroll")
        self.scroll_area.setWidget(body)
        self.scroll_area.setWidgetResizable(True)
        self.scroll_area.setFrameShape(QFrame.Shape.NoFrame)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll_area)
        self.set_compact(False)

    def set_compact(self, compact: bool) -> None:
        """Row heights for the console's density (buttons follow its style sheet)."""
        row_px = 24 if compact else 30
        for table in (self.table, self.results):
            rows = table.verticalHeader()
            rows.setMinimumSectionSize(row_px)
            rows.setDefaultSectionSize(row_px)
        self.table.setMinimumHeight(row_px * 3 + 30)
        self.results.setMinimumHeight(row_px * 3 + 30)
        # the split ignores its size hint (see _lay_out), so its minimum is set explicitly
        self.split.setMinimumHeight(0)
        self.split.setMinimumHeight(self.split.minimumSizeHint().height())

    # ------------------------------------------------------------ the case

    def say(self, text: str) -> None:
        """One line for the user (a refusal, or what was done)."""
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def reload_case_ids(self) -> None:
        """The therapy cases of the store in the case chooser (newest first)."""
        current = self.case_choice.currentText()
        self.case_choice.clear()
        self.case_choice.addItems(self.cases.therapy_case_ids())
        self.case_choice.setCurrentText(current)

    def open_case(self, case_id: str) -> bool:
        """Show the case's retention points; False, and why in one line, when the case does
        not exist or is not a therapy case (no administration time)."""
        case_id = case_id.strip()
        if not case_id:
            self.say("type or choose a therapy case id")
            return False
        try:
            case, points = self.cases.load(case_id)
        except UserError as exc:
            self._show(None, [])
            self.case_label.setText(f"case {case_id}: not open for dosimetry")
            self.say(str(exc))
            return False
        self.case_choice.setCurrentText(case.case_id)
        self._show(case, points)
        self.say("")
        return True

    def follow_case(self, case_id: str) -> None:
        """The Case tab opened a case: show it here too if it is a therapy case. A case
        without administration time does not replace the therapy case open here (B with no
        case open starts one for the room background; the series stays on screen); with none
        open here, the panel says why it is not shown."""
        self.reload_case_ids()
        if self.case is None:
            self.open_case(case_id)
            return
        try:
            case, points = self.cases.load(case_id)
        except UserError as exc:
            log.info("dosimetry stays on case %s: %s", self.case.case_id, exc)
            return
        self.case_choice.setCurrentText(case.case_id)
        self._show(case, points)

    def _show(self, case: Case | None, points: list[RetentionRecord]) -> None:
        self.case, self.points = case, points
        if case is not None:
            activity = (f", {case.injected_activity_mbq:g} MBq" if case.injected_activity_mbq
                        else "")
            when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(case.injection_unix_s))
            self.case_label.setText(f"{case.nuclide}{activity} administered {when} · "
                                    f"{len(points)} point(s)")
        _fill(self.table, [ds.point_cells(p) for p in points])
        refit = self.analysis is not None
        self._clear_fit()
        if refit and len(points) >= 3:
            self.fit()
        else:
            self.plot.show_points(points)

    def _clear_fit(self) -> None:
        self.analysis, self.fitted = None, []
        self.results.setRowCount(0)
        self.summary.setText("not fitted" if self.points else "")
        self.plot.clear()

    def _reload(self) -> None:
        """The open case's points read back from the store (UserError if it cannot be)."""
        if self.case is not None:
            case, points = self.cases.load(self.case.case_id)
            self._show(case, points)

    # ------------------------------------------------------------ points in

    def offer(self, result: TimedCountResult, background: Background | None,
              finished_unix_s: float | None = None) -> None:
        """A timed count finished (the console's Space): keep it as the candidate point, with
        the session's background in use (snap.background) or None when none is set."""
        rate_sd = None if background is None else (background.rate_cps, background.sd_cps)
        self.pending = ds.pending_from_result(result, rate_sd, finished_unix_s)
        self.pending_label.setText(self.pending.describe())

    def _need_case(self) -> Case | None:
        if self.case is None:
            self.say("open a therapy case first (one with an administration time)")
        return self.case

    def add_last(self) -> bool:
        """Store the last timed count as a point in the geometry field's geometry, with the
        session's background or, without one, the typed background (refused if none)."""
        case = self._need_case()
        if case is None:
            return False
        if self.pending is None:
            self.say("no timed count to add: count with Space first")
            return False
        p = self.pending
        try:
            background = p.background or ds.typed_background(
                self.manual["background_cps"].text(), self.manual["background_sd_cps"].text())
            record = self.cases.add(case.case_id, counts=p.counts, live_s=p.live_s,
                                    geometry=self.geometry_id.text(), background=background,
                                    measured_unix_s=p.measured_unix_s)
        except UserError as exc:
            self.say(f"not added: {exc}")
            return False
        self.pending = None
        self.pending_label.setText("last count added; count again with Space")
        return self._added(record)

    def add_manual(self) -> bool:
        """Store the typed row (time after administration, counts, live time, background)."""
        case = self._need_case()
        if case is None:
            return False
        f = self.manual
        try:
            entry = ds.parse_manual(f["time_h"].text(), f["counts"].text(), f["live_s"].text(),
                                    f["background_cps"].text(), f["background_sd_cps"].text())
            record = self.cases.add(case.case_id, counts=entry.counts, live_s=entry.live_s,
                                    geometry=self.geometry_id.text(),
                                    background=entry.background, time_h=entry.time_h)
        except UserError as exc:
            self.say(f"not added: {exc}")
            return False
        for key in ("time_h", "counts", "live_s"):  # the background usually stays the same
            f[key].clear()
        return self._added(record)

    def _added(self, record: RetentionRecord) -> bool:
        try:
            self._reload()
        except UserError as exc:  # stored, but the case no longer reads back whole
            self._show(None, [])
            self.say(f"point {record.point_id} stored, but the case cannot be read: {exc}")
            return True
        self.say(f"point {record.point_id} stored: {record.time_h:.4g} h, net "
                 f"{record.net_cps:.5g} ± {record.net_sd_cps:.2g} cps ({record.geometry})")
        return True

    # ------------------------------------------------------------ fit and report

    def fit(self) -> bool:
        """Fit the stored points of one geometry and show both models; False, with the reason
        on the panel, when they cannot be fitted."""
        case = self._need_case()
        if case is None:
            return False
        try:
            fitted, analysis = ds.fit_geometry(case, self.points, self.geometry_id.text())
        except UserError as exc:
            self._clear_fit()
            self.plot.show_points(self.points)
            self.say(str(exc))
            return False
        self.analysis, self.fitted = analysis, fitted
        _fill(self.results, ds.fit_rows(analysis))
        self.summary.setText(ds.summary(analysis))
        flagged = analysis.chosen.extrapolation_flag
        self.summary.setStyleSheet(f"color: {style.WARNING if flagged else style.TEXT};")
        self.plot.show_fit(fitted, analysis)
        self.say("")
        return True

    def choose_report_path(self) -> None:
        """Report PDF…: ask where, then write_report."""
        if self.analysis is None and not self.fit():
            return
        name = f"dosimetry-{self.case.case_id if self.case else 'case'}.pdf"
        path, _ = QFileDialog.getSaveFileName(self, "Dosimetry report", name, "PDF (*.pdf)")
        if path:
            self.write_report(Path(path))

    def write_report(self, path: Path) -> Path | None:
        """Write the dosimetry PDF of the fit on display (fitted first if needed) at `path`,
        whole or not at all (mode 0600; an existing file replaced: the dialog asked)."""
        from probe_nav.cases.dosimetry_report import write_dosimetry_report
        from probe_nav.files import atomic_write_with

        if (self.analysis is None and not self.fit()) or self.case is None:
            return None
        if path.suffix.lower() != ".pdf":
            path = path.with_name(path.name + ".pdf")
        case, points, analysis = self.case, self.fitted, self.analysis
        assert analysis is not None
        try:
            written = atomic_write_with(
                path, lambda temp: write_dosimetry_report(temp, case, points, analysis),
                overwrite=True)
        except OSError as exc:
            self.say(f"report not written: cannot write {path}: {exc.strerror or exc}")
            return None
        log.info("dosimetry report of case %s written to %s", case.case_id, written)
        chosen = analysis.chosen
        sd = f" ± {chosen.t_eff_sd_h:.2g}" if math.isfinite(chosen.t_eff_sd_h) else ""
        self.say(f"report written to {written} ({chosen.model}, T_eff {chosen.t_eff_h:.4g}{sd} h)")
        return Path(written)


__all__ = ["DosimetryPanel"]
