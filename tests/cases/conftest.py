"""Fixtures for the case tests: a store in a temporary directory and timed-count results."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.core.timed import TimedCountResult


def result(counts: int, live_s: float = 10.0, background_cps: float = 0.0) -> TimedCountResult:
    """A complete timed count of `counts` in live_s with a given background."""
    rate = counts / live_s
    sd = max(counts, 1) ** 0.5 / live_s
    return TimedCountResult(counts, live_s, live_s, rate, sd, background_cps, 0.0,
                            rate - background_cps, sd, counts > background_cps * live_s, True,
                            None)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CaseStore]:
    """A fresh case store."""
    with CaseStore.open(tmp_path / "cases.sqlite3") as s:
        yield s
