"""Applied writes: which console wrote each record, and the identity that makes a re-sent write
harmless.

Every write a store makes carries an op_id (a UUID chosen by the console that means the write,
before it is sent). In the same transaction as the record, the store notes in `applied_writes`
the op_id, where the record landed (its chain and place in it, its table and MAC) and the
console that sent it. A write whose commit was cut off (the server went away between COMMIT and
its answer) is ambiguous to the console; sent again under the same op_id it finds its note and
returns the record already written instead of writing it twice (probe_nav.storage.outbox).

The note is not part of a record's seal (the seal's columns are the record's own); its `mac`
names the sealed record it belongs to, so a note can never vouch for a record that is not there.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from dataclasses import dataclass

from probe_nav.storage.backend import Database, as_database
from probe_nav.storage.chain import Conn

CONSOLE_VAR = "PROBE_NAV_CONSOLE"  # a console's name in the records (default: the host name)

APPLIED_WRITES_SQL = """CREATE TABLE applied_writes (
    op_id TEXT PRIMARY KEY, chain TEXT NOT NULL, seq INTEGER NOT NULL, tbl TEXT NOT NULL,
    mac TEXT NOT NULL, console TEXT NOT NULL, applied_unix_s REAL NOT NULL)"""


def console_name() -> str:
    """This console's name as the records give it: $PROBE_NAV_CONSOLE, else the host name."""
    return os.environ.get(CONSOLE_VAR, "").strip() or socket.gethostname()


def new_op_id() -> str:
    """A fresh write identity (a random UUID, 32 hex digits)."""
    return uuid.uuid4().hex


def check_op_id(op_id: str) -> str:
    """The op_id if it is 32 hex digits (as new_op_id makes), else ValueError."""
    if len(op_id) != 32 or set(op_id) - set("0123456789abcdef"):
        raise ValueError(f"bad write identity {op_id!r}")
    return op_id


def create_applied_writes(conn: Conn) -> None:
    """The migration step that adds the table (both stores)."""
    as_database(conn).script(APPLIED_WRITES_SQL)


@dataclass(frozen=True, slots=True)
class AppliedWrite:
    """Where an op landed: the record `seq` of `chain` in table `tbl`, sealed with `mac`."""

    op_id: str
    chain: str
    seq: int
    tbl: str
    mac: str
    console: str
    applied_unix_s: float


def find_applied(db: Database, op_id: str) -> AppliedWrite | None:
    """The note of op_id if it was applied (inside the writer's transaction: under its lock)."""
    row = db.execute("SELECT * FROM applied_writes WHERE op_id = ?", (op_id,)).fetchone()
    if row is None:
        return None
    return AppliedWrite(str(row["op_id"]), str(row["chain"]), int(row["seq"]), str(row["tbl"]),
                        str(row["mac"]), str(row["console"]), float(row["applied_unix_s"]))


def note_applied(db: Database, op_id: str, chain: str, seq: int, table: str, mac: str) -> None:
    """Note op_id as applied, in the transaction that wrote its record."""
    db.execute("INSERT INTO applied_writes (op_id, chain, seq, tbl, mac, console, "
               "applied_unix_s) VALUES (?, ?, ?, ?, ?, ?, ?)",
               (check_op_id(op_id), chain, int(seq), table, mac, console_name(), time.time()))


def row_id_of(db: Database, write: AppliedWrite) -> int:
    """The integer id of the record an applied write made (0 for a case, keyed by its text)."""
    if write.tbl == "cases":
        return 0
    row = db.execute(f"SELECT id FROM {write.tbl} WHERE mac = ?", (write.mac,)).fetchone()
    return 0 if row is None else int(row[0])


def consoles(db: Database) -> dict[str, str]:
    """The console of every record with a note: MAC -> console name (for reports and audits)."""
    return {str(r[0]): str(r[1]) for r in db.execute(
        "SELECT mac, console FROM applied_writes").fetchall()}
