"""The PostgreSQL side of the storage adapter (probe_nav.storage.backend): psycopg 3 with a
psycopg_pool connection pool, one PostgreSQL schema (namespace) per store.

A department database holds every store: the case store in schema `cases`, the QC store in
schema `qc`, each with its own tables, seal heads and schema version (table probe_nav_meta), so
one URL serves both and their table names never meet. Every connection of the pool has its
search_path set to the store's schema, so the store's SQL names its tables unqualified, as on
SQLite.

Writes: one transaction per call of `write(work)`: BEGIN (READ COMMITTED), then
pg_advisory_xact_lock(the store's key), then work, then COMMIT. The advisory lock is SQLite's
BEGIN IMMEDIATE: one writer per store at a time across every console, so a chain's head, the
ledger and the rows are read and advanced by one writer and no two consoles ever give two
records the same place in a chain. Each statement after the lock sees every earlier commit
(READ COMMITTED takes a fresh snapshot per statement; a snapshot taken before the lock wait, as
REPEATABLE READ or SERIALIZABLE would, would see a stale head). A serialisation failure (40001)
or deadlock (40P01) re-runs the whole work with a short randomised back-off, up to
MAX_ATTEMPTS times. Reads that must agree with each other (a chain and its head) run in one
REPEATABLE READ, READ ONLY snapshot (`read(work)`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import psycopg
import psycopg.errors
from psycopg_pool import ConnectionPool, PoolTimeout

from probe_nav.storage.backend import (
    Database,
    Params,
    Result,
    Row,
    ServerUnavailable,
    to_format_placeholders,
)
from probe_nav.storage.paths import user_config_dir
from probe_nav.storage.sqlite import StoreError
from probe_nav.storage.urls import KEY_DIR_VAR, DatabaseUrl, Dialect

log = logging.getLogger(__name__)
# The pool logs each failed reconnection at WARNING, every few seconds while a server is away;
# the store says it once (ServerUnavailable; the console's RECORDS NOT SYNCED).
logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
T = TypeVar("T")

MAX_ATTEMPTS = 12  # retries of one transaction on 40001/40P01 before giving up
BACKOFF_S = 0.005  # first back-off; doubles per attempt (randomised, capped at BACKOFF_CAP_S)
BACKOFF_CAP_S = 0.5
CONNECT_TIMEOUT_S = 10.0  # how long a store waits for a first connection before StoreError
RETRYABLE = (psycopg.errors.SerializationFailure, psycopg.errors.DeadlockDetected)
_IDENTIFIER = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_")


def _row_factory(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    """psycopg row factory making backend.Row (index, name and dict() access, as sqlite3.Row)."""
    desc = cursor.description
    names = tuple(d.name for d in desc) if desc else ()
    index = {n: i for i, n in reversed(list(enumerate(names)))}  # first of a repeated name
    return lambda values: Row(values, names, index)


def lock_key(namespace: str) -> int:
    """The store's advisory-lock key: a signed 64-bit number from its schema name."""
    digest = hashlib.sha256(f"probe-nav store {namespace}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class PostgresDatabase(Database):
    """One store (namespace) in a PostgreSQL database, through a connection pool."""

    dialect = Dialect.POSTGRESQL
    rowid = "ctid"  # only ever ordered on: a PostgreSQL store is born empty (no backfill)
    integrity_errors = (psycopg.errors.IntegrityError,)
    database_errors = (psycopg.Error,)

    def __init__(self, url: DatabaseUrl, namespace: str, *, max_connections: int = 4,
                 kind: str = "", timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        if not namespace or set(namespace) - _IDENTIFIER:
            raise ValueError(f"bad store namespace {namespace!r}")
        self.label = f"{url.display} (schema {namespace})"
        self._key_base = key_directory() / _key_name(url, namespace)
        self.namespace = namespace
        self._lock = lock_key(namespace)
        self._local = threading.local()
        self.retries = 0  # transactions re-run after 40001/40P01, since opening (for tests)
        self._timeout_s = timeout_s  # wait for a connection this long before ServerUnavailable
        self._pool = ConnectionPool(
            url.conninfo, min_size=1, max_size=max_connections, open=False,
            kwargs={"autocommit": True, "row_factory": _row_factory},
            configure=self._configure, name=f"probe-nav-{namespace}")
        try:
            self._pool.open(wait=True, timeout=timeout_s)
            self._prepare(kind)
        except PoolTimeout:
            self._pool.close()
            raise ServerUnavailable(f"{self.label}: cannot connect to the database server "
                                    f"within {self._timeout_s:g} s") from None
        except psycopg.OperationalError as exc:
            self._pool.close()
            raise ServerUnavailable(f"{self.label}: {_one_line(exc)}") from None
        except psycopg.Error as exc:
            self._pool.close()
            raise StoreError(f"{self.label}: {_one_line(exc)}") from None
        except BaseException:
            self._pool.close()
            raise

    @property
    def key_base(self) -> Path:
        return self._key_base

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        conn.execute(f'SET search_path TO "{self.namespace}"')

    def _prepare(self, kind: str) -> None:
        """Make the store's schema and meta table (once, under the store's lock); refuse a
        schema that belongs to another kind of store."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._lock,))
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.namespace}"')
            conn.execute(f'SET LOCAL search_path TO "{self.namespace}"')
            conn.execute("CREATE TABLE IF NOT EXISTS probe_nav_meta "
                         "(name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = conn.execute("SELECT value FROM probe_nav_meta WHERE name = 'kind'").fetchone()
            if row is None and kind:
                conn.execute("INSERT INTO probe_nav_meta VALUES ('kind', %s)", (kind,))
            elif row is not None and kind and row[0] != kind:
                raise StoreError(f"{self.label}: not a {kind} store (it holds {row[0]} "
                                 "records)")

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        current = getattr(self._local, "conn", None)
        if current is not None:
            yield current
            return
        with self._pool.connection(timeout=self._timeout_s) as conn:
            yield conn

    def execute(self, sql: str, params: Params = ()) -> Result:
        try:
            with self._connection() as conn:
                cur = conn.execute(to_format_placeholders(sql), tuple(params))
                rows = cur.fetchall() if cur.description else []
                return Result(rows, cur.rowcount)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if isinstance(exc, RETRYABLE) or getattr(self._local, "conn", None) is not None:
                raise  # inside write()/read(): they retry or say it once
            raise self._unreachable(exc) from None

    def _unreachable(self, exc: BaseException) -> StoreError:
        """The one-line error for a server that went away (or a pool that timed out)."""
        return ServerUnavailable(f"{self.label}: the database server cannot be reached "
                          f"({_one_line(exc)})")

    def insert(self, table: str, values: Mapping[str, object], key: str = "id") -> object:
        cols = list(values)
        row = self.execute(f"INSERT INTO {table} ({', '.join(cols)}) VALUES "
                           f"({', '.join('?' * len(cols))}) RETURNING {key}",
                           tuple(values.values())).fetchone()
        return row[0]

    def _in_transaction(self, first_sql: str, first_params: Params,
                        work: Callable[[Database], T]) -> T:
        with self._pool.connection(timeout=self._timeout_s) as conn:
            self._local.conn = conn
            try:
                with conn.transaction():
                    conn.execute(first_sql, tuple(first_params))
                    return work(self)
            finally:
                self._local.conn = None

    def write(self, work: Callable[[Database], T]) -> T:
        if getattr(self._local, "conn", None) is not None:  # nested: part of the outer one
            return work(self)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                return self._in_transaction("SELECT pg_advisory_xact_lock(%s)", (self._lock,),
                                            work)
            except RETRYABLE as exc:
                if attempt == MAX_ATTEMPTS:
                    raise StoreError(f"{self.label}: write abandoned after {attempt} attempts "
                                     f"({_one_line(exc)})") from None
                self.retries += 1
                log.info("%s: transaction re-run after %s (attempt %d)", self.label,
                         exc.sqlstate, attempt)
                time.sleep(random.uniform(0, min(BACKOFF_CAP_S, BACKOFF_S * 2 ** attempt)))
            except (psycopg.OperationalError, PoolTimeout) as exc:  # after RETRYABLE
                # Not retried here: the commit may or may not have happened; a console's outbox
                # sends it again under the same op_id (probe_nav.storage.writes).
                raise self._unreachable(exc) from None
        raise AssertionError("unreachable")

    def read(self, work: Callable[[Database], T]) -> T:
        if getattr(self._local, "conn", None) is not None:
            return work(self)
        try:
            return self._in_transaction(
                "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", (), work)
        except (psycopg.OperationalError, PoolTimeout) as exc:
            if isinstance(exc, RETRYABLE):
                raise
            raise self._unreachable(exc) from None

    def table_names(self) -> set[str]:
        return {str(r[0]) for r in self.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_name <> 'probe_nav_meta'")}

    def schema_version(self) -> int:
        row = self.execute("SELECT value FROM probe_nav_meta WHERE name = 'schema_version'"
                           ).fetchone()
        return 0 if row is None else int(row[0])

    def _set_schema_version(self, version: int) -> None:
        self.execute("INSERT INTO probe_nav_meta (name, value) VALUES ('schema_version', ?) "
                     "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(version),))

    def _lock_schema(self) -> None:
        pass  # write() holds the store's advisory lock already

    def close(self) -> None:
        self._pool.close()


def key_directory() -> Path:
    """Where this console keeps the keys of PostgreSQL stores: $PROBE_NAV_DATABASE_KEY_DIR, else
    `database-keys` in the user configuration directory. Every console writing to one
    department store must hold the same key file (installed by whoever runs the server)."""
    override = os.environ.get(KEY_DIR_VAR, "").strip()
    return Path(override).expanduser() if override else user_config_dir() / "database-keys"


def _key_name(url: DatabaseUrl, namespace: str) -> str:
    """e.g. 'db.example-5432-dept-cases' (a password or options never go into the name)."""
    parts = urlsplit(url.conninfo)
    raw = f"{parts.hostname or 'local'}-{parts.port or 5432}-{parts.path.strip('/')}-{namespace}"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in raw)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
