"""Calibration and QC records in SQLite: probes by model and serial, records with operator, time,
source, raw-data reference and a SHA-256 checksum over every field.

Records are never updated, only added: a new calibration supersedes the old one. Every read checks
the checksum; a record that fails it (changed outside probe-nav, or damaged) raises
TamperedRecord and is never used - in particular the active calibration is not silently taken
from an older record when the newest one is bad.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from probe_nav.logs import REPORTED
from probe_nav.storage import StoreError, open_database, record_checksum, user_data_dir
from probe_nav.storage.sqlite import transaction

log = logging.getLogger(__name__)
DB_NAME = "qc.sqlite"
CALIBRATION = "calibration"
QC = "qc"
KINDS = (CALIBRATION, QC)


class TamperedRecord(StoreError):
    """A record whose checksum does not match its fields: refused, never used."""


def default_db_path() -> Path:
    """The QC database in the user's data directory (PROBE_NAV_DATA_DIR overrides)."""
    return user_data_dir() / DB_NAME


def _create_tables(conn: sqlite3.Connection) -> None:
    conn.execute("""CREATE TABLE probes (
        id INTEGER PRIMARY KEY, model TEXT NOT NULL, serial TEXT NOT NULL,
        detector TEXT NOT NULL DEFAULT '', created_utc TEXT NOT NULL,
        UNIQUE (model, serial))""")
    conn.execute("""CREATE TABLE records (
        id INTEGER PRIMARY KEY, probe_id INTEGER NOT NULL REFERENCES probes(id),
        kind TEXT NOT NULL CHECK (kind IN ('calibration', 'qc')), test TEXT NOT NULL,
        time_utc TEXT NOT NULL, operator TEXT NOT NULL, source TEXT NOT NULL,
        raw_data TEXT NOT NULL, passed INTEGER, result_json TEXT NOT NULL,
        checksum TEXT NOT NULL)""")
    conn.execute("CREATE INDEX records_by_probe ON records (probe_id, kind, test, time_utc)")


MIGRATIONS = (_create_tables,)


@dataclass(frozen=True, slots=True)
class Probe:
    """A probe known to the store."""

    id: int
    model: str
    serial: str
    detector: str = ""

    @property
    def label(self) -> str:
        """'model #serial' for messages and reports."""
        return f"{self.model} #{self.serial}" if self.serial else self.model


@dataclass(frozen=True, slots=True)
class Record:
    """One calibration or QC result as stored (checksum verified when read)."""

    id: int
    probe: Probe
    kind: str
    test: str
    time_utc: datetime
    operator: str
    source: str
    raw_data: str
    passed: bool | None
    result: dict[str, Any] = field(default_factory=dict)
    checksum: str = ""


def _fields(record_id: int, probe: Probe, kind: str, test: str, time_utc: str, operator: str,
            source: str, raw_data: str, passed: int | None, result_json: str) -> dict[str, Any]:
    """What the checksum covers: every column, and the probe's identity (not just its row id)."""
    return {"id": record_id, "model": probe.model, "serial": probe.serial, "kind": kind,
            "test": test, "time_utc": time_utc, "operator": operator, "source": source,
            "raw_data": raw_data, "passed": passed, "result_json": result_json}


def _time_text(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("record times must carry a time zone")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


class QcStore:
    """The records database; open with `QcStore(path)` or `QcStore.open_default()`."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = open_database(self.path, MIGRATIONS)

    @classmethod
    def open_default(cls) -> QcStore:
        """The store at the default path."""
        return cls(default_db_path())

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()

    def __enter__(self) -> QcStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ probes

    def probe(self, model: str, serial: str, detector: str = "") -> Probe:
        """The probe with this model and serial, registered on first use."""
        model, serial = model.strip(), serial.strip()
        if not model:
            raise StoreError("a probe needs a model name")
        with transaction(self._conn):
            self._conn.execute(
                "INSERT OR IGNORE INTO probes (model, serial, detector, created_utc) "
                "VALUES (?, ?, ?, ?)", (model, serial, detector, _time_text(datetime.now(UTC))))
            row = self._conn.execute("SELECT * FROM probes WHERE model = ? AND serial = ?",
                                     (model, serial)).fetchone()
        return Probe(row["id"], row["model"], row["serial"], row["detector"])

    def find_probe(self, model: str, serial: str) -> Probe | None:
        """The probe if it is known, else None (nothing is registered)."""
        row = self._conn.execute("SELECT * FROM probes WHERE model = ? AND serial = ?",
                                 (model.strip(), serial.strip())).fetchone()
        return None if row is None else Probe(row["id"], row["model"], row["serial"],
                                              row["detector"])

    def probes(self) -> list[Probe]:
        """Every known probe, by model and serial."""
        rows = self._conn.execute("SELECT * FROM probes ORDER BY model, serial").fetchall()
        return [Probe(r["id"], r["model"], r["serial"], r["detector"]) for r in rows]

    # ------------------------------------------------------------ records

    def add(self, probe: Probe, kind: str, test: str, result: dict[str, Any], *,
            operator: str, source: str, raw_data: str, passed: bool | None,
            when: datetime | None = None) -> Record:
        """Store a new record (with its checksum) and return it as read back."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not operator.strip():
            raise StoreError("a record needs an operator (--operator NAME)")
        time_text = _time_text(when or datetime.now(UTC))
        result_json = json.dumps(result, sort_keys=True, allow_nan=True)
        flag = None if passed is None else int(bool(passed))
        with transaction(self._conn):
            cur = self._conn.execute(
                "INSERT INTO records (probe_id, kind, test, time_utc, operator, source, raw_data,"
                " passed, result_json, checksum) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, '')",
                (probe.id, kind, test, time_text, operator, source, raw_data, flag, result_json))
            record_id = int(cur.lastrowid)
            checksum = record_checksum(_fields(record_id, probe, kind, test, time_text, operator,
                                               source, raw_data, flag, result_json))
            self._conn.execute("UPDATE records SET checksum = ? WHERE id = ?",
                               (checksum, record_id))
        log.info("%s: record %d (%s %s of %s) written", self.path, record_id, kind, test,
                 probe.label)
        return self.get(record_id)

    def get(self, record_id: int) -> Record:
        """One record by id, checksum verified (TamperedRecord if it fails)."""
        row = self._conn.execute(self._SELECT + " WHERE r.id = ?", (record_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no record {record_id}")
        return self._verified(row)

    _SELECT = ("SELECT r.*, p.model AS p_model, p.serial AS p_serial, p.detector AS p_detector "
               "FROM records r JOIN probes p ON p.id = r.probe_id")

    def records(self, probe: Probe | None = None, kind: str | None = None,
                test: str | None = None) -> list[Record]:
        """Records oldest first, optionally of one probe, kind and test; all verified."""
        where, params = [], []
        for column, value in (("r.probe_id", probe.id if probe else None), ("r.kind", kind),
                              ("r.test", test)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        sql = self._SELECT + (" WHERE " + " AND ".join(where) if where else "")
        rows = self._conn.execute(sql + " ORDER BY r.time_utc, r.id", params).fetchall()
        return [self._verified(row) for row in rows]

    def latest(self, probe: Probe, kind: str, test: str) -> Record | None:
        """The newest record of a kind and test for a probe (verified), or None."""
        row = self._conn.execute(
            self._SELECT + " WHERE r.probe_id = ? AND r.kind = ? AND r.test = ? "
            "ORDER BY r.time_utc DESC, r.id DESC LIMIT 1", (probe.id, kind, test)).fetchone()
        return None if row is None else self._verified(row)

    def verify_all(self) -> list[str]:
        """One message per record that fails its checksum (empty when all are sound)."""
        problems = []
        for row in self._conn.execute(self._SELECT + " ORDER BY r.id"):
            try:
                self._verified(row)
            except TamperedRecord as exc:
                problems.append(str(exc))
        return problems

    @staticmethod
    def _refused(message: str) -> TamperedRecord:
        """Log a refused record (the caller shows the raised error, so not on stderr again)."""
        log.warning("%s", message, extra=REPORTED)
        return TamperedRecord(message)

    def _verified(self, row: sqlite3.Row) -> Record:
        probe = Probe(row["probe_id"], row["p_model"], row["p_serial"], row["p_detector"])
        fields = _fields(row["id"], probe, row["kind"], row["test"], row["time_utc"],
                         row["operator"], row["source"], row["raw_data"], row["passed"],
                         row["result_json"])
        what = f"record {row['id']} ({row['kind']} {row['test']} of {probe.label})"
        if record_checksum(fields) != row["checksum"]:
            raise self._refused(f"{self.path}: {what} fails its checksum: it was changed "
                                "outside probe-nav or is damaged; refusing to use it")
        try:
            result = json.loads(row["result_json"])
            when = datetime.fromisoformat(row["time_utc"])
        except ValueError:
            raise self._refused(f"{self.path}: {what} is unreadable; refusing to use it") from None
        return Record(row["id"], probe, row["kind"], row["test"], when, row["operator"],
                      row["source"], row["raw_data"],
                      None if row["passed"] is None else bool(row["passed"]), result,
                      row["checksum"])
