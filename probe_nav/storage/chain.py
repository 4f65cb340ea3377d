"""Keyed, chained seals on stored records: tamper evidence that a recomputed checksum, a deleted,
duplicated, reordered or moved row cannot pass.

Every record belongs to a chain (a case, or a probe's calibration history) and carries
  seq       its place in the chain (0, 1, 2, ...; 0 is the chain's anchor: the case, the probe),
  prev_mac  the MAC of the record before it ('' for seq 0),
  mac       HMAC-SHA256, under the database's key (probe_nav.storage.keys), of the canonical JSON
            of: scope, chain, table, seq, prev_mac and every other column of the row (its id too).
A head per chain (table seal_heads: last seq and last MAC, itself MAC'd) catches records deleted
from the end, and a ledger head (scope 'ledger') counts every record in the database, which
catches a whole chain deleted with its head. seal_meta holds a MAC of a fixed text, so a key
that belongs to another database is told apart from tampering.

Without the key nobody can make a MAC that verifies; anyone who can read the key file can. The key
is therefore evidence against edits of the database file alone (a database tool, a copied or
restored file, a faulty sync), not against someone with the user's account.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from probe_nav.storage.backend import Database, Row, as_database
from probe_nav.storage.keys import ensure_key, key_path, read_key
from probe_nav.storage.sqlite import StoreError, canonical_json
from probe_nav.storage.urls import Dialect

log = logging.getLogger(__name__)
Conn = sqlite3.Connection | Database  # a raw SQLite connection (its migrations) or any store
PRIMARY_KEYS = {"cases": "case_id"}  # sealed tables keyed otherwise than by `id` (PostgreSQL)

GENESIS = ""  # prev_mac of a chain's first record
LEDGER_SCOPE = "ledger"
SCHEME = "hmac-sha256-chain-v1"
SEAL_COLUMNS = frozenset({"seq", "prev_mac", "mac"})  # all other columns are sealed
_KEY_CHECK_TEXT = b"probe-nav database key check v1"

SEAL_TABLES_SQL = (
    """CREATE TABLE seal_heads (scope TEXT NOT NULL, chain TEXT NOT NULL, seq INTEGER NOT NULL,
       last_mac TEXT NOT NULL, mac TEXT NOT NULL, PRIMARY KEY (scope, chain))""",
    "CREATE TABLE seal_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
)


class TamperedRecord(StoreError):
    """A record (or chain) that fails its seal: refused, never used."""


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One sealed row as read, with a label for messages, e.g. "measurement 7 (node 'SLN 2')"."""

    table: str
    label: str
    seq: int | None
    prev_mac: str
    mac: str
    fields: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Head:
    """The last record of a chain as sealed: its seq and MAC, and the head's own MAC."""

    seq: int
    last_mac: str
    mac: str


class Sealer:
    """Makes the MACs of one database's records with its key."""

    def __init__(self, key: bytes) -> None:
        self._key = bytes(key)

    def _mac(self, kind: str, payload: Mapping[str, object]) -> str:
        text = f"probe-nav {kind} v1\n{canonical_json(payload)}".encode()
        return hmac.new(self._key, text, hashlib.sha256).hexdigest()

    def mac(self, scope: str, chain: str, table: str, seq: int, prev_mac: str,
            fields: Mapping[str, object]) -> str:
        """The MAC of a record: its place in its chain and every field."""
        return self._mac("record", {"scope": scope, "chain": chain, "table": table, "seq": seq,
                                    "prev": prev_mac, "fields": dict(fields)})

    def head_mac(self, scope: str, chain: str, seq: int, last_mac: str) -> str:
        """The MAC of a chain head."""
        return self._mac("head", {"scope": scope, "chain": chain, "seq": seq, "last": last_mac})

    def key_check(self) -> str:
        """A MAC of a fixed text: tells whether a key file belongs to this database."""
        return hmac.new(self._key, _KEY_CHECK_TEXT, hashlib.sha256).hexdigest()

    def valid(self, record: StoredRecord, scope: str, chain: str) -> bool:
        """The record's MAC verifies (constant-time comparison)."""
        if record.seq is None:
            return False
        expected = self.mac(scope, chain, record.table, record.seq, record.prev_mac,
                            record.fields)
        return hmac.compare_digest(expected, record.mac)


def seal_fields(row: Mapping[str, object]) -> dict[str, object]:
    """The columns a MAC covers: all but the seal's own (and helper columns starting with _)."""
    return {k: v for k, v in row.items() if k not in SEAL_COLUMNS and not k.startswith("_")}


def stored(table: str, label: str, row: Mapping[str, object]) -> StoredRecord:
    """A StoredRecord from a row read with `SELECT *` (seq/prev_mac/mac of the wrong type are
    kept as failing values, never trusted)."""
    seq = row.get("seq")
    return StoredRecord(table, label, seq if isinstance(seq, int) else None,
                        str(row.get("prev_mac") or ""), str(row.get("mac") or ""),
                        seal_fields(row))


# ---- the database's key and heads ----------------------------------------------------------

def database_path(conn: Conn) -> Path:
    """Where the database's key is kept (storage.keys.key_path of it): a SQLite store's own
    file (a migration finds the key file beside it), a PostgreSQL store's name in the key
    directory."""
    return as_database(conn).key_base


def install(conn: Conn) -> Sealer:
    """In a migration: make the seal tables and the key (if the database has none), record the
    key check; returns the Sealer for sealing the existing records."""
    sealer = Sealer(ensure_key(database_path(conn)))
    for sql in SEAL_TABLES_SQL:
        conn.execute(sql)
    for name, value in (("key_check", sealer.key_check()), ("scheme", SCHEME)):
        conn.execute("INSERT INTO seal_meta (name, value) VALUES (?, ?)", (name, value))
    _set_head(conn, sealer, LEDGER_SCOPE, "", 0, GENESIS)  # no record written yet
    return sealer


def record_upgrade(conn: Conn, records: int, from_scheme: str) -> str:
    """In a migration, after reseal: note in seal_meta (and the log) that the database's
    existing records were verified under their old checksums and re-sealed under its new key,
    when and how many; returns the note (shown by `verify`)."""
    when = datetime.now(UTC).isoformat(timespec="seconds")
    note = (f"{records} record(s) verified under {from_scheme} checksums and re-sealed with "
            f"keyed seals ({SCHEME}) on {when}")
    conn.execute("INSERT INTO seal_meta (name, value) VALUES ('upgraded', ?)", (note,))
    log.warning("%s: %s; its key is %s: keep the two files together",
                database_path(conn), note, key_path(database_path(conn)))
    return note


def upgrade_note(conn: Conn) -> str | None:
    """The note `record_upgrade` left, if this database was upgraded to keyed seals."""
    try:
        row = conn.execute("SELECT value FROM seal_meta WHERE name = 'upgraded'").fetchone()
    except as_database(conn).database_errors:
        return None
    return None if row is None else str(row[0])


def open_sealer(conn: Conn, db_path: Path) -> Sealer:
    """The Sealer of an opened database: its key file read and checked against the database."""
    sealer = Sealer(read_key(db_path))
    try:
        row = conn.execute("SELECT value FROM seal_meta WHERE name = 'key_check'").fetchone()
    except as_database(conn).database_errors as exc:
        raise StoreError(f"{db_path}: cannot read the seal table ({exc})") from None
    if row is None:
        raise TamperedRecord(f"{db_path}: the database's key check is missing (changed outside "
                             "probe-nav); its records cannot be trusted")
    if not hmac.compare_digest(str(row[0]), sealer.key_check()):
        raise TamperedRecord(
            f"{db_path}: the key file {key_path(db_path)} does not belong to this database "
            "(its key check fails): the key was replaced, or the database was copied without "
            "its own key")
    return sealer


def read_head(conn: Conn, scope: str, chain: str) -> Head | None:
    """The chain's head as stored (not verified), or None."""
    row = conn.execute("SELECT seq, last_mac, mac FROM seal_heads WHERE scope = ? AND chain = ?",
                       (scope, chain)).fetchone()
    if row is None:
        return None
    seq = row[0]
    return Head(seq if isinstance(seq, int) else -2, str(row[1]), str(row[2]))


def head_valid(sealer: Sealer, scope: str, chain: str, head: Head) -> bool:
    """The head's MAC verifies."""
    return hmac.compare_digest(sealer.head_mac(scope, chain, head.seq, head.last_mac), head.mac)


def chain_names(conn: Conn, scope: str) -> set[str]:
    """Every chain of a scope that has a head."""
    return {str(r[0]) for r in conn.execute("SELECT chain FROM seal_heads WHERE scope = ?",
                                            (scope,))}


def _set_head(conn: Conn, sealer: Sealer, scope: str, chain: str, seq: int,
              last_mac: str) -> None:
    conn.execute("INSERT INTO seal_heads (scope, chain, seq, last_mac, mac) VALUES (?,?,?,?,?) "
                 "ON CONFLICT (scope, chain) DO UPDATE SET seq = excluded.seq, "
                 "last_mac = excluded.last_mac, mac = excluded.mac",
                 (scope, chain, seq, last_mac, sealer.head_mac(scope, chain, seq, last_mac)))


def _advance_ledger(conn: Conn, sealer: Sealer, mac: str, db_label: str) -> None:
    """Count one more record in the ledger (refusing to overwrite a ledger that fails)."""
    head = read_head(conn, LEDGER_SCOPE, "")
    if head is not None and not head_valid(sealer, LEDGER_SCOPE, "", head):
        raise TamperedRecord(f"{db_label}: the record ledger fails its checksum (changed outside "
                             "probe-nav); nothing is written until `verify` is clean")
    _set_head(conn, sealer, LEDGER_SCOPE, "", (head.seq if head else 0) + 1, mac)


def append(conn: Conn, sealer: Sealer, scope: str, chain: str, table: str,
           values: Mapping[str, object], db_label: str) -> tuple[int, str]:
    """Insert a row into `table` as the next record of the chain, inside the caller's write
    transaction; returns (rowid, mac) (rowid: SQLite's rowid; on PostgreSQL the row's integer
    id, 0 for a table keyed by text). The MAC is made from the row as read back, so it covers
    the id and exactly the values (types included) every later read will see."""
    head = read_head(conn, scope, chain)
    if head is not None and not head_valid(sealer, scope, chain, head):
        raise TamperedRecord(f"{db_label}: the chain head of {scope} {chain!r} fails its "
                             "checksum; nothing is added to it")
    seq, prev = (0, GENESIS) if head is None else (head.seq + 1, head.last_mac)
    db = as_database(conn)
    key = "rowid" if db.dialect is Dialect.SQLITE else PRIMARY_KEYS.get(table, "id")
    new_key = db.insert(table, {**values, "seq": seq, "prev_mac": prev, "mac": ""}, key)
    row = db.execute(f"SELECT * FROM {table} WHERE {key} = ?", (new_key,)).fetchone()
    mac = sealer.mac(scope, chain, table, seq, prev, seal_fields(_as_dict(row)))
    db.execute(f"UPDATE {table} SET mac = ? WHERE {key} = ?", (mac, new_key))
    rowid = new_key if isinstance(new_key, int) else 0
    _set_head(conn, sealer, scope, chain, seq, mac)
    _advance_ledger(conn, sealer, mac, db_label)
    return rowid, mac


def reseal(conn: Conn, sealer: Sealer, scope: str, chain: str,
           rows: Iterable[tuple[str, object]], db_label: str) -> None:
    """In a migration: seal existing rows (table, rowid), in this order, as one chain."""
    seq, prev = 0, GENESIS
    rowid_column = as_database(conn).rowid
    for table, rowid in rows:
        row = conn.execute(f"SELECT * FROM {table} WHERE {rowid_column} = ?",
                           (rowid,)).fetchone()
        mac = sealer.mac(scope, chain, table, seq, prev, seal_fields(_as_dict(row)))
        conn.execute(f"UPDATE {table} SET seq = ?, prev_mac = ?, mac = ? "
                     f"WHERE {rowid_column} = ?", (seq, prev, mac, rowid))
        _set_head(conn, sealer, scope, chain, seq, mac)
        _advance_ledger(conn, sealer, mac, db_label)
        seq, prev = seq + 1, mac


def _as_dict(row: object) -> dict[str, object]:
    if isinstance(row, sqlite3.Row | Row):
        return dict(zip(row.keys(), tuple(row), strict=True))
    raise StoreError("a sealed row vanished while it was written")


# ---- verification --------------------------------------------------------------------------

def chain_problems(sealer: Sealer, scope: str, chain: str, what: str,
                   records: Sequence[StoredRecord], head: Head | None,
                   anchor_table: str | None = None) -> list[str]:
    """Every problem of one chain, one line each (empty when sound): a record whose MAC fails,
    a missing, duplicated or out-of-place record, an anchor that is not record #0, a missing or
    failing head, records cut from the end."""
    problems = [f"{r.label} fails its checksum (changed or moved outside probe-nav, or sealed "
                "with another key)"
                for r in records if not sealer.valid(r, scope, chain)]
    by_seq: dict[int, list[StoredRecord]] = defaultdict(list)
    for r in records:
        if r.seq is not None:
            by_seq[r.seq].append(r)
    top = max(by_seq, default=-1)
    if head is None:
        problems.append(f"{what}: its chain head is missing (deleted, or its records were "
                        "written outside probe-nav)")
    elif not head_valid(sealer, scope, chain, head):
        problems.append(f"{what}: its chain head fails its checksum (changed outside "
                        "probe-nav)")
    else:
        if head.seq > top:
            problems.append(f"{what}: the last {head.seq - top} record(s) are missing "
                            f"(#{top + 1} to #{head.seq} deleted outside probe-nav)")
        elif head.seq < top:
            problems.append(f"{what}: record(s) #{head.seq + 1} to #{top} are not in its chain "
                            "head (added outside probe-nav)")
        last = by_seq.get(head.seq, [])
        if len(last) == 1 and not hmac.compare_digest(last[0].mac, head.last_mac):
            problems.append(f"{what}: its last record #{head.seq} is not the one written last "
                            "(replaced outside probe-nav)")
    problems += _sequence_problems(what, by_seq, min(top, head.seq) if head else top,
                                   anchor_table)
    return problems


def _sequence_problems(what: str, by_seq: Mapping[int, Sequence[StoredRecord]], top: int,
                       anchor_table: str | None) -> list[str]:
    problems = []
    for seq in range(top + 1):
        here = by_seq.get(seq, [])
        if not here:
            problems.append(f"{what}: record #{seq} is missing (deleted outside probe-nav)")
            continue
        if len(here) > 1:
            problems.append(f"{what}: record #{seq} appears {len(here)} times ("
                            f"{', '.join(r.label for r in here)}): duplicated outside probe-nav")
            continue
        record = here[0]
        if seq == 0:
            if anchor_table is not None and record.table != anchor_table:
                problems.append(f"{what}: its first record is {record.label}, not the "
                                f"{anchor_table} row itself")
            if record.prev_mac != GENESIS:
                problems.append(f"{record.label} claims to follow a record, but is #0")
            continue
        before = by_seq.get(seq - 1, [])
        if len(before) == 1 and not hmac.compare_digest(record.prev_mac, before[0].mac):
            problems.append(f"{record.label} is out of place: it does not follow "
                            f"{before[0].label} (reordered, or moved from another chain)")
    for seq in sorted(s for s in by_seq if s < 0):
        problems.append(f"{what}: {by_seq[seq][0].label} has an impossible place #{seq}")
    return problems


def ledger_problems(conn: Conn, sealer: Sealer, tables: Sequence[str],
                    db_label: str) -> list[str]:
    """Problems of the database-wide record count: a chain deleted whole (with its head), or
    records added outside probe-nav."""
    head = read_head(conn, LEDGER_SCOPE, "")
    counted = sum(int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)
    if head is None:
        return [f"{db_label}: the record ledger is missing (deleted outside probe-nav)"]
    if not head_valid(sealer, LEDGER_SCOPE, "", head):
        return [f"{db_label}: the record ledger fails its checksum (changed outside probe-nav)"]
    problems = []
    if counted < head.seq:
        problems.append(f"{db_label}: {head.seq - counted} record(s) are missing from the "
                        f"database ({counted} found, {head.seq} written): deleted outside "
                        "probe-nav, e.g. a whole case or probe with its chain")
    elif counted > head.seq:
        problems.append(f"{db_label}: {counted - head.seq} record(s) more than were written "
                        f"({counted} found, {head.seq} written): added outside probe-nav")
    if head.seq and not any(
            conn.execute(f"SELECT 1 FROM {t} WHERE mac = ? LIMIT 1", (head.last_mac,)).fetchone()
            for t in tables):
        problems.append(f"{db_label}: the record written last is missing (deleted outside "
                        "probe-nav)")
    return problems


def refusal(db_label: str, what: str, problems: Sequence[str], verify_command: str) -> str:
    """The one-line message refusing a chain: the first problem, how many more, what to run."""
    first = problems[0]
    for prefix in (f"{what}: ", f"{db_label}: "):
        first = first.removeprefix(prefix)
    more = (f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else "")
    return (f"{db_label}: {what} refused: {first}{more}; refusing to use it "
            f"(`{verify_command}` lists every problem in the database)")
