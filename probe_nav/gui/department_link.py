"""Which case database the console writes, and, on a department server, the local-first link.

The console's case database is what `--db`/$PROBE_NAV_DATABASE_URL/the default file resolve to
(probe_nav.storage.urls). A SQLite file is used as it always was. A PostgreSQL URL is NOT
opened by the console's widgets: a GUI thread that talks to a server freezes the live display
for as long as the server takes to answer or to time out (10 s a call when it has gone away),
and a frozen display is a stale number shown as live. Instead the console writes its own local
SQLite copy (the default case file, queue=True: every record queued for the server in the same
transaction) and a DepartmentCases syncer sends the queue from a background thread
(probe_nav.cases.department); the GUI reads only `status()`, an attribute, never the network.
"""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

from probe_nav.cases.department import DepartmentCases
from probe_nav.cases.store import default_case_db
from probe_nav.errors import UserError
from probe_nav.storage import StoreError
from probe_nav.storage.sync import PERIOD_S, SyncStatus
from probe_nav.storage.urls import DatabaseUrl, Dialect, database_url

log = logging.getLogger(__name__)


class ConsoleCaseDb:
    """The console's case database: `path` is what its panels open (with `queue`), and
    `written()` is called after each of their writes.

    SQLite: path is the store_path given (None: resolved by CaseStore.open as before), no
    queue, no syncer, status() None. PostgreSQL: path is the local file (`local_path`, default
    default_case_db()), queue True, and a DepartmentCases sends it to the server; start() runs
    its thread (background=False: never, the caller drives department.syncer.sync_once()).
    """

    def __init__(self, store_path: str | Path | None = None, *,
                 local_path: Path | None = None, period_s: float = PERIOD_S,
                 background: bool = True) -> None:
        self.path: Path | None = Path(store_path) if store_path is not None else None
        self.queue = False
        self.department: DepartmentCases | None = None
        self.error = ""  # why the department link could not be made ('' if it was, or none)
        self.background = background
        self.server_url: DatabaseUrl | None = None
        self.last_write_unix_s = math.nan  # the last write the panels reported (written())
        self._closed = False
        try:
            url = database_url(store_path, default_case_db())
        except UserError as exc:  # a bad $PROBE_NAV_DATABASE_URL: the panels show it on use
            log.warning("case database: %s", exc)
            self.error = str(exc)
            return
        if url.dialect is not Dialect.POSTGRESQL:
            return
        self.server_url = url
        self.queue = True
        self.path = Path(local_path) if local_path is not None else default_case_db()
        try:
            self.department = DepartmentCases(url, self.path, period_s=period_s)
            log.info("case records: written to %s, sent to %s", self.path, url.display)
        except (UserError, StoreError, OSError) as exc:  # StoreError is a UserError
            # the panels open the same local file and say why on each write; nothing is
            # written anywhere until it opens, so nothing is lost unseen
            self.error = f"{self.path}: {exc}"
            log.error("console's local case store for %s not opened: %s", url.display, exc)
            return

    @property
    def on_server(self) -> bool:
        """Whether the console's case database is a department server (local-first)."""
        return self.queue

    def start(self) -> ConsoleCaseDb:
        """Start sending the local queue to the server (nothing to do on SQLite)."""
        if self.department is not None and self.background and not self._closed:
            self.department.start()
        return self

    def written(self) -> None:
        """A panel wrote a record: note when, and have the syncer send it now."""
        self.last_write_unix_s = time.time()
        if self.department is not None:
            self.department.written()

    def status(self) -> SyncStatus | None:
        """The outbox as of the syncer's last round (None on SQLite): an attribute, no I/O."""
        return None if self.department is None else self.department.status()

    def close(self) -> SyncStatus | None:
        """Stop the syncer and close the local store (again: nothing). One last send only if
        a round has ended and the server answered it: a server away would hold the closing
        window for its connection timeout, and what waits stays queued for the next start."""
        if self.department is None or self._closed:
            return self.status()
        self._closed = True
        last = self.department.status()
        return self.department.close(final_sync=math.isfinite(last.round_unix_s)
                                     and last.server_ok)


__all__ = ["ConsoleCaseDb"]
