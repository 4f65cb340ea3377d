"""Fixtures for the case tests: a store in a temporary directory and timed-count results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.core.timed import TimedCountResult
from probe_nav.storage.urls import KEY_DIR_VAR, DatabaseUrl, parse_database_url


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
