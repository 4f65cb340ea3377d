"""Schema of the case database, version by version. Earlier versions stay here verbatim so that
migrations are tested from every one of them (tests/cases/test_migrations.py).

v1: cases and measurements.
v2: operator; measurement real_s, background sd, significance, completeness and a SHA-256 checksum
    of every case and measurement row (backfilled); case notes (decisions taken); sessions.
v3: keyed, chained seals (probe_nav.storage.chain): every case, measurement, note and session row
    gets seq, prev_mac and mac (HMAC-SHA256 under the key in <database>.key), one chain per case
    (the case row is #0) plus one for sessions without a case; the unkeyed checksums are
    verified first (a database that fails them is not upgraded) and then blanked.
    A later migration that adds a column must re-seal (a MAC covers every column).
v4: retention points (dosimetry after radionuclide therapy: fixed-geometry counts at times after
    the case's administration), a new table sealed in the case's chain like measurements and
    notes; no existing row changes, so nothing is re-sealed.
v5: DICOM identifiers of a case (case_identifiers: patient id, accession number, study instance
    UID...; the latest row counts; no patient name is ever kept), a new table sealed in the
    case's chain like v4's; nothing is re-sealed.
v6: applied_writes: the console and identity (op_id) of every write, so that a write sent
    again after a lost answer is not doubled (probe_nav.storage.writes); outbox: a console's
    writes waiting for the department server (probe_nav.storage.outbox); case_sends: the sealed
    audit of every DICOM send of a case (probe_nav.cases.sends).
"""

from __future__ import annotations

import math

from probe_nav.cases.sends import SENDS_SQL
from probe_nav.storage import StoreError, record_checksum
from probe_nav.storage.backend import as_database
from probe_nav.storage.chain import Conn, install, record_upgrade, reseal
from probe_nav.storage.outbox import create_outbox
from probe_nav.storage.writes import create_applied_writes

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


def _script(conn: Conn, sql: str) -> None:
    # executescript() would COMMIT the migration's transaction: run statement by statement
    # (types translated for PostgreSQL by storage.backend.ddl_for).
    as_database(conn).script(sql)


def migrate_v1(conn: Conn) -> None:
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


def migrate_v2(conn: Conn) -> None:
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


def legacy_note_checksum(row: dict[str, object]) -> str:
    """The v2 (unkeyed) checksum of a case note row."""
    return record_checksum({"case_id": row["case_id"], "t_unix_s": row["t_unix_s"],
                            "text": row["text"]})


SCOPE = "case"  # the chain scope of case records; sessions without a case are chain ''
V3_SEALED_TABLES = ("cases", "measurements", "case_notes", "sessions")  # as v3 sealed them
_TIME_COLUMN = {"measurements": "measured_unix_s", "case_notes": "t_unix_s",
                "sessions": "started_unix_s"}


def _legacy_problems(conn: Conn) -> list[str]:
    """Rows of a v2 database that fail their unkeyed checksum."""
    checks = (("cases", "case", "case_id", case_checksum),
              ("measurements", "measurement", "id", measurement_checksum),
              ("case_notes", "note", "id", legacy_note_checksum))
    problems = []
    for table, label, key, checksum in checks:
        for row in conn.execute(f"SELECT * FROM {table} ORDER BY {as_database(conn).rowid}"
                                ).fetchall():
            r = dict(row)
            if checksum(r) != r.get("checksum"):
                problems.append(f"{label} {r[key]} of case {r['case_id']!r} fails its checksum")
    return problems


def chain_order(conn: Conn, case_id: str | None) -> list[tuple[str, int]]:
    """(table, rowid) of a case's records in the order they are chained when upgrading: the
    case row, then measurements, notes and sessions by their time (table, then id, on ties).
    (Only a SQLite file has records to upgrade: a PostgreSQL store is made at the current
    version, its tables empty, so this finds nothing there.)"""
    where = "case_id IS ?"
    rowid = as_database(conn).rowid
    anchor = ([("cases", int(r[0])) for r in conn.execute(
        f"SELECT {rowid} FROM cases WHERE case_id = ?", (case_id,))]
        if case_id is not None else [])
    rest = []
    for order, (table, column) in enumerate(_TIME_COLUMN.items()):
        for r in conn.execute(f"SELECT {rowid}, {column} FROM {table} WHERE {where}",
                              (case_id,)):
            rest.append((float(r[1]), order, int(r[0]), table))
    return anchor + [(table, rowid) for _, _, rowid, table in sorted(rest)]


def migrate_v3(conn: Conn) -> None:
    """Version 3: see the module docstring. Refuses (StoreError; the transaction rolls back and
    the file stays as it was) when any row already fails its v2 checksum."""
    path = as_database(conn).label
    problems = _legacy_problems(conn)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise StoreError(f"{path}: not upgraded to keyed checksums: {problems[0]}{more}; the "
                         "file is unchanged (restore it from a backup)")
    sealer = install(conn)
    for table in V3_SEALED_TABLES:
        _script(conn, f"""ALTER TABLE {table} ADD COLUMN seq INTEGER;
            ALTER TABLE {table} ADD COLUMN prev_mac TEXT NOT NULL DEFAULT '';
            ALTER TABLE {table} ADD COLUMN mac TEXT NOT NULL DEFAULT ''""")
    conn.execute("CREATE INDEX case_notes_by_case ON case_notes(case_id)")
    conn.execute("CREATE INDEX sessions_by_case ON sessions(case_id)")
    for table in ("cases", "measurements", "case_notes"):
        conn.execute(f"UPDATE {table} SET checksum = ''")
    case_ids = [str(r[0]) for r in conn.execute(
        "SELECT case_id FROM cases ORDER BY created_unix_s, case_id")]
    for case_id in case_ids:
        reseal(conn, sealer, SCOPE, case_id, chain_order(conn, case_id), str(path))
    caseless = chain_order(conn, None)
    if caseless:
        reseal(conn, sealer, SCOPE, "", caseless, str(path))
    resealed = sum(int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0])
                   for t in V3_SEALED_TABLES)
    if resealed:  # an existing database, not a new one: say so, in it and in the log
        record_upgrade(conn, resealed, "unkeyed SHA-256 (schema v2)")


KEYED_SEALS_VERSION = 3  # from this version on every row carries a keyed seal

V4_SQL = """
CREATE TABLE retention_points (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(case_id),
    measured_unix_s REAL NOT NULL,
    time_h REAL NOT NULL,
    counts INTEGER NOT NULL,
    live_s REAL NOT NULL,
    background_cps REAL NOT NULL,
    background_sd_cps REAL NOT NULL,
    geometry TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '',
    recorded_unix_s REAL NOT NULL,
    seq INTEGER,
    prev_mac TEXT NOT NULL DEFAULT '',
    mac TEXT NOT NULL DEFAULT ''
);
CREATE INDEX retention_points_by_case ON retention_points(case_id, measured_unix_s)
"""
RETENTION_COLUMNS = ("case_id", "measured_unix_s", "time_h", "counts", "live_s",
                     "background_cps", "background_sd_cps", "geometry", "operator",
                     "recorded_unix_s")


def migrate_v4(conn: Conn) -> None:
    """Version 4: the retention_points table (see the module docstring)."""
    _script(conn, V4_SQL)


V5_SQL = """
CREATE TABLE case_identifiers (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(case_id),
    patient_id TEXT NOT NULL,
    issuer_of_patient_id TEXT NOT NULL DEFAULT '',
    accession_number TEXT NOT NULL DEFAULT '',
    study_instance_uid TEXT NOT NULL,
    requested_procedure_id TEXT NOT NULL DEFAULT '',
    scheduled_procedure_step_id TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '',
    entered_unix_s REAL NOT NULL,
    seq INTEGER,
    prev_mac TEXT NOT NULL DEFAULT '',
    mac TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_identifiers_by_case ON case_identifiers(case_id, entered_unix_s)
"""
IDENTIFIER_COLUMNS = ("case_id", "patient_id", "issuer_of_patient_id", "accession_number",
                      "study_instance_uid", "requested_procedure_id",
                      "scheduled_procedure_step_id", "source", "operator", "entered_unix_s")


def migrate_v5(conn: Conn) -> None:
    """Version 5: the case_identifiers table (see the module docstring)."""
    _script(conn, V5_SQL)


def migrate_v6(conn: Conn) -> None:
    """Version 6: applied_writes, the console and identity of every write from now on
    (probe_nav.storage.writes; not sealed: the records' own seals are unchanged), the outbox,
    and case_sends."""
    create_applied_writes(conn)
    create_outbox(conn)
    _script(conn, SENDS_SQL)


SEALED_TABLES = (*V3_SEALED_TABLES, "retention_points", "case_identifiers", "case_sends")
MIGRATIONS = (migrate_v1, migrate_v2, migrate_v3, migrate_v4, migrate_v5, migrate_v6)
SCHEMA_VERSION = len(MIGRATIONS)
