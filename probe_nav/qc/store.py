"""Calibration and QC records in SQLite: probes by model and serial, records with operator, time,
source, raw-data reference, each sealed (probe_nav.storage.chain) with an HMAC-SHA256 under the
database's key (qc.sqlite.key, beside it) and chained per probe (the probe's own row is #0).

Records are never updated, only added: a new calibration supersedes the old one. Every read checks
the whole chain of the probe concerned: if any record fails its seal, or is missing, duplicated,
out of order or moved from another probe, the probe's records are refused (TamperedRecord) and
never used - in particular the active calibration is not silently taken from an older record
when the newest one is bad. `verify()` checks the whole database and lists every problem.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from probe_nav.logs import REPORTED
from probe_nav.qc.records import Probe, Record, probe_from_row, probe_label
from probe_nav.qc.schema import MIGRATIONS, SCOPE, SEALED_TABLES, SELECT_RECORDS
from probe_nav.qc.schema import legacy_fields as _fields  # noqa: F401 (tests make v1 databases)
from probe_nav.storage import StoreError, user_data_dir
from probe_nav.storage.backend import Database, connect
from probe_nav.storage.chain import (
    GENESIS,
    StoredRecord,
    TamperedRecord,
    append,
    chain_problems,
    head_valid,
    ledger_problems,
    open_sealer,
    read_head,
    refusal,
    stored,
    upgrade_note,
)
from probe_nav.storage.urls import DatabaseUrl, database_url
from probe_nav.storage.writes import (
    check_op_id,
    find_applied,
    new_op_id,
    note_applied,
    row_id_of,
)

log = logging.getLogger(__name__)
DB_NAME = "qc.sqlite"
CALIBRATION = "calibration"
QC = "qc"
KINDS = (CALIBRATION, QC)
APPLICATION_ID = 0x504E5143  # 'PNQC': PRAGMA application_id of a QC database
NAMESPACE = "qc"  # the store's PostgreSQL schema (probe_nav.storage.pg)
VERIFY_COMMAND = "probe-nav qc verify"
CLOCK_SKEW = timedelta(minutes=5)
# Calibration values that can be physical (anything else is refused before it is stored):
MAX_CPS_PER_MBQ = 3e6  # every decay counted, ~3 photons per decay: no probe reaches it
MAX_DEAD_TIME_S = 0.01  # GM tubes are ~100-300 us, scintillation/CdTe counters ~1-10 us

__all__ = ["CALIBRATION", "KINDS", "QC", "Probe", "QcStore", "Record", "TamperedRecord",
           "default_db_path"]


def default_db_path() -> Path:
    """The QC database in the user's data directory (PROBE_NAV_DATA_DIR overrides)."""
    return user_data_dir() / DB_NAME


def _time_text(when: datetime) -> str:
    if when.tzinfo is None:
        raise ValueError("record times must carry a time zone")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and \
        math.isfinite(value)


def check_calibration(test: str, result: dict[str, Any]) -> None:
    """StoreError unless a calibration's values are physical: energy coefficients finite,
    sensitivity 0 < cps/MBq <= MAX_CPS_PER_MBQ with a finite sd, dead time 0 to MAX_DEAD_TIME_S,
    crosstalk a solvable spill matrix."""
    def bad(what: str, value: object, allowed: str) -> StoreError:
        return StoreError(f"{test} calibration: {what} {value!r} is outside the allowed range "
                          f"{allowed}; not stored")

    if test == "energy":
        coefficients = result.get("coefficients")
        if not (isinstance(coefficients, list | tuple) and len(coefficients) >= 2
                and all(_finite(c) for c in coefficients)):
            raise bad("coefficients", coefficients, "(two or more finite numbers)")
    elif test == "sensitivity":
        value = result.get("cps_per_mbq")
        if not (_finite(value) and 0 < value <= MAX_CPS_PER_MBQ):  # type: ignore[operator]
            raise bad("sensitivity", value, f"above 0 to {MAX_CPS_PER_MBQ:g} cps/MBq")
        sd = result.get("sd", 0.0)
        if not (_finite(sd) and sd >= 0):  # type: ignore[operator]
            raise bad("sensitivity sd", sd, "0 or more cps/MBq (finite)")
    elif test == "deadtime":
        value = result.get("dead_time_s")
        if not (_finite(value) and 0 <= value <= MAX_DEAD_TIME_S):  # type: ignore[operator]
            raise bad("dead time", value, f"0 to {MAX_DEAD_TIME_S:g} s")
    elif test == "crosstalk":  # a usable spill matrix (probe_nav.calibration.crosstalk)
        from probe_nav.qc.crosstalk import check_crosstalk

        check_crosstalk(result)


class QcStore:
    """The records database; open with `QcStore(path or URL)` or `QcStore.open_default()`."""

    def __init__(self, path: str | Path | DatabaseUrl) -> None:
        url = path if isinstance(path, DatabaseUrl) else database_url(path, default_db_path())
        self._conn: Database = connect(url, NAMESPACE, MIGRATIONS,
                                       application_id=APPLICATION_ID, kind="QC")
        self.path: Path | str = url.path if url.path is not None else self._conn.label
        try:
            self._sealer = open_sealer(self._conn, self._conn.key_base)
        except BaseException:
            self._conn.close()
            raise

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
        """The probe with this model and serial, registered on first use (its row sealed as
        record #0 of its chain)."""
        model, serial = model.strip(), serial.strip()
        if not model:
            raise StoreError("a probe needs a model name")

        def register(db: Database) -> Probe:
            found = self.find_probe(model, serial)
            if found is not None:
                self._anchor(found.id)
                return found
            probe_id = int(db.execute(
                "SELECT COALESCE(MAX(id), 0) + 1 FROM probes").fetchone()[0])
            if read_head(db, SCOPE, str(probe_id)) is not None:
                raise self._refuse(f"probe {probe_id}", [
                    f"probe {probe_id} was deleted outside probe-nav (its chain head remains)"])
            append(db, self._sealer, SCOPE, str(probe_id), "probes",
                   {"id": probe_id, "model": model, "serial": serial, "detector": detector,
                    "created_utc": _time_text(datetime.now(UTC))}, str(self.path))
            return Probe(probe_id, model, serial, detector)

        return self._conn.write(register)

    def find_probe(self, model: str, serial: str) -> Probe | None:
        """The probe if it is known, else None (nothing is registered)."""
        row = self._conn.execute("SELECT * FROM probes WHERE model = ? AND serial = ?",
                                 (model.strip(), serial.strip())).fetchone()
        return None if row is None else probe_from_row(row)

    def probes(self) -> list[Probe]:
        """Every known probe, by model and serial (each probe's own row verified)."""
        rows = self._conn.execute("SELECT * FROM probes ORDER BY model, serial").fetchall()
        for r in rows:
            self._anchor(int(r["id"]))
        return [probe_from_row(r) for r in rows]

    # ------------------------------------------------------------ records

    def add(self, probe: Probe, kind: str, test: str, result: dict[str, Any], *,
            operator: str, source: str, raw_data: str, passed: bool | None,
            when: datetime | None = None, op_id: str | None = None) -> Record:
        """Store a new record as the next of its probe's chain and return it as read back.
        StoreError for a time in the future or a calibration value that cannot be physical.
        op_id: the write's identity (probe_nav.storage.writes): a record already written under
        it is returned, not written again."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not operator.strip():
            raise StoreError("a record needs an operator (--operator NAME)")
        now = datetime.now(UTC)
        when = when or now
        if when.tzinfo is not None and when > now + CLOCK_SKEW:
            raise StoreError(f"record time {_time_text(when)} is in the future (allowed: up to "
                             f"{_time_text(now + CLOCK_SKEW)}); not stored")
        if kind == CALIBRATION:
            check_calibration(test, result)
        time_text = _time_text(when)
        result_json = json.dumps(result, sort_keys=True, allow_nan=True)
        flag = None if passed is None else int(bool(passed))
        op = check_op_id(op_id) if op_id is not None else new_op_id()

        def write(db: Database) -> int:
            prior = find_applied(db, op)
            if prior is not None:
                if (prior.tbl, prior.chain) != ("records", str(probe.id)):
                    raise StoreError(f"{self.path}: refused: write {op} was applied to another "
                                     f"record ({prior.tbl} of probe {prior.chain})")
                log.info("%s: write %s was applied before; not written again", self.path, op)
                return row_id_of(db, prior)
            self._anchor(probe.id)
            self._check_tail(probe.id)
            record_id, mac = append(
                db, self._sealer, SCOPE, str(probe.id), "records",
                {"probe_id": probe.id, "kind": kind, "test": test, "time_utc": time_text,
                 "operator": operator, "source": source, "raw_data": raw_data,
                 "passed": flag, "result_json": result_json, "checksum": ""},
                str(self.path))
            head = read_head(db, SCOPE, str(probe.id))
            assert head is not None
            note_applied(db, op, str(probe.id), head.seq, "records", mac)
            return record_id

        record_id = self._conn.write(write)
        log.info("%s: record %d (%s %s of %s) written", self.path, record_id, kind, test,
                 probe.label)
        return self.get(record_id)

    def get(self, record_id: int) -> Record:
        """One record by id, its probe's whole chain verified (TamperedRecord if it fails)."""
        row = self._conn.execute("SELECT probe_id FROM records WHERE id = ?",
                                 (record_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no record {record_id}")
        found = [r for r in self._verified_chain(row[0]) if r.id == record_id]
        if not found:
            raise StoreError(f"{self.path}: no record {record_id}")
        return found[0]

    def records(self, probe: Probe | None = None, kind: str | None = None,
                test: str | None = None) -> list[Record]:
        """Records oldest first, optionally of one probe, kind and test; every probe concerned
        verified whole (all of them, and the database's record count, without `probe`)."""
        if probe is not None:
            chains = [probe.id]
        else:
            problems = self._conn.read(lambda db: ledger_problems(
                db, self._sealer, SEALED_TABLES, str(self.path)))
            if problems:
                raise self._refuse("the records", problems)
            chains = sorted({int(r[0]) for r in self._conn.execute(
                "SELECT id FROM probes UNION SELECT probe_id FROM records")})
        out = [r for c in chains for r in self._verified_chain(c)
               if (kind is None or r.kind == kind) and (test is None or r.test == test)]
        return sorted(out, key=lambda r: (r.time_utc, r.id))

    def latest(self, probe: Probe, kind: str, test: str) -> Record | None:
        """The newest record of a kind and test for a probe (its chain verified), or None."""
        found = self.records(probe, kind, test)
        return found[-1] if found else None

    def verify(self) -> tuple[list[str], int, int]:
        """(problems, probes, records) of the whole database: every probe's chain and the
        database-wide record count, as of one snapshot; never raises for what it finds."""
        return self._conn.read(lambda _db: self._verify_now())

    def _verify_now(self) -> tuple[list[str], int, int]:
        chains = {int(r[0]) for r in self._conn.execute(
            "SELECT id FROM probes UNION SELECT probe_id FROM records")}
        chains |= {int(c) for (c,) in self._conn.execute(
            "SELECT chain FROM seal_heads WHERE scope = ?", (SCOPE,)) if str(c).isdigit()}
        problems: list[str] = []
        count = 0
        for probe_id in sorted(chains):
            listed, what = self._chain_records(probe_id)
            count += len(listed)
            problems += chain_problems(self._sealer, SCOPE, str(probe_id), what, listed,
                                       read_head(self._conn, SCOPE, str(probe_id)), "probes")
        problems += ledger_problems(self._conn, self._sealer, SEALED_TABLES, str(self.path))
        return problems, len(chains), count

    def upgrade_note(self) -> str | None:
        """When and how this database's records were re-sealed under its key, if it was made
        before keyed seals (None for a database made with them)."""
        return upgrade_note(self._conn)

    def verify_all(self) -> list[str]:
        """One message per problem in the database (empty when all is sound)."""
        return self.verify()[0]

    # ------------------------------------------------------------ verification

    def _chain_records(self, probe_id: int) -> tuple[list[StoredRecord], str]:
        """The sealed rows claiming to belong to the probe's chain, and the probe's name."""
        probe_rows = [dict(r) for r in self._conn.execute("SELECT * FROM probes WHERE id = ?",
                                                          (probe_id,))]
        label = (probe_label(probe_rows[0]) if probe_rows else f"probe {probe_id}")
        listed = [stored("probes", f"probe {probe_id} ({label}) (its own row)", r)
                  for r in probe_rows]
        listed += [stored("records", f"record {r['id']} ({r['kind']} {r['test']} of {label})",
                          dict(r))
                   for r in self._conn.execute("SELECT * FROM records WHERE probe_id = ? "
                                               "ORDER BY id", (probe_id,))]
        return listed, f"probe {label}"

    def _verified_chain(self, probe_id: int) -> list[Record]:
        """Every record of the probe, after checking its whole chain (TamperedRecord if not),
        read in one snapshot (another station may be writing)."""
        return self._conn.read(lambda _db: self._verified_chain_now(probe_id))

    def _verified_chain_now(self, probe_id: int) -> list[Record]:
        listed, what = self._chain_records(probe_id)
        problems = chain_problems(self._sealer, SCOPE, str(probe_id), what, listed,
                                  read_head(self._conn, SCOPE, str(probe_id)), "probes")
        if problems:
            raise self._refuse(what, problems)
        rows = self._conn.execute(SELECT_RECORDS + " WHERE r.probe_id = ? ORDER BY r.id",
                                  (probe_id,)).fetchall()
        return [self._record(row, what) for row in rows]

    def _anchor(self, probe_id: int) -> None:
        """Refuse (TamperedRecord) a probe whose own row fails its seal."""
        row = self._conn.execute("SELECT * FROM probes WHERE id = ?", (probe_id,)).fetchone()
        if row is None:
            raise StoreError(f"{self.path}: no probe {probe_id}")
        r = dict(row)
        record = stored("probes", f"probe {probe_id} ({probe_label(r)}) (its own row)", r)
        if not (self._sealer.valid(record, SCOPE, str(probe_id)) and record.seq == 0
                and record.prev_mac == GENESIS):
            raise self._refuse(f"probe {probe_label(r)}", [
                f"{record.label} fails its checksum (changed outside probe-nav)"])

    def _check_tail(self, probe_id: int) -> None:
        """Refuse to extend a chain whose head fails or names a record that is not there."""
        head = read_head(self._conn, SCOPE, str(probe_id))
        what = f"probe {probe_id}"
        if head is None:
            raise self._refuse(what, [f"{what}: its chain head is missing (deleted outside "
                                      "probe-nav)"])
        if not head_valid(self._sealer, SCOPE, str(probe_id), head):
            raise self._refuse(what, [f"{what}: its chain head fails its checksum"])
        if not any(self._conn.execute(f"SELECT 1 FROM {t} WHERE mac = ? AND seq = ?",
                                      (head.last_mac, head.seq)).fetchone()
                   for t in SEALED_TABLES):
            raise self._refuse(what, [f"{what}: its last record #{head.seq} is missing "
                                      "(deleted outside probe-nav)"])

    def _refuse(self, what: str, problems: list[str]) -> TamperedRecord:
        """Log a refused probe (the caller shows the raised error, so not on stderr again)."""
        message = refusal(str(self.path), what, problems, VERIFY_COMMAND)
        log.warning("%s", message, extra=REPORTED)
        return TamperedRecord(message)

    def _record(self, row: Any, what: str) -> Record:
        probe = Probe(row["probe_id"], row["p_model"], row["p_serial"], row["p_detector"])
        try:
            result = json.loads(row["result_json"])
            when = datetime.fromisoformat(row["time_utc"])
        except ValueError:
            raise self._refuse(what, [f"record {row['id']} is unreadable"]) from None
        return Record(row["id"], probe, row["kind"], row["test"], when, row["operator"],
                      row["source"], row["raw_data"],
                      None if row["passed"] is None else bool(row["passed"]), result,
                      row["mac"])

