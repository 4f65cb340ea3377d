"""Which database a store uses, from a URL: `--db URL`, else PROBE_NAV_DATABASE_URL, else the
SQLite file in the user data directory.

  sqlite:///relative/path.sqlite3     a SQLite file, relative to the working directory
  sqlite:////absolute/path.sqlite3    a SQLite file, absolute (SQLAlchemy's convention)
  /path/or/relative.sqlite3           a plain path: a SQLite file (what --db took before URLs)
  postgresql://user@host:port/db      a PostgreSQL database (postgres:// too); libpq's URL form,
                                      so ?sslmode=..., host=/socket/dir etc. pass through

A password in a URL is accepted but never shown: `DatabaseUrl.display` is what messages and logs
print. Anything else is a UserError with one line (the CLI prints it and exits 2).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from probe_nav.errors import UserError

ENV_VAR = "PROBE_NAV_DATABASE_URL"
KEY_DIR_VAR = "PROBE_NAV_DATABASE_KEY_DIR"  # where a console keeps PostgreSQL stores' keys


class Dialect(Enum):
    """The database engine behind a URL."""

    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True, slots=True)
class DatabaseUrl:
    """A parsed database URL: dialect, and the SQLite path or the PostgreSQL conninfo."""

    dialect: Dialect
    path: Path | None = None  # SQLite only
    conninfo: str = ""  # PostgreSQL only: the URL as libpq takes it (password included)

    @property
    def display(self) -> str:
        """The URL for messages and logs: a SQLite path, or the PostgreSQL URL without its
        password."""
        if self.dialect is Dialect.SQLITE:
            return str(self.path)
        parts = urlsplit(self.conninfo)
        if parts.password is None:
            return self.conninfo
        host = parts.hostname or ""
        netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))


def parse_database_url(text: str) -> DatabaseUrl:
    """The DatabaseUrl of `text`; UserError (one line) for an unknown scheme or no path/db."""
    text = str(text).strip()
    if not text:
        raise UserError("empty database URL (expected sqlite:///PATH or postgresql://...)")
    scheme, sep, rest = text.partition("://")
    if not sep:
        return DatabaseUrl(Dialect.SQLITE, path=Path(text).expanduser())
    scheme = scheme.lower()
    if scheme == "sqlite":
        if not rest.startswith("/") or rest == "/":
            raise UserError(f"{text}: a SQLite URL is sqlite:///PATH (three slashes, then the "
                            "file; four for an absolute path)")
        return DatabaseUrl(Dialect.SQLITE, path=Path(unquote(rest[1:])).expanduser())
    if scheme in ("postgresql", "postgres"):
        parts = urlsplit(text)
        if not parts.path.strip("/"):
            raise UserError(f"{_hide(text)}: a PostgreSQL URL names its database: "
                            "postgresql://USER@HOST[:PORT]/DATABASE")
        try:
            _ = parts.port  # a non-numeric port raises here, not deep inside libpq
        except ValueError:
            raise UserError(f"{_hide(text)}: the port is not a number") from None
        return DatabaseUrl(Dialect.POSTGRESQL, conninfo="postgresql://" + rest)
    raise UserError(f"{_hide(text)}: unknown database URL scheme {scheme!r} (expected "
                    "sqlite:///PATH or postgresql://USER@HOST/DATABASE)")


def _hide(text: str) -> str:
    """`text` for an error message, with any password replaced (it is not parsed yet)."""
    scheme, _, rest = text.partition("://")
    userinfo, at, host = rest.partition("@")
    if at and ":" in userinfo:
        return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"
    return text


def database_url(given: str | os.PathLike[str] | None, default_path: Path) -> DatabaseUrl:
    """The database to use: `given` (--db), else $PROBE_NAV_DATABASE_URL, else the SQLite file
    at default_path (the single-console default)."""
    if given is not None and str(given):
        return parse_database_url(os.fspath(given))
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return parse_database_url(from_env)
    return DatabaseUrl(Dialect.SQLITE, path=Path(default_path))
