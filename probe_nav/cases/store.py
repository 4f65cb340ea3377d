"""CaseStore: cases, measurements, notes and sessions in the crash-safe SQLite database.

A record is acknowledged only when the method that writes it returns: every write is one SQLite
transaction committed with synchronous=FULL under a WAL journal (probe_nav.storage). Every row is
sealed (probe_nav.storage.chain): an HMAC-SHA256 under the database's key (cases.sqlite3.key,
beside it) over its fields and its place in its case's chain. A case is read whole or not at
all: if any of its records fails its seal, is missing, duplicated, out of order or moved in from
another case, the case is refused (TamperedRecord, one line naming the record and what failed),
never shown with what is left. `verify()` checks the whole database and lists every problem.

A damaged database is refused by `CaseStore.open` with a one-line StoreError; `CaseStore.salvage`
opens it anyway, read only: the cases whose whole chain can still be read and verifies are
shown; a case that lost any row to the damage is refused like a tampered one (counted in
`skipped_records` and logged), never shown with what is left.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

from probe_nav.cases.attachments import CaseAttachments
from probe_nav.cases.chain_reader import VERIFY_COMMAND as VERIFY_COMMAND
from probe_nav.cases.chain_reader import ChainReader, VerifyReport
from probe_nav.cases.model import (
    Case,
    Measurement,
    check_case_id,
    check_kind,
    measurement_from_result,
    new_case,
    with_id,
)
from probe_nav.cases.rows import (
    CaseNote,
    SessionRef,
    case_from_row,
    measurement_from_row,
    row_label,
)
from probe_nav.cases.rules import NodeTable, RulesConfig, node_table
from probe_nav.cases.schema import (
    CASE_COLUMNS,
    KEYED_SEALS_VERSION,
    MEASUREMENT_COLUMNS,
    MIGRATIONS,
    SCOPE,
    SEALED_TABLES,
)
from probe_nav.core.timed import TimedCountResult
from probe_nav.errors import UserError
from probe_nav.storage import StoreError, user_data_dir
from probe_nav.storage.backend import Database, SqliteDatabase, connect
from probe_nav.storage.chain import (
    GENESIS,
    Sealer,
    TamperedRecord,
    append,
    head_valid,
    ledger_problems,
    open_sealer,
    read_head,
    stored,
    upgrade_note,
)
from probe_nav.storage.outbox import QueuedWrite, enqueue
from probe_nav.storage.urls import DatabaseUrl, Dialect, database_url
from probe_nav.storage.writes import (
    check_op_id,
    find_applied,
    new_op_id,
    note_applied,
    row_id_of,
)

log = logging.getLogger(__name__)
DEFAULT_FILE_NAME = "cases.sqlite3"
APPLICATION_ID = 0x504E4341  # 'PNCA': PRAGMA application_id of a case database
NAMESPACE = "cases"  # the store's PostgreSQL schema (probe_nav.storage.pg)


def default_case_db() -> Path:
    """The case database in the user data directory (PROBE_NAV_DATA_DIR overrides it)."""
    return user_data_dir() / DEFAULT_FILE_NAME


class CaseStore(CaseAttachments, ChainReader):
    """The case database. Use CaseStore.open(path) (or as a context manager)."""

    def __init__(self, conn: Database, path: Path | str, *, read_only: bool = False,
                 sealer: Sealer | None = None, queue: bool = False) -> None:
        self._conn = conn
        self.path = path
        self.read_only = read_only
        self.queue = queue  # every write also queued for a server (probe_nav.storage.outbox)
        self._sealer = sealer  # None only for a salvaged database older than keyed seals
        self.skipped_records = 0  # salvage: rows unreadable or failing their seal, since opening
        if read_only:
            log.info("%s: damaged case database opened read only to salvage it", path)

    @classmethod
    def open(cls, path: Path | str | DatabaseUrl | None = None, *,
             queue: bool = False, timeout_s: float | None = None) -> CaseStore:
        """Open (creating, migrating and keying as needed) the case database: a file path, a
        database URL (probe_nav.storage.urls), or None for $PROBE_NAV_DATABASE_URL or else the
        default file; StoreError if unusable, its key file is missing or is not its key.
        queue: a console's local store that queues every write for the department server
        (probe_nav.cases.department); timeout_s: a server's connection wait."""
        url = path if isinstance(path, DatabaseUrl) else database_url(path, default_case_db())
        db = connect(url, NAMESPACE, MIGRATIONS, application_id=APPLICATION_ID, kind="case",
                     timeout_s=timeout_s)
        try:
            sealer = open_sealer(db, db.key_base)
        except BaseException:
            db.close()
            raise
        return cls(db, url.path if url.path is not None else db.label, sealer=sealer,
                   queue=queue)

    @classmethod
    def salvage(cls, path: Path) -> CaseStore:
        """Open a damaged database read only, to read the rows that survive."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"{path}: no such database file")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            conn.row_factory = sqlite3.Row
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: cannot open the database at all ({exc})") from None
        sealer = None
        if version >= KEYED_SEALS_VERSION:
            try:
                sealer = open_sealer(conn, path)
            except BaseException:
                conn.close()
                raise
        return cls(SqliteDatabase(conn, str(path)), path, read_only=True, sealer=sealer)

    def close(self) -> None:
        """Close the database."""
        self._conn.close()

    def __enter__(self) -> CaseStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- writing (each call is one committed transaction) -------------------------------
    def _append(self, chain: str, table: str, values: dict[str, object],
                op_id: str | None = None) -> tuple[int, str]:
        """Seal and insert one row as the next record of `chain`, in its own transaction,
        after checking the chain's anchor, head and last record (a full check is for reads);
        noted under op_id (probe_nav.storage.writes): a write already applied under it returns
        its record instead of writing it again."""
        if self.read_only or self._sealer is None:
            raise StoreError(f"{self.path}: opened read only (damaged); nothing can be written")
        sealer = self._sealer
        op = check_op_id(op_id) if op_id is not None else new_op_id()

        def work(db: Database) -> tuple[int, str]:
            prior = find_applied(db, op)
            if prior is not None:
                if (prior.tbl, prior.chain) != (table, chain):
                    raise UserError(f"{self.path}: refused: write {op} was applied to another "
                                    f"record ({prior.tbl} of {prior.chain!r})")
                log.info("%s: write %s was applied before; not written again", self.path, op)
                return row_id_of(db, prior), prior.mac
            if table != "cases":
                self._check_tail(chain)
            row_id, mac = append(db, sealer, SCOPE, chain, table, values, str(self.path))
            head = read_head(db, SCOPE, chain)
            assert head is not None
            note_applied(db, op, chain, head.seq, table, mac)
            if self.queue:
                enqueue(db, op, chain, table, values)
            return row_id, mac

        try:
            return self._conn.write(work)
        except self._conn.integrity_errors as exc:
            raise UserError(f"{self.path}: refused: {_one_line(exc)}") from None
        except self._conn.database_errors as exc:
            raise StoreError(f"{self.path}: cannot write: {_one_line(exc)}") from None

    def _check_tail(self, chain: str) -> None:
        """Refuse to extend a chain whose head fails or whose last record is not the one the
        head names (TamperedRecord); the anchor was verified by the caller."""
        assert self._sealer is not None
        head = read_head(self._conn, SCOPE, chain)
        if head is None:
            if chain:  # a case always has a head (its own row is record #0)
                raise self._refuse(f"case {chain!r}", [f"case {chain!r}: its chain head is "
                                                       "missing (deleted outside probe-nav)"])
            return
        problems = []
        if not head_valid(self._sealer, SCOPE, chain, head):
            problems.append(f"the chain head of case {chain!r} fails its checksum")
        elif not any(self._conn.execute(f"SELECT 1 FROM {t} WHERE mac = ? AND seq = ?",
                                        (head.last_mac, head.seq)).fetchone()
                     for t in SEALED_TABLES):
            problems.append(f"case {chain!r}: its last record #{head.seq} is missing (deleted "
                            "outside probe-nav)")
        if problems:
            raise self._refuse(f"case {chain!r}" if chain else "sessions without a case",
                               problems)

    def create_case(
        self, case_id: str, procedure: str, nuclide: str, *, created_unix_s: float | None = None,
        op_id: str | None = None, **details: object,
    ) -> Case:
        """Create a case (details: injected_activity_mbq, injection_unix_s, probe, calibration,
        operator, notes); UserError if the identifier is taken or a value is implausible.
        op_id: the write's identity (a case already created under it is returned)."""
        case = new_case(case_id, procedure, nuclide,
                        created_unix_s=time.time() if created_unix_s is None else created_unix_s,
                        **details)  # type: ignore[arg-type]
        if op_id is not None and self._was_applied(op_id, "cases", case.case_id):
            return self._anchor(case.case_id)
        if self._conn.execute("SELECT 1 FROM cases WHERE case_id = ?",
                              (case.case_id,)).fetchone() is not None:
            raise UserError(f"case {case.case_id!r} already exists in {self.path}")
        if read_head(self._conn, SCOPE, case.case_id) is not None:
            raise self._refuse(f"case {case.case_id!r}", [
                f"case {case.case_id!r} was deleted outside probe-nav (its chain head remains); "
                "choose another identifier"])
        row = case.as_dict()
        self._append(case.case_id, "cases", {**{c: row[c] for c in CASE_COLUMNS},
                                             "checksum": ""}, op_id)
        log.info("%s: case %s written", self.path, case.case_id)
        return case

    def record(
        self, case_id: str, node: str, kind: str, result: TimedCountResult,
        measured_unix_s: float | None = None, note: str = "", *,
        max_rate_cps: float | None = None, op_id: str | None = None,
    ) -> Measurement:
        """Record a timed count as node `node` of `kind`; returns it once committed. UserError
        for an implausible value; max_rate_cps: the device's highest reportable rate if known."""
        case = self._anchor(case_id)
        t = time.time() if measured_unix_s is None else float(measured_unix_s)
        m = measurement_from_result(case, node, kind, result, t, note, max_rate_cps)
        fields = m.checksum_fields()
        values: dict[str, object] = {
            c: int(bool(fields[c])) if c in ("significant", "complete") else fields[c]
            for c in MEASUREMENT_COLUMNS}
        row_id, mac = self._append(case.case_id, "measurements", {**values, "checksum": ""},
                                   op_id)
        log.info("%s: measurement %d (node %s, %s) of case %s written", self.path, row_id,
                 m.node, m.kind, case.case_id)
        return with_id(m, row_id, mac)

    def add_note(self, case_id: str, text: str, t_unix_s: float | None = None, *,
                 op_id: str | None = None) -> CaseNote:
        """Write a decision or remark into the case."""
        case = self._anchor(case_id)
        note = CaseNote(case.case_id, time.time() if t_unix_s is None else float(t_unix_s),
                        str(text))
        self._append(case.case_id, "case_notes", {"case_id": note.case_id,
                                                  "t_unix_s": note.t_unix_s, "text": note.text,
                                                  "checksum": ""}, op_id)
        log.info("%s: note written to case %s", self.path, note.case_id)
        return note

    def add_session(self, case_id: str | None, directory: Path, started_unix_s: float) -> None:
        """Link a recorded session directory to a case (or to no case)."""
        if case_id is not None:
            case_id = self._anchor(case_id).case_id
        self._append(case_id or "", "sessions", {"case_id": case_id,
                                                 "started_unix_s": float(started_unix_s),
                                                 "directory": str(directory)})
        log.info("%s: session %s linked to case %s", self.path, directory, case_id)

    def apply_queued(self, write: QueuedWrite) -> tuple[int, str]:
        """Write a record a console queued (its values as the console sealed them locally) as
        the next of its chain here, sealed under this store's key; a write applied before under
        its op_id is not written again. UserError if the chain cannot take it (no such case,
        or a case id taken meanwhile): the console keeps the entry, rejected."""
        if write.table not in SEALED_TABLES:
            raise UserError(f"{self.path}: refused: {write.table!r} is not a case table")
        if write.table != "cases" and write.chain:
            self._anchor(write.chain)
        return self._append(write.chain, write.table, dict(write.values), write.op_id)

    def _was_applied(self, op_id: str, table: str, chain: str) -> bool:
        """Whether write op_id already made a record of `table` in `chain`."""
        prior = find_applied(self._conn, check_op_id(op_id))
        return prior is not None and (prior.tbl, prior.chain) == (table, chain)

    # ---- reading (each case's chain is read and verified by ChainReader) ----------------
    def _anchor(self, case_id: str) -> Case:
        """The case's own row, its seal verified (for writing); UserError if there is none."""
        case_id = check_case_id(case_id)
        if self.read_only:
            found = self._find_case(case_id)
            if found is None:
                raise UserError(f"no case {case_id!r} in {self.path}")
            return found
        row = self._conn.execute("SELECT * FROM cases WHERE case_id = ?", (case_id,)).fetchone()
        if row is None:
            raise UserError(f"no case {case_id!r} in {self.path} (see `probe-nav case list`)")
        r = dict(row)
        record = stored("cases", row_label("cases", r), r)
        assert self._sealer is not None
        if not (self._sealer.valid(record, SCOPE, case_id) and record.seq == 0
                and record.prev_mac == GENESIS):
            raise self._refuse(f"case {case_id!r}", [
                f"{record.label} fails its checksum (changed outside probe-nav)"])
        return case_from_row(r)

    def _find_case(self, case_id: str) -> Case | None:
        case_id = check_case_id(case_id)
        if not self.read_only and self._conn.execute(
                "SELECT 1 FROM cases WHERE case_id = ?", (case_id,)).fetchone() is None \
                and read_head(self._conn, SCOPE, case_id) is None:
            return None
        rows = self._verified(case_id).rows.get("cases", [])
        return case_from_row(rows[0]) if rows else None

    def case(self, case_id: str) -> Case:
        """The case with this identifier (its whole chain verified); UserError if there is
        none, TamperedRecord if any of its records fails."""
        found = self._find_case(case_id)
        if found is None:
            raise UserError(f"no case {case_id!r} in {self.path} (see `probe-nav case list`)")
        return found

    def cases(self) -> list[Case]:
        """Every case, oldest first; each verified whole (TamperedRecord for the first that
        fails, or when records are missing from the database as a whole)."""
        if not self.read_only:
            assert self._sealer is not None
            sealer = self._sealer
            problems = self._conn.read(lambda db: ledger_problems(
                db, sealer, SEALED_TABLES, str(self.path)))
            if problems:
                raise self._refuse("the case list", problems)
        ids = [str(r["case_id"]) for r in self._rows("cases")]
        found = [c for c in (self._salvaged(self._find_case, i) for i in dict.fromkeys(ids))
                 if c is not None]
        return sorted(found, key=lambda c: (c.created_unix_s, c.case_id))

    def measurements(self, case_id: str) -> list[Measurement]:
        """The case's measurements in the order they were taken (its whole chain verified)."""
        case_id = check_case_id(case_id)
        rows = self._verified(case_id).rows.get("measurements", [])
        out = [measurement_from_row(r) for r in rows]
        return sorted(out, key=lambda m: (m.measured_unix_s, m.measurement_id or 0))

    def measurement_ids(self) -> set[int]:
        """Ids of every readable measurement of a case whose chain verifies (all cases)."""
        ids: set[int] = set()
        for case_id in dict.fromkeys(str(r["case_id"]) for r in self._rows("cases")):
            try:
                ids.update(m.measurement_id or 0 for m in self.measurements(case_id))
            except TamperedRecord:
                continue
        return ids

    def node_table(self, case_id: str, config: RulesConfig | None = None) -> NodeTable:
        """The node table with ratios and verdicts for the case's procedure."""
        return node_table(self.case(case_id), self.measurements(case_id), config)

    def notes(self, case_id: str) -> list[CaseNote]:
        """Decisions and remarks of the case, in time order (its whole chain verified)."""
        case_id = check_case_id(case_id)
        rows = self._verified(case_id).rows.get("case_notes", [])
        out = [CaseNote(str(r["case_id"]), float(r["t_unix_s"]),  # type: ignore[arg-type]
                        str(r["text"])) for r in rows]
        return sorted(out, key=lambda n: n.t_unix_s)

    def sessions(self, case_id: str | None = None) -> list[SessionRef]:
        """Recorded sessions, of one case or all (each chain verified)."""
        if case_id is not None:
            chains: list[str | None] = [check_case_id(case_id)]
        else:
            chains = [*dict.fromkeys(str(r["case_id"]) for r in self._rows("cases")), None]
        out = []
        for chain in chains:
            verified = (self._verified(chain) if case_id is not None
                        else self._salvaged(self._verified, chain))
            for r in (verified.rows.get("sessions", []) if verified is not None else []):
                out.append(SessionRef(None if r["case_id"] is None else str(r["case_id"]),
                                      float(r["started_unix_s"]),  # type: ignore[arg-type]
                                      str(r["directory"])))
        return sorted(out, key=lambda s: s.started_unix_s)

    def upgrade_note(self) -> str | None:
        """When and how this database's records were re-sealed under its key, if it was made
        before keyed seals (None for a database made with them)."""
        return upgrade_note(self._conn)

    def integrity_ok(self) -> bool:
        """PRAGMA integrity_check says ok (a PostgreSQL server checks its own pages)."""
        if self._conn.dialect is Dialect.POSTGRESQL:
            return True
        try:
            return [r[0] for r in self._conn.execute("PRAGMA integrity_check")] == ["ok"]
        except sqlite3.DatabaseError:
            return False


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


__all__ = ["CaseNote", "CaseStore", "SessionRef", "VerifyReport", "check_kind",
           "default_case_db"]
