"""A console on a department server: its case store is local-first and synced.

The console writes every record to its own SQLite case store (the working copy it shows: never
waiting on the network, readable with the server away) with the record queued for the server in
the same transaction (probe_nav.storage.outbox); a Syncer sends the queue on a background thread
(probe_nav.storage.sync). With the server away the console keeps working and its status says
RECORDS NOT SYNCED with what waits; when the server is back the queue drains, each record once.
"""

from __future__ import annotations

import logging
from pathlib import Path

from probe_nav.cases.schema import MIGRATIONS
from probe_nav.cases.store import APPLICATION_ID, CaseStore, default_case_db
from probe_nav.storage.backend import Database, SqliteDatabase
from probe_nav.storage.outbox import rejected
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
