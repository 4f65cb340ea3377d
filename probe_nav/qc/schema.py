"""The QC database's tables and migrations (v1: unkeyed SHA-256 checksums; v2: keyed, chained
seals), kept apart from the store as the case database's are (probe_nav.cases.schema)."""

from __future__ import annotations

from typing import Any

from probe_nav.qc.records import Probe
from probe_nav.storage import StoreError, record_checksum
from probe_nav.storage.backend import as_database
from probe_nav.storage.chain import Conn, install, record_upgrade, reseal
from probe_nav.storage.writes import create_applied_writes

SCOPE = "probe"
SEALED_TABLES = ("probes", "records")
SELECT_RECORDS = ("SELECT r.*, p.model AS p_model, p.serial AS p_serial, "
                  "p.detector AS p_detector FROM records r JOIN probes p ON p.id = r.probe_id")


def _create_tables(conn: Conn) -> None:
    db = as_database(conn)  # db.script: SQLite's types translated for PostgreSQL
    db.script("""CREATE TABLE probes (
        id INTEGER PRIMARY KEY, model TEXT NOT NULL, serial TEXT NOT NULL,
        detector TEXT NOT NULL DEFAULT '', created_utc TEXT NOT NULL,
        UNIQUE (model, serial))""")
    db.script("""CREATE TABLE records (
        id INTEGER PRIMARY KEY, probe_id INTEGER NOT NULL REFERENCES probes(id),
        kind TEXT NOT NULL CHECK (kind IN ('calibration', 'qc')), test TEXT NOT NULL,
        time_utc TEXT NOT NULL, operator TEXT NOT NULL, source TEXT NOT NULL,
        raw_data TEXT NOT NULL, passed INTEGER, result_json TEXT NOT NULL,
        checksum TEXT NOT NULL)""")
    db.script("CREATE INDEX records_by_probe ON records (probe_id, kind, test, time_utc)")


def legacy_fields(record_id: int, probe: Probe, kind: str, test: str, time_utc: str,
                  operator: str, source: str, raw_data: str, passed: int | None,
                  result_json: str) -> dict[str, Any]:
    """What the version-1 checksum covered: every column and the probe's model and serial."""
    return {"id": record_id, "model": probe.model, "serial": probe.serial, "kind": kind,
            "test": test, "time_utc": time_utc, "operator": operator, "source": source,
            "raw_data": raw_data, "passed": passed, "result_json": result_json}


def _legacy_problems(conn: Conn) -> list[str]:
    """Records of a version-1 database failing their unkeyed SHA-256 checksum."""
    problems = []
    for row in conn.execute(SELECT_RECORDS + " ORDER BY r.id").fetchall():
        probe = Probe(row["probe_id"], row["p_model"], row["p_serial"], row["p_detector"])
        fields = legacy_fields(row["id"], probe, row["kind"], row["test"], row["time_utc"],
                               row["operator"], row["source"], row["raw_data"], row["passed"],
                               row["result_json"])
        if record_checksum(fields) != row["checksum"]:
            problems.append(f"record {row['id']} ({row['kind']} {row['test']} of "
                            f"{probe.label}) fails its checksum")
    return problems


def _seal(conn: Conn) -> None:
    """Version 2: keyed, chained seals. The unkeyed checksums are verified first (a database
    that fails them is refused and left as it was), then blanked; each probe's chain is its own
    row followed by its records in the order they were written (by id)."""
    db = as_database(conn)
    path = db.label
    tables = db.table_names()
    if not {"probes", "records"} <= tables:
        raise StoreError(f"{path}: not a probe-nav QC database")
    problems = _legacy_problems(conn)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise StoreError(f"{path}: not upgraded to keyed checksums: {problems[0]}{more}; the "
                         "file is unchanged (restore it from a backup)")
    sealer = install(conn)
    for table in SEALED_TABLES:
        db.script(f"""ALTER TABLE {table} ADD COLUMN seq INTEGER;
            ALTER TABLE {table} ADD COLUMN prev_mac TEXT NOT NULL DEFAULT '';
            ALTER TABLE {table} ADD COLUMN mac TEXT NOT NULL DEFAULT ''""")
    conn.execute("UPDATE records SET checksum = ''")
    for (probe_id,) in conn.execute("SELECT id FROM probes ORDER BY id").fetchall():
        rows = [("probes", int(probe_id))] + [("records", int(r[0])) for r in conn.execute(
            "SELECT id FROM records WHERE probe_id = ? ORDER BY id", (probe_id,))]
        reseal(conn, sealer, SCOPE, str(probe_id), rows, str(path))
    resealed = sum(int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                   for t in SEALED_TABLES)
    if resealed:  # an existing database, not a new one: say so, in it and in the log
        record_upgrade(conn, resealed, "unkeyed SHA-256 (schema v1)")


MIGRATIONS = (_create_tables, _seal, create_applied_writes)  # v3: probe_nav.storage.writes
