"""The outbox: a console's writes waiting for the department server, in the console's own
database.

A console that syncs to a server writes every record to its local SQLite store first (sealed,
crash-safe: it is the console's working copy and what it shows) and, in the same transaction,
queues the record's values here under the write's op_id (probe_nav.storage.writes). A record is
therefore queued if and only if it was written: a crash, a power cut or a server that is away
cannot separate the two. probe_nav.storage.sync sends the queue in order; the server seals each
record under its own key and notes its op_id, so a record sent twice (an answer lost after the
server's COMMIT) is written once. An entry the server refuses (a case id another console took
meanwhile) is kept here, marked rejected with the server's reason, never dropped.

Each entry's values are stored as JSON with their SHA-256; an entry whose digest fails is
rejected (kept, with the reason), never sent.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

from probe_nav.storage.backend import Database, as_database
from probe_nav.storage.chain import Conn

OUTBOX_SQL = """CREATE TABLE outbox (
    qseq INTEGER PRIMARY KEY, op_id TEXT NOT NULL UNIQUE, chain TEXT NOT NULL,
    tbl TEXT NOT NULL, values_json TEXT NOT NULL, digest TEXT NOT NULL,
    queued_unix_s REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0, reason TEXT NOT NULL DEFAULT '')"""


def create_outbox(conn: Conn) -> None:
    """The migration step that adds the table."""
    as_database(conn).script(OUTBOX_SQL)


def encode_values(values: Mapping[str, object]) -> str:
    """A record's column values as JSON that reads back to equal values (floats by repr,
    NaN and infinities as JSON's NaN/Infinity tokens, which Python reads back)."""
    for name, value in values.items():
        if not (value is None or isinstance(value, str | int | float)):
            raise TypeError(f"column {name}: {type(value).__name__} cannot be queued")
    return json.dumps(dict(values), sort_keys=True, separators=(",", ":"), allow_nan=True)


def _digest(op_id: str, chain: str, table: str, values_json: str) -> str:
    text = "\x1f".join((op_id, chain, table, values_json))
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class QueuedWrite:
    """One record waiting for the server: the values of `table`'s row in `chain`."""

    qseq: int
    op_id: str
    chain: str
    table: str
    values: dict[str, object]
    queued_unix_s: float
    attempts: int


@dataclass(frozen=True, slots=True)
class OutboxCounts:
    """What waits: pending entries (the oldest queued when), and rejected ones kept."""

    pending: int
    rejected: int
    oldest_unix_s: float  # NaN when nothing is pending

    @property
    def synced(self) -> bool:
        """Whether every record reached the server (nothing pending, nothing refused)."""
        return self.pending == 0 and self.rejected == 0


def enqueue(db: Database, op_id: str, chain: str, table: str,
            values: Mapping[str, object]) -> None:
    """Queue a record's values, inside the transaction that wrote the record locally."""
    values_json = encode_values(values)
    db.execute("INSERT INTO outbox (op_id, chain, tbl, values_json, digest, queued_unix_s) "
               "VALUES (?, ?, ?, ?, ?, ?)",
               (op_id, chain, table, values_json, _digest(op_id, chain, table, values_json),
                time.time()))


def pending(db: Database, limit: int = 100) -> tuple[list[QueuedWrite], list[tuple[str, str]]]:
    """Up to `limit` pending entries, oldest first, and the (op_id, reason) of any read that
    failed its digest (the caller rejects those)."""
    good: list[QueuedWrite] = []
    bad: list[tuple[str, str]] = []
    for r in db.execute("SELECT * FROM outbox WHERE rejected = 0 ORDER BY qseq LIMIT ?",
                        (int(limit),)).fetchall():
        op_id, chain, table, text = str(r["op_id"]), str(r["chain"]), str(r["tbl"]), \
            str(r["values_json"])
        if _digest(op_id, chain, table, text) != r["digest"]:
            bad.append((op_id, "its queued values fail their checksum (changed on disk)"))
            continue
        try:
            values = json.loads(text)
        except ValueError:
            bad.append((op_id, "its queued values cannot be read"))
            continue
        good.append(QueuedWrite(int(r["qseq"]), op_id, chain, table, values,
                                float(r["queued_unix_s"]), int(r["attempts"])))
    return good, bad


def sent(db: Database, op_id: str) -> None:
    """The server holds the entry's record: remove it."""
    db.execute("DELETE FROM outbox WHERE op_id = ?", (op_id,))


def attempted(db: Database, op_id: str) -> None:
    """Count a send that got no answer (the server away)."""
    db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE op_id = ?", (op_id,))


def reject(db: Database, op_id: str, reason: str) -> None:
    """The server refused the entry (or it is damaged): keep it, marked, with the reason."""
    db.execute("UPDATE outbox SET rejected = 1, reason = ? WHERE op_id = ?",
               (reason[:500], op_id))


def rejected(db: Database) -> list[tuple[str, str, str, str]]:
    """Every rejected entry: (op_id, table, chain, reason), oldest first."""
    return [(str(r["op_id"]), str(r["tbl"]), str(r["chain"]), str(r["reason"]))
            for r in db.execute("SELECT op_id, tbl, chain, reason FROM outbox "
                                "WHERE rejected = 1 ORDER BY qseq").fetchall()]


def blocked_by(db: Database, write: QueuedWrite) -> str:
    """The reason an earlier entry of the same chain was rejected ('' if none): the rest of a
    chain whose first records the server refused (a case id another console took) must not be
    sent, or it would land in someone else's case."""
    row = db.execute("SELECT reason FROM outbox WHERE rejected = 1 AND chain = ? AND qseq < ? "
                     "ORDER BY qseq LIMIT 1", (write.chain, write.qseq)).fetchone()
    return "" if row is None else str(row[0]) or "refused"


def counts(db: Database) -> OutboxCounts:
    """How many entries wait and are rejected, and when the oldest pending was queued."""
    row = db.execute("SELECT SUM(CASE WHEN rejected = 0 THEN 1 ELSE 0 END), "
                     "SUM(rejected), MIN(CASE WHEN rejected = 0 THEN queued_unix_s END) "
                     "FROM outbox").fetchone()
    oldest = math.nan if row[2] is None else float(row[2])
    return OutboxCounts(int(row[0] or 0), int(row[1] or 0), oldest)
