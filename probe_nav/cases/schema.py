"""Schema of the case database, version by version. Earlier versions stay here verbatim so that
migrations are tested from every one of them (tests/cases/test_migrations.py).

v1: cases and measurements.
v2: operator; measurement real_s, background sd, significance, completeness and a SHA-256 checksum
    of every case and measurement row (backfilled); case notes (decisions taken); sessions.
"""

from __future__ import annotations

import math
import sqlite3

from probe_nav.storage import record_checksum

V1_SQL = """
CREATE TABLE cases (
    case_id TEXT PRIMARY KEY,
    procedure TEXT NOT NULL,
    nuclide TEXT NOT NULL,
    created_unix_s REAL NOT NULL,
    injected_activity_mbq REAL,
    injection_unix_s REAL,
    probe TEXT NOT NULL DEFAULT '',
    calibration TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT ''
);
CREATE TABLE measurements (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(case_id),
    node TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('in_vivo', 'ex_vivo', 'bed', 'background')),
    measured_unix_s REAL NOT NULL,
    counts INTEGER NOT NULL,
    live_s REAL NOT NULL,
    rate_cps REAL NOT NULL,
    rate_sd_cps REAL NOT NULL,
    background_cps REAL NOT NULL,
    net_cps REAL NOT NULL,
    net_sd_cps REAL NOT NULL,
    decay_factor REAL NOT NULL,
    note TEXT NOT NULL DEFAULT ''
);
CREATE INDEX measurements_by_case ON measurements(case_id, measured_unix_s);
"""

V2_SQL = """
ALTER TABLE cases ADD COLUMN operator TEXT NOT NULL DEFAULT '';
ALTER TABLE cases ADD COLUMN checksum TEXT NOT NULL DEFAULT '';
ALTER TABLE measurements ADD COLUMN real_s REAL;
ALTER TABLE measurements ADD COLUMN background_sd_cps REAL NOT NULL DEFAULT -1;
ALTER TABLE measurements ADD COLUMN significant INTEGER NOT NULL DEFAULT 0;
ALTER TABLE measurements ADD COLUMN complete INTEGER NOT NULL DEFAULT 1;
ALTER TABLE measurements ADD COLUMN checksum TEXT NOT NULL DEFAULT '';
CREATE TABLE case_notes (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(case_id),
    t_unix_s REAL NOT NULL,
    text TEXT NOT NULL,
    checksum TEXT NOT NULL
);
CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    case_id TEXT REFERENCES cases(case_id),
    started_unix_s REAL NOT NULL,
    directory TEXT NOT NULL
);
"""

CASE_COLUMNS = ("case_id", "procedure", "nuclide", "created_unix_s", "injected_activity_mbq",
                "injection_unix_s", "probe", "calibration", "operator", "notes")
MEASUREMENT_COLUMNS = ("case_id", "node", "kind", "measured_unix_s", "counts", "live_s", "real_s",
                       "rate_cps", "rate_sd_cps", "background_cps", "background_sd_cps",
                       "net_cps", "net_sd_cps", "significant", "complete", "decay_factor", "note")


def _script(conn: sqlite3.Connection, sql: str) -> None:
    # executescript() would COMMIT the migration's transaction: run statement by statement.
    for statement in sql.split(";"):
        if statement.strip():
            conn.execute(statement)


def migrate_v1(conn: sqlite3.Connection) -> None:
    """Version 1: cases and measurements."""
    _script(conn, V1_SQL)


def case_checksum(row: dict[str, object]) -> str:
    """Checksum of a case row's fields (CASE_COLUMNS)."""
    return record_checksum({k: row[k] for k in CASE_COLUMNS})


def measurement_checksum(row: dict[str, object]) -> str:
    """Checksum of a measurement row's fields (MEASUREMENT_COLUMNS, booleans as bool)."""
    fields = {k: row[k] for k in MEASUREMENT_COLUMNS}
    fields["significant"], fields["complete"] = bool(row["significant"]), bool(row["complete"])
    return record_checksum(fields)


def migrate_v2(conn: sqlite3.Connection) -> None:
    """Version 2: see the module docstring; v1 rows get real_s = live_s, their significance from
    Currie's decision level on the stored background (sd unknown: -1) and checksums."""
    _script(conn, V2_SQL)
    conn.execute("UPDATE measurements SET real_s = live_s WHERE real_s IS NULL")
    for row in conn.execute("SELECT * FROM measurements").fetchall():
        r = dict(row)
        b_counts = r["background_cps"] * r["live_s"]
        r["significant"] = int(r["counts"] - b_counts > 1.645 * math.sqrt(max(b_counts, 0.0)))
        conn.execute("UPDATE measurements SET significant = ?, checksum = ? WHERE id = ?",
                     (r["significant"], measurement_checksum(r), r["id"]))
    for row in conn.execute("SELECT * FROM cases").fetchall():
        conn.execute("UPDATE cases SET checksum = ? WHERE case_id = ?",
                     (case_checksum(dict(row)), row["case_id"]))


MIGRATIONS = (migrate_v1, migrate_v2)
SCHEMA_VERSION = len(MIGRATIONS)
