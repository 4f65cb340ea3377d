"""Fixtures for the case tests: a store in a temporary directory and timed-count results."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.core.timed import TimedCountResult
from probe_nav.storage.urls import KEY_DIR_VAR, DatabaseUrl, parse_database_url
from tests.postgres_server import PostgresServer, find_bindir


def result(counts: int, live_s: float = 10.0, background_cps: float = 0.0) -> TimedCountResult:
    """A complete timed count of `counts` in live_s with a given background."""
    rate = counts / live_s
    sd = max(counts, 1) ** 0.5 / live_s
    return TimedCountResult(counts, live_s, live_s, rate, sd, background_cps, 0.0,
                            rate - background_cps, sd, counts > background_cps * live_s, True,
                            None)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[CaseStore]:
    """A fresh case store: a SQLite file, and a schema of a throwaway PostgreSQL database
    (tests/postgres_server.py; skipped with one line where PostgreSQL is not installed)."""
    where: Path | DatabaseUrl = tmp_path / "cases.sqlite3"
    if request.param == "postgresql":
        where = parse_database_url(request.getfixturevalue("postgres_url"))
        monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    with CaseStore.open(where) as s:
        yield s


@pytest.fixture
def own_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[PostgresServer]:
    """A cluster of this test's own, to stop and start again (the session's is shared)."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI", "").lower() == "true":  # .ci/run installs it: it must run there
            pytest.fail("CI=true but PostgreSQL is not installed (no initdb/pg_ctl)")
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl): PostgreSQL tests skipped")
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    server = PostgresServer(bindir)
    try:
        server.start()
        yield server
    finally:
        server.stop()
