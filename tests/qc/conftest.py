"""Fixtures for the QC tests: the records database on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from probe_nav.storage.urls import KEY_DIR_VAR, DatabaseUrl, parse_database_url

QcDb = Path | DatabaseUrl  # what QcStore(...) opens: a SQLite file or a database URL


@pytest.fixture(params=["sqlite", "postgresql"])
def qc_db(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> QcDb:
    """A fresh QC database: a SQLite file, or the `qc` schema of a throwaway PostgreSQL
    database (tests/postgres_server.py; skipped with one line without PostgreSQL), its key in a
    private directory."""
    if request.param == "sqlite":
        return tmp_path / "qc.sqlite"
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    return parse_database_url(request.getfixturevalue("postgres_url"))


def db_arg(db: QcDb) -> str:
    """The database as a command-line argument (a path, or the URL)."""
    return db.conninfo if isinstance(db, DatabaseUrl) else str(db)


def raw_sql(db: QcDb, sql: str) -> None:
    """Run one statement outside probe-nav, as a database tool would."""
    if isinstance(db, Path):
        with sqlite3.connect(db) as raw:
            raw.execute(sql)
        raw.close()
        return
    import psycopg

    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("SET search_path TO qc")
        conn.execute(sql)
