"""Database URLs: which engine and which file or server a store uses, and never a password in a
message."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe_nav.errors import UserError
from probe_nav.storage.urls import ENV_VAR, Dialect, database_url, parse_database_url


def test_sqlite_urls_and_plain_paths(tmp_path: Path) -> None:
    assert parse_database_url("sqlite:///rel/c.sqlite3").path == Path("rel/c.sqlite3")
    assert parse_database_url("sqlite:////abs/c.sqlite3").path == Path("/abs/c.sqlite3")
    plain = parse_database_url(str(tmp_path / "c.sqlite3"))
    assert plain.dialect is Dialect.SQLITE and plain.path == tmp_path / "c.sqlite3"
    assert parse_database_url("sqlite:///a%20b.sqlite3").path == Path("a b.sqlite3")


def test_postgresql_urls() -> None:
    url = parse_database_url("postgres://nav@db.example:5433/dept?sslmode=require")
    assert url.dialect is Dialect.POSTGRESQL
    assert url.conninfo == "postgresql://nav@db.example:5433/dept?sslmode=require"
    assert url.display == url.conninfo


def test_password_is_never_displayed() -> None:
    url = parse_database_url("postgresql://nav:s3cret@db:5432/dept")
    assert "s3cret" in url.conninfo  # libpq needs it
    assert "s3cret" not in url.display and url.display == "postgresql://nav:***@db:5432/dept"
    for bad in ("postgresql://nav:s3cret@db:port/dept", "mysql://nav:s3cret@db/dept",
                "postgresql://nav:s3cret@db:5432"):
        with pytest.raises(UserError) as err:
            parse_database_url(bad)
        assert "s3cret" not in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("bad", ["", "sqlite://", "sqlite:///", "ftp://x/y",
                                 "postgresql://nav@db/"])
def test_bad_urls_are_one_line(bad: str) -> None:
    with pytest.raises(UserError) as err:
        parse_database_url(bad)
    assert "\n" not in str(err.value)


def test_flag_then_environment_then_default(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    default = tmp_path / "cases.sqlite3"
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert database_url(None, default).path == default
    monkeypatch.setenv(ENV_VAR, "postgresql://nav@db/dept")
    assert database_url(None, default).dialect is Dialect.POSTGRESQL
    assert database_url("sqlite:///x.sqlite3", default).path == Path("x.sqlite3")
    monkeypatch.setenv(ENV_VAR, "  ")
    assert database_url("", default).path == default
