"""The case panel: record timed counts as named nodes and show the case's node table (decay
corrected to the case reference time, % of hottest, the 10 % rule or the parathyroid 20 % rule).

All case-store use of the console is here. The table and the verdicts come from
probe_nav.cases (CaseStore.node_table); this panel only lays them out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QGridLayout,
    QHeaderView,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from probe_nav.cases import KINDS, PROCEDURES, CaseStore, Measurement, NodeTable
from probe_nav.core.timed import TimedCountResult
from probe_nav.gui import style
from probe_nav.gui.readout import WrapLabel

log = logging.getLogger(__name__)

KIND_LABELS = {"in_vivo": "in vivo", "ex_vivo": "ex vivo", "bed": "wound bed",
               "background": "background"}
COLUMNS = ("node", "counted", "counts", "net cps", "rate cps (corr.)", "× bg", "% hottest",
           "decision")
ACTION_RULES = ("ten_percent", "parathyroid_20")  # rules whose positive verdict marks the row
MIN_VISIBLE_ROWS = 5  # the node table always shows at least this many rows


def _fmt(value: float, digits: int = 1) -> str:
    return "—" if not math.isfinite(value) else f"{value:.{digits}f}"


class CasePanel(QWidget):
    """Case id, procedure, node name and kind, Record button, node table."""

    def __init__(self, procedure: str = "sln-breast", store_path: str | Path | None = None,
                 nuclide: str = "Tc-99m", parent: QWidget | None = None, *,
                 queue: bool = False, on_written: Callable[[], None] | None = None) -> None:
        super().__init__(parent)
        self.store_path = Path(store_path) if store_path is not None else None
        # a console on a department server: a local store whose writes are queued for it, and
        # the syncer nudged after each (probe_nav.gui.department_link)
        self.queue = queue
        self.on_written = on_written
        self.nuclide = nuclide
        self._store: CaseStore | None = None
        self.case_id: str | None = None
        self.pending: TimedCountResult | None = None
        self.table_data: NodeTable | None = None
        self.session = None  # LiveSession, for using a recorded background
        self.on_case_opened: Callable[[str], None] | None = None  # the console's background book

        self.case_label = WrapLabel("no case open", self)
        self.procedure = QComboBox(self)
        self.procedure.addItems(list(PROCEDURES))
        self.procedure.setCurrentText(procedure if procedure in PROCEDURES else "sln-breast")
        self.procedure.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.procedure.setMinimumContentsLength(10)
        self.new_button = QPushButton("New case", self)
        self.new_button.clicked.connect(lambda: self.new_case())
        self.node_name = QLineEdit("SLN 1", self)
        self.node_name.setMinimumWidth(90)
        self.kind_group = QButtonGroup(self)
        self.kind_buttons: dict[str, QPushButton] = {}
        self.record_button = QPushButton("Record (N)", self)
        self.record_button.clicked.connect(self.record_last)
        self.pending_label = WrapLabel("no timed count yet", self)
        self.pending_label.setStyleSheet(f"font-size: 11pt; color: {style.MUTED_TEXT};")
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        header = self.table.horizontalHeader()
        # columns as wide as their content (never "in vivo …"); the table scrolls sideways
        # rather than cutting cells when the panel is narrow
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)

        grid = QGridLayout()  # two rows: case and last count; node name, kind and Record
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setVerticalSpacing(4)
        grid.addWidget(self.case_label, 0, 0, 1, 2)
        grid.addWidget(self.pending_label, 0, 2, 1, 2)
        grid.addWidget(self.procedure, 0, 4)
        grid.addWidget(self.new_button, 0, 5)
        grid.addWidget(self.node_name, 1, 0)
        for i, kind in enumerate(KINDS):
            b = QPushButton(KIND_LABELS[kind], self)
            b.setCheckable(True)
            self.kind_group.addButton(b)
            self.kind_buttons[kind] = b
            grid.addWidget(b, 1, 1 + i)
        self.kind_buttons["in_vivo"].setChecked(True)
        grid.addWidget(self.record_button, 1, 5)
        grid.setColumnStretch(0, 1)
        for column in range(1, 5):
            grid.setColumnStretch(column, 1)
        for w in (*self.kind_buttons.values(), self.record_button, self.new_button,
                  self.procedure):
            w.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addLayout(grid)
        layout.addWidget(self.table, 1)
        self.set_compact(False)

    def set_compact(self, compact: bool) -> None:
        """Row height for the density; the table keeps room for MIN_VISIBLE_ROWS rows."""
        row_px, header_px = (24, 26) if compact else (34, 34)
        rows = self.table.verticalHeader()
        rows.setMinimumSectionSize(row_px)  # first: the default is clamped to the minimum
        rows.setDefaultSectionSize(row_px)
        self.table.horizontalHeader().setFixedHeight(header_px)
        scroll = self.table.horizontalScrollBar().sizeHint().height()
        self.table.setMinimumHeight(header_px + MIN_VISIBLE_ROWS * row_px + scroll + 8)

    def visible_rows(self) -> float:
        """How many rows the table's viewport can show (tests: at least 5)."""
        row = self.table.verticalHeader().defaultSectionSize()
        return self.table.viewport().height() / row

    # ------------------------------------------------------------ store

    def _open_store(self) -> CaseStore:
        if self._store is None:
            self._store = CaseStore.open(self.store_path, queue=self.queue)
        return self._store

    def new_case(self, case_id: str | None = None) -> str | None:
        """Open a new case (id from the clock unless given) with the chosen procedure; None, and
        the reason on the panel, if the store cannot take it (e.g. a read-only data folder)."""
        from probe_nav.errors import UserError
        from probe_nav.storage import StoreError

        cid = case_id or time.strftime("C-%Y%m%d-%H%M%S")
        try:
            self._open_store().create_case(cid, self.procedure.currentText(), self.nuclide)
        except (UserError, StoreError, OSError) as exc:
            log.warning("case %s not created: %s", cid, exc)
            self.pending_label.setText(f"no case could be opened: {exc}")
            return None
        self._written()
        self._show_case(cid)
        return cid

    def reopen_case(self, case_id: str) -> bool:
        """Open an existing case again (the console restarted mid-operation); False if the
        store does not hold it or cannot be opened."""
        from probe_nav.errors import UserError
        from probe_nav.storage import StoreError

        try:
            case = self._open_store().case(case_id)
        except (UserError, StoreError, OSError, KeyError) as exc:
            log.info("case %s not reopened: %s", case_id, exc)
            return False
        self.procedure.setCurrentText(case.procedure)
        self._show_case(case.case_id)
        return True

    def close_case(self) -> None:
        """No case open (another patient); the store stays open."""
        self.case_id = None
        self.case_label.setText("no case open")
        self.procedure.setEnabled(True)
        self.refresh()

    def _show_case(self, cid: str) -> None:
        self.case_id = cid
        self.case_label.setText(f"case {cid}")
        # "case" may wrap onto its own line; the id itself is never cut
        self.case_label.setMinimumWidth(self.case_label.fontMetrics().horizontalAdvance(cid) + 8)
        self.procedure.setEnabled(False)
        self.refresh()
        if self.on_case_opened is not None:
            self.on_case_opened(cid)

    def set_session(self, session: object) -> None:
        """The live session (a recorded background count becomes its background)."""
        self.session = session

    @property
    def kind(self) -> str:
        """The kind selected for the next record."""
        return next((k for k, b in self.kind_buttons.items() if b.isChecked()), "in_vivo")

    def select_kind(self, kind: str) -> None:
        """Choose the kind of the next record."""
        self.kind_buttons[kind].setChecked(True)

    # ------------------------------------------------------------ counts in

    def offer(self, result: TimedCountResult) -> None:
        """A timed count finished: keep it until the user records it under a node name."""
        self.pending = result
        self.pending_label.setText(
            f"last count: {result.counts} counts in {result.live_s:.1f} s: name it, choose the "
            "kind, Record (N)")

    def offer_background(self, result: TimedCountResult) -> None:
        """A background measurement finished: record it in the case as background."""
        self._record(result, "background", "background", use_as_background=False)

    def record_last(self) -> None:
        """Record the last timed count as the named node (N key)."""
        if self.pending is None:
            self.pending_label.setText("no timed count to record: press Space to count first")
            return
        name = self.node_name.text().strip() or KIND_LABELS[self.kind]
        if self._record(self.pending, name, self.kind):
            self.pending = None

    def _device_max_rate_cps(self) -> float | None:
        """The connected device's highest reportable rate: the store refuses counts above it."""
        info = self.session.last_info if self.session is not None else None
        counter = info.counter if info is not None else None
        return counter.max_rate_cps if counter is not None else None

    def _record(self, result: TimedCountResult, node: str, kind: str,
                use_as_background: bool = True) -> bool:
        from probe_nav.errors import UserError
        from probe_nav.storage import StoreError

        if self.case_id is None and self.new_case() is None:
            return False  # new_case said why on the panel; the count stays pending
        try:
            measurement = self._open_store().record(self.case_id, node, kind, result,
                                                    max_rate_cps=self._device_max_rate_cps())
        except (UserError, StoreError, OSError) as exc:
            self.pending_label.setText(f"not recorded: {exc}")
            return False
        self._written()
        if kind == "background" and use_as_background and self.session is not None:
            from probe_nav.core.background import Background

            self.session.set_background(Background.measured(result.counts, result.live_s))
        self.pending_label.setText(f"recorded {node} ({KIND_LABELS[kind]}): {result.counts} "
                                   f"counts in {result.live_s:.1f} s")
        self.refresh(measurement)
        return True

    def _written(self) -> None:
        if self.on_written is not None:
            self.on_written()

    # ------------------------------------------------------------ table out

    def refresh(self, _latest: Measurement | None = None) -> None:
        """Rebuild the table from the store."""
        if self.case_id is None or self._store is None:
            self.table.setRowCount(0)
            return
        table = self._store.node_table(self.case_id)
        measurements = self._store.measurements(self.case_id)
        self.table_data = table
        latest: dict[tuple[str, str], Measurement] = {}
        for m in sorted(measurements, key=lambda m: m.measured_unix_s):
            latest[(m.node, m.kind)] = m
        rows = list(table.rows)
        bg = next((m for (n, k), m in reversed(latest.items()) if k == "background"), None)
        self.table.setRowCount(len(rows) + (bg is not None))
        for r, row in enumerate(rows):
            main_kind = next((k for k in ("ex_vivo", "in_vivo", "bed") if k in row.kinds), "")
            m = latest.get((row.node, main_kind))
            corrected = {"ex_vivo": row.ex_vivo_cps, "in_vivo": row.in_vivo_cps,
                         "bed": row.bed_cps}.get(main_kind, math.nan)
            marked = [v for v in row.verdicts if v.rule in ACTION_RULES and v.positive]
            decision = "; ".join(v.text for v in row.verdicts) or "—"
            if marked and marked[0].rule == "ten_percent":
                decision = "REMOVE — " + decision
            cells = (row.node, ", ".join(KIND_LABELS[k] for k in row.kinds),
                     str(m.counts) if m else "—",
                     _fmt(m.corrected_net_cps) if m else "—", _fmt(corrected),
                     _fmt(row.ratio_to_background), _fmt(row.percent_of_hottest, 0), decision)
            self._set_row(r, cells, marked=bool(marked))
        if bg is not None:
            self._set_row(len(rows), ("background", "background", str(bg.counts), "—",
                                      _fmt(bg.corrected_rate_cps), "1.0", "—", ""),
                          marked=False)

    def _set_row(self, r: int, cells: tuple[str, ...], marked: bool) -> None:
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if marked:
                item.setBackground(QColor(style.REMOVE))
                item.setForeground(QColor("black"))
            self.table.setItem(r, c, item)

    def marked_nodes(self) -> list[str]:
        """Nodes the procedure's rule marks (10 %: remove; parathyroid: consistent)."""
        if self.table_data is None:
            return []
        return [row.node for row in self.table_data.rows
                if any(v.rule in ACTION_RULES and v.positive for v in row.verdicts)]

    def close_store(self) -> None:
        """Close the store."""
        if self._store is not None:
            self._store.close()
            self._store = None
