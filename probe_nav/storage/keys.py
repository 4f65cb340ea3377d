"""The per-database secret key that seals records (HMAC-SHA256), kept beside the database.

`cases.sqlite3` has its key in `cases.sqlite3.key`: 64 hexadecimal digits (32 random bytes) on one
line, mode 0600. The key is made once, when the database is made (or upgraded to keyed records),
atomically: written to a private temporary file, synced, then hard-linked to its name, so a crash
never leaves a half-written key and two processes creating the same database agree on one key.

The key must travel with its database: a copy or backup of the database without its key cannot
be verified, and probe-nav refuses to use it (docs/cases.md, "Tamper evidence").
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

from probe_nav.storage.sqlite import StoreError

log = logging.getLogger(__name__)

KEY_SUFFIX = ".key"
KEY_BYTES = 32
KEY_FILE_MODE = 0o600


class KeyFileError(StoreError):
    """A key file that is missing, unreadable or malformed."""


def key_path(db_path: Path) -> Path:
    """Where the key of the database at db_path lives: the same name plus '.key'."""
    db_path = Path(db_path)
    return db_path.with_name(db_path.name + KEY_SUFFIX)


def read_key(db_path: Path) -> bytes:
    """The key of the database at db_path; KeyFileError (one line) if it is missing or malformed."""
    path = key_path(db_path)
    try:
        text = path.read_text(encoding="ascii")
    except FileNotFoundError:
        raise KeyFileError(
            f"{db_path}: its key file {path} is missing; without it no record can be verified. "
            "The key travels with the database: copy or restore both files together "
            "(docs/cases.md)") from None
    except IsADirectoryError:
        raise KeyFileError(f"{path}: is a directory, not the database's key file") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
        raise KeyFileError(f"{path}: cannot read the database's key file ({reason})") from None
    key = _parse(text)
    if key is None:
        raise KeyFileError(f"{path}: not a probe-nav key file (expected {2 * KEY_BYTES} "
                        "hexadecimal digits on one line)")
    _keep_private(path)
    return key


def ensure_key(db_path: Path) -> bytes:
    """The database's key, made first (random, mode 0600, atomically) if it has none yet."""
    path = key_path(db_path)
    if not path.exists():
        _create(path)
    return read_key(db_path)


def install_key(db_path: Path, key: bytes) -> None:
    """Make `key` the key of the database at db_path (`probe-nav db copy`: the copy keeps its
    source's seals, so it takes its source's key), replacing the key file atomically (written
    privately and synced, then renamed over it)."""
    if len(key) != KEY_BYTES:
        raise KeyFileError(f"a database key is {KEY_BYTES} bytes, not {len(key)}")
    path = key_path(db_path)
    with _staged(path, key.hex() + "\n", "write") as tmp:
        os.replace(tmp, path)
    log.info("%s: key installed (copied with its database's records)", path)


def _parse(text: str) -> bytes | None:
    digits = text.strip()
    if len(digits) != 2 * KEY_BYTES or "\n" in digits:
        return None
    try:
        return bytes.fromhex(digits)
    except ValueError:
        return None


def _keep_private(path: Path) -> None:
    """A key readable by others is narrowed back to 0600 (and the change logged)."""
    if os.name != "posix":
        return
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            os.chmod(path, KEY_FILE_MODE)
            log.info("%s: key file was readable by others (mode %o); set to 0600", path, mode)
    except OSError as exc:
        log.warning("%s: cannot check or narrow the key file's mode (%s)", path, exc)


def _create(path: Path) -> None:
    """Write a new key to a temporary file, sync it, then link it to `path` unless another
    process made the key first (then theirs is kept). Falls back to O_EXCL where the file
    system has no hard links."""
    text = secrets.token_bytes(KEY_BYTES).hex() + "\n"
    with _staged(path, text, "create") as tmp:
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # made meanwhile by another process: that one is the key
        except OSError:  # no hard links here (some network and FAT file systems)
            with contextlib.suppress(FileExistsError):
                _write_private(path, text, os.O_EXCL)
    log.info("%s: new database key made", path)


@contextlib.contextmanager
def _staged(path: Path, text: str, doing: str) -> Iterator[Path]:
    """A private, synced temporary file holding `text` beside `path`, for the caller to publish
    as `path`; then the directory is synced and the temporary removed. Any OSError is one
    KeyFileError line ("cannot <doing> the database's key file")."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_private(tmp, text, os.O_EXCL)
        yield tmp
        _sync_directory(path.parent)
    except OSError as exc:
        raise KeyFileError(f"{path}: cannot {doing} the database's key file "
                           f"({exc.strerror or exc})") from None
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def _write_private(path: Path, text: str, extra_flags: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | extra_flags, KEY_FILE_MODE)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if os.name == "posix":
        os.chmod(path, KEY_FILE_MODE)


def _sync_directory(directory: Path) -> None:
    if os.name != "posix":
        return
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
