"""Sending a console's outbox to the department server (probe_nav.storage.outbox), in order, on
a background thread, so that nothing the console shows ever waits on the network.

`Syncer.sync_once()` sends every pending entry, oldest first, each in its own server
transaction under its op_id: sent -> removed from the outbox; ServerUnavailable -> stop and try
again later (the entry stays first in line, so a chain's records arrive in their order); any
other refusal -> the entry is kept, rejected, with the server's reason (status().rejected), and
the next is sent. `start()` runs it every period_s and whenever `nudge()` says a write was
queued; `status()` is what the console's RECORDS NOT SYNCED banner shows.

The thread opens its own connection to the local file (SQLite connections are not shared
between threads; WAL lets the console write meanwhile) and opens the server store lazily, again
after any failure (a pool whose server was restarted is replaced whole).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from probe_nav.errors import UserError
from probe_nav.storage.backend import Database, ServerUnavailable
from probe_nav.storage.outbox import (
    OutboxCounts,
    QueuedWrite,
    attempted,
    blocked_by,
    counts,
    pending,
    reject,
    sent,
)

log = logging.getLogger(__name__)
PERIOD_S = 5.0  # a retry while the server is away; a queued write is sent at once (nudge)
BATCH = 200  # entries read from the outbox per round


class Server(Protocol):
    """A store on the department server that takes queued writes."""

    def apply_queued(self, write: QueuedWrite) -> object: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """The outbox as the console shows it."""

    counts: OutboxCounts
    server_ok: bool  # the last attempt reached the server (True before the first round)
    last_error: str  # why it did not ('' if it did)
    last_sync_unix_s: float  # when everything pending last reached it (NaN: never)
    round_unix_s: float = math.nan  # when the round this describes ended (NaN: none yet)

    @property
    def synced(self) -> bool:
        """Nothing waits and nothing was refused."""
        return self.counts.synced


@dataclass(frozen=True, slots=True)
class SyncRound:
    """What one sync_once did."""

    sent: int
    rejected: int
    pending: int  # left when it stopped
    error: str  # why it stopped early ('' if the outbox is empty)


class Syncer:
    """Sends the outbox of the local store at `open_local()` to `open_server()`."""

    def __init__(self, open_local: Callable[[], Database], open_server: Callable[[], Server],
                 period_s: float = PERIOD_S, label: str = "") -> None:
        self._open_local = open_local
        self._open_server = open_server
        self.period_s = period_s
        self.label = label
        self._server: Server | None = None
        self._last_error = ""
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one round at a time (thread, or a caller's final sync)
        self._status = SyncStatus(self._local_counts(), True, "", math.nan)

    def _local_counts(self) -> OutboxCounts:
        """What the outbox holds now (read from the local file: what an earlier session left)."""
        local = self._open_local()
        try:
            return counts(local)
        finally:
            local.close()

    # ------------------------------------------------------------ one round

    def sync_once(self) -> SyncRound:
        """Send what is pending now (see the module docstring); never raises for the server."""
        with self._lock:
            local = self._open_local()
            try:
                result = self._round(local)
                self._publish(local, result)
                return result
            finally:
                local.close()

    def _round(self, local: Database) -> SyncRound:
        n_sent = n_rejected = 0
        while True:
            batch, damaged = pending(local, BATCH)
            for op_id, reason in damaged:
                _reject(local, op_id, reason)
                log.error("%s: outbox entry %s kept, not sent: %s", self.label, op_id, reason)
                n_rejected += 1
            if not batch:
                return SyncRound(n_sent, n_rejected, 0, "")
            for write in batch:
                error = self._send(local, write)
                if error is None:
                    n_sent += 1
                elif error:
                    n_rejected += 1
                else:
                    left = counts(local).pending
                    return SyncRound(n_sent, n_rejected, left, self._last_error)
            # a long backlog: say how far it is between batches
            self._publish(local, SyncRound(n_sent, n_rejected, -1, ""))

    def _send(self, local: Database, write: QueuedWrite) -> str | None:
        """None if the server holds it now; '' if the server is away or its store cannot be
        opened (stop: all stays queued); else the reason this record was refused (kept,
        rejected)."""
        refused = blocked_by(local, write)
        if refused:  # an earlier record of its chain was refused: never graft it elsewhere
            reason = f"an earlier record of {write.chain!r} was refused ({refused})"
            _reject(local, write.op_id, reason)
            return reason
        if self._server is None:
            try:
                self._server = self._open_server()
            except UserError as exc:  # away, or this console cannot use it (its key, a newer
                # schema): a matter of the console, not of the record; everything stays queued
                self._last_error = str(exc)
                if not isinstance(exc, ServerUnavailable):
                    log.error("%s: the server store cannot be used: %s", self.label, exc)
                return ""
        try:
            self._server.apply_queued(write)
        except ServerUnavailable as exc:
            self._drop_server()
            self._last_error = str(exc)
            local.write(lambda db: attempted(db, write.op_id))
            return ""
        except UserError as exc:  # StoreError and TamperedRecord too: refused, not away
            reason = str(exc)
            _reject(local, write.op_id, reason)
            log.error("%s: %s of %r refused by the server, kept in the outbox: %s",
                      self.label, write.table, write.chain, reason)
            return reason or "refused"
        local.write(lambda db: sent(db, write.op_id))
        return None

    def _drop_server(self) -> None:
        if self._server is not None:
            try:
                self._server.close()
            except Exception:  # a pool whose server vanished may fail to close cleanly
                log.debug("%s: closing the lost server store failed", self.label,
                          exc_info=True)
            self._server = None

    def _publish(self, local: Database, result: SyncRound) -> None:
        c = counts(local)
        ok = not result.error
        last = time.time() if ok and c.pending == 0 else self._status.last_sync_unix_s
        if ok != self._status.server_ok:
            if ok:
                log.warning("%s: the server is back; the outbox is sent", self.label)
            else:
                log.warning("%s: RECORDS NOT SYNCED: %s (%d waiting, kept on this console)",
                            self.label, result.error, c.pending)
        self._status = SyncStatus(c, ok, result.error, last, time.time())

    # ------------------------------------------------------------ the thread

    def status(self) -> SyncStatus:
        """The outbox and the server as of the last round (before any: what the local file
        held when the Syncer was made, the server not yet tried)."""
        return self._status

    def nudge(self) -> None:
        """A write was queued: send it now rather than at the next period."""
        self._wake.set()

    def start(self) -> Syncer:
        """Run rounds on a daemon thread until stop()."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="probe-nav-sync",
                                            daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
            except Exception:  # a local store that failed: say so, keep trying
                log.exception("%s: sync round failed", self.label)
            self._wake.wait(self.period_s)
            self._wake.clear()

    def stop(self, final_sync: bool = True) -> SyncStatus:
        """Stop the thread (after one last round if asked) and close the server store."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if final_sync:
            self.sync_once()
        with self._lock:
            self._drop_server()
        return self._status


def _reject(local: Database, op_id: str, reason: str) -> None:
    """Mark an outbox entry rejected (kept, with the reason), in its own local transaction."""
    def work(db: Database) -> None:
        reject(db, op_id, reason)
    local.write(work)
