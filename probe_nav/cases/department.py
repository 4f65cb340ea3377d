"""A console on a department server: its case store is local-first and synced.

The console writes every record to its own SQLite case store (the working copy it shows: never
waiting on the network, readable with the server away) with the record queued for the server in
the same transaction (probe_nav.storage.outbox); a Syncer sends the queue on a background thread
(probe_nav.storage.sync). With the server away the console keeps working and its status says
RECORDS NOT SYNCED with what waits; when the server is back the queue drains, each record once.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

from probe_nav.cases.schema import MIGRATIONS
from probe_nav.cases.store import APPLICATION_ID, CaseStore, default_case_db
from probe_nav.storage.backend import Database, SqliteDatabase
from probe_nav.storage.outbox import enqueue, rejected
from probe_nav.storage.sqlite import open_database
from probe_nav.storage.sync import Syncer, SyncStatus
from probe_nav.storage.urls import DatabaseUrl, Dialect

log = logging.getLogger(__name__)
SERVER_TIMEOUT_S = 3.0  # the sync thread's wait for a connection (and a console's at quit)


class DepartmentCases:
    """A console's local case store (`store`) synced to the server at `server_url`."""

    def __init__(self, server_url: DatabaseUrl, local_path: Path | None = None,
                 period_s: float = 5.0) -> None:
        if server_url.dialect is Dialect.SQLITE:
            raise ValueError("a department server is a PostgreSQL URL")
        self.server_url = server_url
        self.local_path = Path(local_path) if local_path is not None else default_case_db()
        self._store: CaseStore | None = None
        self.syncer = Syncer(self._open_local, self._open_server, period_s=period_s,
                             label=f"{self.local_path} -> {server_url.display}")

    @property
    def store(self) -> CaseStore:
        """The console's local case store (queue=True), opened on first use (a console whose
        panels open their own connections never opens this one)."""
        if self._store is None:
            self._store = CaseStore.open(self.local_path, queue=True)
        return self._store

    def _open_local(self) -> Database:
        conn = open_database(self.local_path, MIGRATIONS, quick_check=False,
                             application_id=APPLICATION_ID, kind="case")
        return SqliteDatabase(conn, str(self.local_path))

    def _open_server(self) -> CaseStore:
        return CaseStore.open(self.server_url, timeout_s=SERVER_TIMEOUT_S)

    def start(self) -> DepartmentCases:
        """Start sending in the background."""
        self.syncer.start()
        return self

    def written(self) -> None:
        """Call after a write: send it now."""
        self.syncer.nudge()

    def status(self) -> SyncStatus:
        """What waits for the server (the RECORDS NOT SYNCED banner)."""
        return self.syncer.status()

    def refused(self) -> list[tuple[str, str, str, str]]:
        """The records the server refused, kept here: (op_id, table, case, reason)."""
        local = self._open_local()
        try:
            return rejected(local)
        finally:
            local.close()

    def close(self, final_sync: bool = True) -> SyncStatus:
        """Stop syncing (one last try if asked) and close the local store; what still waits
        stays queued in the local file for the next start."""
        try:
            status = self.syncer.stop(final_sync=final_sync)
        finally:
            if self._store is not None:
                self._store.close()
                self._store = None
        if not status.synced:
            log.warning("%s: %d records not yet on the server, %d refused: kept in %s and "
                        "sent at the next start", self.syncer.label, status.counts.pending,
                        status.counts.rejected, self.local_path)
        return status


HISTORY_NAMESPACE = uuid.UUID("4f1c6a1e-3d0b-5c1e-9a57-70726f62656e")  # uuid5 of old records


def queue_history(store: CaseStore) -> int:
    """Queue, for the department server, every verified record of `store` (a console's own
    history, written before it joined) that is not queued yet; returns how many were added.

    Each record keeps its write identity when it has one (written since schema v6), else gets
    one derived from its seal (uuid5 of its MAC): queueing again, or a record the server already
    holds, is never doubled. Records go in chain order (a case's own row first); a case the
    server refuses (an id another console took) is kept rejected with the rest of its chain.
    A case whose chain fails verification is not queued (TamperedRecord, as on reading)."""
    db = store._conn
    chains: list[str | None] = [c.case_id for c in store.cases()]
    if db.execute("SELECT 1 FROM sessions WHERE case_id IS NULL LIMIT 1").fetchone():
        chains.append(None)  # sessions linked to no case: chain ''
    writes: list[tuple[str, str, str, dict[str, object]]] = []
    identities = {str(r[0]): str(r[1]) for r in db.execute(
        "SELECT mac, op_id FROM applied_writes").fetchall()}
    for chain in chains:
        records = store._verified(chain).rows
        rows = sorted(((int(r["seq"]), t, r) for t, rs in records.items() for r in rs),  # type: ignore[call-overload]
                      key=lambda x: x[0])
        for _, table, row in rows:
            mac = str(row["mac"])
            op_id = identities.get(mac) or uuid.uuid5(HISTORY_NAMESPACE, mac).hex
            values = {k: v for k, v in row.items()
                      if k not in ("seq", "prev_mac", "mac", "id")}
            writes.append((op_id, chain or "", table, values))

    def work(d: Database) -> int:
        queued = {str(r[0]) for r in d.execute("SELECT op_id FROM outbox").fetchall()}
        added = 0
        for op_id, chain, table, values in writes:
            if op_id not in queued:
                enqueue(d, op_id, chain, table, values)
                added += 1
        return added
    added: int = db.write(work)
    log.info("%s: %d record(s) of its history queued for the department server",
             store.path, added)
    return added
