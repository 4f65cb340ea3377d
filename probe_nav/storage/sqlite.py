"""Open a SQLite database the crash-safe way and bring its schema up to date.

Every store in probe-nav (cases, calibration/QC records) opens its file through `open_database`:
the file is private (mode 0600), journalled with WAL and written with synchronous=FULL, so a record
whose COMMIT has returned survives a crash or power loss. The schema version lives in
PRAGMA user_version; migration i brings version i to i + 1 and runs in its own transaction.

The connection is in autocommit mode (isolation_level=None): each statement is its own transaction
unless the caller groups statements with `transaction(conn)` (BEGIN IMMEDIATE ... COMMIT).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

from probe_nav.errors import UserError

log = logging.getLogger(__name__)
Migration = Callable[[sqlite3.Connection], None]

SQLITE_MAGIC = b"SQLite format 3\x00"
BUSY_TIMEOUT_MS = 5000
FILE_MODE = 0o600


class StoreError(UserError):
    """A database that cannot be used: damaged, not a database, or written by a newer probe-nav."""


@contextlib.contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Group statements into one write transaction (BEGIN IMMEDIATE); rolls back on error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _check_header(path: Path) -> None:
    """Refuse a non-empty file that does not start with the SQLite magic string."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the database ({exc.strerror or exc})") from None
    if head and head != SQLITE_MAGIC:
        raise StoreError(f"{path}: not a probe-nav database (not a SQLite file)")


def _create_private(path: Path) -> None:
    """Create the parent directories and the file itself with mode 0600 (no-op if it exists)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_CREAT | os.O_RDWR, FILE_MODE)
        os.close(fd)
        if os.name == "posix":
            os.chmod(path, FILE_MODE)
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the database ({exc.strerror or exc})") from None


def _configure(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise StoreError(f"{path}: the database cannot use a WAL journal (got {mode!r})")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")


def _migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[Migration]) -> None:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > len(migrations):
        raise StoreError(
            f"{path}: database schema version {version} is newer than this probe-nav "
            f"understands ({len(migrations)}); use a newer probe-nav"
        )
    for target, migration in enumerate(migrations[version:], start=version + 1):
        with transaction(conn):
            current = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if current >= target:  # another process migrated while we waited for the lock
                continue
            migration(conn)
            conn.execute(f"PRAGMA user_version = {target}")
        log.info("%s: schema migrated from version %d to %d", path, target - 1, target)


def _check_application(conn: sqlite3.Connection, path: Path, application_id: int,
                       kind: str) -> None:
    """Refuse a database of another kind (its PRAGMA application_id is another store's)."""
    if not application_id:
        return
    found = int(conn.execute("PRAGMA application_id").fetchone()[0])
    if found not in (0, application_id):
        raise StoreError(f"{path}: not a {kind or 'probe-nav'} database (it belongs to another "
                         "probe-nav store or another program)")


def open_database(
    path: Path, migrations: Sequence[Migration] | None, *, quick_check: bool = True,
    application_id: int = 0, kind: str = "",
) -> sqlite3.Connection:
    """Open (or create) a private, WAL-journalled database and run its pending migrations.

    Raises StoreError with a one-line message for a damaged file, a file that is not a SQLite
    database, a database of another kind (application_id: the store's own PRAGMA
    application_id, set when it is made; 0 = unchecked), or a schema newer than `migrations`
    knows. quick_check runs PRAGMA quick_check. migrations=None: no migration here, and no
    application_id set (the caller migrates through storage.backend.Database.migrate, then sets
    it).
    """
    path = Path(path)
    if path.exists():
        if path.is_dir():
            raise StoreError(f"{path}: is a directory, not a database file")
        _check_header(path)
    _create_private(path)
    conn: sqlite3.Connection | None = None
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        conn.row_factory = sqlite3.Row
        _configure(conn, path)
        if quick_check:
            result = [row[0] for row in conn.execute("PRAGMA quick_check")]
            if result != ["ok"]:
                raise StoreError(f"{path}: the database is damaged ({result[0]})")
        _check_application(conn, path, application_id, kind)
        if migrations is not None:
            _migrate(conn, path, migrations)
        if migrations is not None and application_id and not conn.execute(
                "PRAGMA application_id").fetchone()[0]:
            conn.execute(f"PRAGMA application_id = {int(application_id)}")
        if migrations is not None:  # else the caller migrates, then says so
            log.info("%s: database opened (schema version %d)", path, len(migrations))
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        raise StoreError(f"{path}: the database is damaged or unreadable ({exc})") from None
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    return conn


def _canonical(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # 'nan', 'inf', '-inf': JSON has no such numbers
    if isinstance(value, Mapping):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def canonical_json(fields: Mapping[str, object]) -> str:
    """The fields as canonical JSON: sorted keys, no spaces, floats by repr, non-finite floats
    and bytes as text. Equal values give equal text on every platform."""
    return json.dumps(_canonical(fields), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def record_checksum(fields: Mapping[str, object]) -> str:
    """SHA-256 (hex) of the fields as canonical JSON: the unkeyed checksum of the records written
    before keyed seals (probe_nav.storage.chain); kept to verify them once, when upgrading."""
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()
