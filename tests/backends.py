"""A test's records database on either backend: a SQLite file in the test's folder, or a fresh
database of the session's throwaway PostgreSQL cluster (tests/postgres_server.py; skipped with
one line where PostgreSQL is not installed, a failure under CI=true).

`backend_fixture(FILE, SCHEMA)` makes a fixture parametrised over both, giving a `Db`: its `arg`
is what `--db`, `CaseStore.open` and `QcStore` take, so one test body runs on both. On
PostgreSQL the store's key goes to the test's own $PROBE_NAV_DATABASE_KEY_DIR and the user data
directory (where raw acquisitions are kept when the records are on a server) is the test's
folder, so `tmp_path / "raw"` holds them on both backends.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from probe_nav.storage.urls import KEY_DIR_VAR

BACKENDS = ("sqlite", "postgresql")
CASES_SCHEMA = "cases"  # probe_nav.cases.store.NAMESPACE
QC_SCHEMA = "qc"
DATA_DIR_VAR = "PROBE_NAV_DATA_DIR"


@dataclass(frozen=True)
class Db:
    """One test's database: `arg` for --db and the stores; `path` the SQLite file (None on
    PostgreSQL); `schema` the store's PostgreSQL schema."""

    backend: str
    arg: str
    path: Path | None
    schema: str

    def sql(self, statement: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        """Run one statement outside probe-nav, as a database tool would (committed); its rows.
        Placeholders are written `?` (SQLite's) and become `%s` on PostgreSQL."""
        if self.path is not None:
            conn = sqlite3.connect(self.path)
            try:
                with conn:
                    rows = conn.execute(statement, tuple(params)).fetchall()
            finally:
                conn.close()
            return rows
        import psycopg

        with psycopg.connect(self.arg, autocommit=True) as pg:
            pg.execute(f'SET search_path TO "{self.schema}"')
            query = statement.replace("?", "%s") if params else statement  # a bare % stays
            cur = pg.execute(query, tuple(params) or None)  # type: ignore[arg-type]
            return cur.fetchall() if cur.description is not None else []

    def count(self, table: str) -> int:
        """Rows in one of the store's tables, 0 where the store was never created (no SQLite
        file, or no such table in the schema): what "nothing was stored" is checked by."""
        if self.path is not None:
            if not self.path.exists():
                return 0
            where = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
            (exists,), = self.sql(where, (table,))
        else:
            (exists,), = self.sql("SELECT count(*) FROM information_schema.tables "
                                  "WHERE table_schema = ? AND table_name = ?",
                                  (self.schema, table))
        if not exists:
            return 0
        (rows,), = self.sql(f'SELECT count(*) FROM "{table}"')
        return int(rows)


def database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
             backend: str, file_name: str, schema: str) -> Db:
    """A fresh, empty database of `backend` for this test."""
    if backend == "sqlite":
        path = tmp_path / file_name
        return Db(backend, str(path), path, schema)
    if backend != "postgresql":
        raise ValueError(f"unknown backend {backend!r}")
    url = str(request.getfixturevalue("postgres_url"))
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    monkeypatch.setenv(DATA_DIR_VAR, str(tmp_path))
    return Db(backend, url, None, schema)


def backend_fixture(file_name: str, schema: str) -> Callable[..., Db]:
    """A test-scoped fixture giving a fresh `Db` on SQLite, then on PostgreSQL."""

    @pytest.fixture(params=BACKENDS)
    def fixture(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Db:
        return database(request, tmp_path, monkeypatch, request.param, file_name, schema)

    return fixture


def clone(template: Db, template_keys: Path | None, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Db:
    """A private copy of a finished template database (nothing may hold it open) and its key,
    for a test that changes it: the SQLite file (and -wal, .key) copied, or on PostgreSQL a
    new database made with CREATE DATABASE ... TEMPLATE and the key file copied under the name
    the new database's key has (the database name is part of it)."""
    if template.path is not None:
        copy = tmp_path / template.path.name
        for suffix in ("", "-wal", ".key"):
            source = Path(str(template.path) + suffix)
            if source.exists():
                shutil.copyfile(source, Path(str(copy) + suffix))
        os.chmod(copy, 0o600)
        return Db(template.backend, str(copy), copy, template.schema)
    import psycopg

    from tests.postgres_server import PostgresServer

    server: PostgresServer = request.getfixturevalue("postgres_server")
    old_name = template.arg.rsplit("/", 1)[1]
    new_url = server.new_database("clone")  # an empty database, only to get a fresh name
    new_name = new_url.rsplit("/", 1)[1]
    with psycopg.connect(server.url("postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{new_name}"')
        conn.execute(f'CREATE DATABASE "{new_name}" TEMPLATE "{old_name}"')
    assert template_keys is not None
    keys = tmp_path / "keys"
    keys.mkdir(mode=0o700)
    for key in template_keys.iterdir():  # e.g. 127.0.0.1-5432-t_1_2-cases.key
        assert f"-{old_name}-" in key.name, key.name
        shutil.copyfile(key, keys / key.name.replace(f"-{old_name}-", f"-{new_name}-"))
        os.chmod(keys / key.name.replace(f"-{old_name}-", f"-{new_name}-"), 0o600)
    monkeypatch.setenv(KEY_DIR_VAR, str(keys))
    monkeypatch.setenv(DATA_DIR_VAR, str(tmp_path))
    return Db(template.backend, new_url, None, template.schema)


def template_database(request: pytest.FixtureRequest, folder: Path, backend: str,
                      file_name: str, schema: str) -> tuple[Db, Path | None]:
    """A database to fill once per module and `clone` per test, and its key directory (None
    on SQLite, where the key lies beside the file): fill it with $PROBE_NAV_DATABASE_KEY_DIR
    set to that directory (pytest.MonkeyPatch.context())."""
    if backend == "sqlite":
        path = folder / file_name
        return Db(backend, str(path), path, schema), None
    from tests.postgres_server import PostgresServer

    server: PostgresServer = request.getfixturevalue("postgres_server")
    return Db(backend, server.new_database("template"), None, schema), folder / "keys"
