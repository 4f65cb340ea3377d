"""CaseStore: cases, measurements, notes and sessions in the crash-safe SQLite database.

A record is acknowledged only when the method that writes it returns: every write is one SQLite
transaction committed with synchronous=FULL under a WAL journal (probe_nav.storage). Every row
carries a SHA-256 checksum of its fields, verified on reading; a row that fails it (or that cannot
be read from a damaged file) is skipped and counted in `skipped_records`, never returned.

A damaged database is refused by `CaseStore.open` with a one-line StoreError; `CaseStore.salvage`
opens it anyway, read only, returning whatever rows can still be read.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from probe_nav.cases.model import (
    Case,
    Measurement,
    check_case_id,
    check_kind,
    measurement_from_result,
    new_case,
    with_id,
)
from probe_nav.cases.rules import NodeTable, RulesConfig, node_table
from probe_nav.cases.schema import (
    CASE_COLUMNS,
    MEASUREMENT_COLUMNS,
    MIGRATIONS,
    case_checksum,
    measurement_checksum,
)
from probe_nav.core.timed import TimedCountResult
from probe_nav.errors import UserError
from probe_nav.logs import REPORTED
from probe_nav.storage import StoreError, open_database, record_checksum, user_data_dir

log = logging.getLogger(__name__)
DEFAULT_FILE_NAME = "cases.sqlite3"


def default_case_db() -> Path:
    """The case database in the user data directory (PROBE_NAV_DATA_DIR overrides it)."""
    return user_data_dir() / DEFAULT_FILE_NAME


@dataclass(frozen=True, slots=True)
class CaseNote:
    """A decision or remark written into the case at a time."""

    case_id: str
    t_unix_s: float
    text: str


@dataclass(frozen=True, slots=True)
class SessionRef:
    """A recorded session (frame file + events) belonging to a case."""

    case_id: str | None
    started_unix_s: float
    directory: str


class CaseStore:
    """The case database. Use CaseStore.open(path) (or as a context manager)."""

    def __init__(self, conn: sqlite3.Connection, path: Path, *, read_only: bool = False) -> None:
        self._conn = conn
        self.path = path
        self.read_only = read_only
        self.skipped_records = 0  # rows unreadable or failing their checksum, since opening
        if read_only:
            log.info("%s: damaged case database opened read only to salvage it", path)

    @classmethod
    def open(cls, path: Path | None = None) -> CaseStore:
        """Open (creating and migrating as needed) the case database; StoreError if unusable."""
        path = Path(path) if path is not None else default_case_db()
        return cls(open_database(path, MIGRATIONS), path)

    @classmethod
    def salvage(cls, path: Path) -> CaseStore:
        """Open a damaged database read only, to read the rows that survive."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no such database file")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            conn.row_factory = sqlite3.Row
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the database at all ({exc})") from None
        return cls(conn, path, read_only=True)

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing (each call is one committed transaction) -------------------------------
    def _write(self, sql: str, params: tuple) -> int:
        if self.read_only:
            raise StoreError(f"{self.path}: opened read only (damaged); nothing can be written")
        try:
            cur = self._conn.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            raise UserError(f"{self.path}: refused: {exc}") from None
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot write: {exc}") from None
        return int(cur.lastrowid or 0)

    def create_case(
        self, case_id: str, procedure: str, nuclide: str, *, created_unix_s: float | None = None,
        **details: object,
    ) -> Case:
        """Create a case (details: injected_activity_mbq, injection_unix_s, probe, calibration,
        operator, notes); UserError if the identifier is taken."""
        case = new_case(case_id, procedure, nuclide,
                        created_unix_s=time.time() if created_unix_s is None else created_unix_s,
                        **details)  # type: ignore[arg-type]
        if self._find_case(case.case_id) is not None:
            raise UserError(f"case {case.case_id!r} already exists in {self.path}")
        row = case.as_dict()
        cols = (*CASE_COLUMNS, "checksum")
        self._write(f"INSERT INTO cases ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                    (*[row[c] for c in CASE_COLUMNS], case_checksum(row)))
        log.info("%s: case %s written", self.path, case.case_id)
        return case

    def record(
        self, case_id: str, node: str, kind: str, result: TimedCountResult,
        measured_unix_s: float | None = None, note: str = "",
    ) -> Measurement:
        """Record a timed count as node `node` of `kind`; returns it once committed."""
        case = self.case(case_id)
        t = time.time() if measured_unix_s is None else float(measured_unix_s)
        m = measurement_from_result(case, node, kind, result, t, note)
        fields = m.checksum_fields()
        digest = measurement_checksum(fields)
        cols = (*MEASUREMENT_COLUMNS, "checksum")
        values = tuple(int(fields[c]) if c in ("significant", "complete") else fields[c]
                       for c in MEASUREMENT_COLUMNS)
        row_id = self._write(
            f"INSERT INTO measurements ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
            (*values, digest))
        log.info("%s: measurement %d (node %s, %s) of case %s written", self.path, row_id, node,
                 kind, case.case_id)
        return with_id(m, row_id, digest)

    def add_note(self, case_id: str, text: str, t_unix_s: float | None = None) -> CaseNote:
        """Write a decision or remark into the case."""
        case = self.case(case_id)
        note = CaseNote(case.case_id, time.time() if t_unix_s is None else t_unix_s, str(text))
        digest = _note_checksum(note)
        self._write("INSERT INTO case_notes (case_id, t_unix_s, text, checksum) VALUES (?,?,?,?)",
                    (note.case_id, note.t_unix_s, note.text, digest))
        log.info("%s: note written to case %s", self.path, note.case_id)
        return note

    def add_session(self, case_id: str | None, directory: Path, started_unix_s: float) -> None:
        """Link a recorded session directory to a case (or to no case)."""
        if case_id is not None:
            self.case(case_id)
        self._write("INSERT INTO sessions (case_id, started_unix_s, directory) VALUES (?,?,?)",
                    (case_id, started_unix_s, str(directory)))
        log.info("%s: session %s linked to case %s", self.path, directory, case_id)

    # ---- reading ------------------------------------------------------------------------
    def _rows(self, table: str) -> Iterator[dict[str, object]]:
        """Every readable row of a table in rowid order; unreadable stretches are skipped."""
        last = 0
        gap = 0
        while True:
            try:
                cur = self._conn.execute(
                    f"SELECT rowid AS _rowid, * FROM {table} WHERE rowid > ? ORDER BY rowid",
                    (last + gap,))
                for row in cur:
                    last, gap = int(row["_rowid"]), 0
                    yield dict(row)
                return
            except sqlite3.DatabaseError as exc:
                if not self.read_only:
                    raise StoreError(f"{self.path}: cannot read table {table}: {exc}") from None
                self.skipped_records += 1 if gap == 0 else 0
                if gap == 0:
                    log.warning("%s: unreadable rows in table %s after row %d skipped (%s)",
                                self.path, table, last, exc, extra=REPORTED)
                gap = 1 if gap == 0 else gap * 2  # probe past the damaged stretch
                if gap > 1 << 40:
                    return

    def _find_case(self, case_id: str) -> Case | None:
        case_id = check_case_id(case_id)
        if not self.read_only:
            row = self._conn.execute("SELECT * FROM cases WHERE case_id = ?",
                                     (case_id,)).fetchone()
            rows = [dict(row)] if row is not None else []
        else:
            rows = [r for r in self._rows("cases") if r.get("case_id") == case_id]
        cases = [c for c in (self._case_from(r) for r in rows) if c is not None]
        return cases[0] if cases else None

    def _case_from(self, row: dict[str, object]) -> Case | None:
        if case_checksum(row) != row.get("checksum"):
            self._refused("case", row.get("case_id"))
            return None
        return Case(**{k: row[k] for k in CASE_COLUMNS})  # type: ignore[arg-type]

    def case(self, case_id: str) -> Case:
        """The case with this identifier; UserError if there is none."""
        found = self._find_case(case_id)
        if found is None:
            raise UserError(f"no case {case_id!r} in {self.path} (see `probe-nav case list`)")
        return found

    def cases(self) -> list[Case]:
        """Every case, oldest first."""
        found = [c for c in (self._case_from(r) for r in self._rows("cases")) if c is not None]
        return sorted(found, key=lambda c: (c.created_unix_s, c.case_id))

    def measurements(self, case_id: str) -> list[Measurement]:
        """The case's measurements in the order they were taken (checksums verified)."""
        case_id = check_case_id(case_id)
        if self.read_only:
            rows = [r for r in self._rows("measurements") if r.get("case_id") == case_id]
        else:
            rows = [dict(r) for r in self._conn.execute(
                "SELECT * FROM measurements WHERE case_id = ? ORDER BY measured_unix_s, id",
                (case_id,))]
        out = []
        for r in rows:
            if measurement_checksum(r) != r.get("checksum"):
                self._refused("measurement", r.get("id"))
                continue
            values = {c: r[c] for c in MEASUREMENT_COLUMNS}
            values["significant"], values["complete"] = bool(r["significant"]), bool(r["complete"])
            out.append(Measurement(**values, measurement_id=int(r["id"]),  # type: ignore[arg-type]
                                   checksum=str(r["checksum"])))
        return sorted(out, key=lambda m: (m.measured_unix_s, m.measurement_id or 0))

    def measurement_ids(self) -> set[int]:
        """Ids of every readable, intact measurement (all cases)."""
        return {int(r["id"]) for r in self._rows("measurements")  # type: ignore[arg-type]
                if measurement_checksum(r) == r.get("checksum")}

    def node_table(self, case_id: str, config: RulesConfig | None = None) -> NodeTable:
        """The node table with ratios and verdicts for the case's procedure."""
        return node_table(self.case(case_id), self.measurements(case_id), config)

    def notes(self, case_id: str) -> list[CaseNote]:
        """Decisions and remarks of the case, in time order (checksums verified)."""
        case_id = check_case_id(case_id)
        out = []
        for r in self._rows("case_notes"):
            if r.get("case_id") != case_id:
                continue
            note = CaseNote(str(r["case_id"]), float(r["t_unix_s"]), str(r["text"]))
            if _note_checksum(note) != r.get("checksum"):
                self._refused("note", r.get("_rowid"))
                continue
            out.append(note)
        return sorted(out, key=lambda n: n.t_unix_s)

    def sessions(self, case_id: str | None = None) -> list[SessionRef]:
        """Recorded sessions, of one case or all."""
        return [SessionRef(r["case_id"], float(r["started_unix_s"]), str(r["directory"]))
                for r in self._rows("sessions")
                if case_id is None or r.get("case_id") == case_id]

    def _refused(self, kind: str, row_id: object) -> None:
        """A row failed its checksum: count it (the caller reports the count) and log it."""
        self.skipped_records += 1
        log.warning("%s: %s %s fails its checksum (changed outside probe-nav or damaged); "
                    "skipped", self.path, kind, row_id, extra=REPORTED)

    def integrity_ok(self) -> bool:
        """PRAGMA integrity_check says ok."""
        try:
            return [r[0] for r in self._conn.execute("PRAGMA integrity_check")] == ["ok"]
        except sqlite3.DatabaseError:
            return False


def _note_checksum(note: CaseNote) -> str:
    return record_checksum({"case_id": note.case_id, "t_unix_s": note.t_unix_s,
                            "text": note.text})


__all__ = ["CaseNote", "CaseStore", "SessionRef", "check_kind", "default_case_db"]
