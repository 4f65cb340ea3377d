"""Consoles as separate processes writing to one department server through their outboxes
(probe_nav.cases.department): shared by tests/cases/test_department_consoles.py (phases held
by barriers, no wall clock) and benchmarks/bench_department.py (a real 30 s outage)."""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from probe_nav.cases.department import DepartmentCases
from probe_nav.core.timed import TimedCountResult
from probe_nav.storage.urls import KEY_DIR_VAR, parse_database_url
from probe_nav.storage.writes import CONSOLE_VAR

T0_S = 1_700_000_000.0
DRAIN_TRIES = 120  # sync rounds a console tries after the server is back
DRAIN_WAIT_S = 0.5  # between them: only reached while the restarted server warms up


def count_result(counts: int, live_s: float = 10.0) -> TimedCountResult:
    """A complete timed count (no background)."""
    rate = counts / live_s
    sd = max(counts, 1) ** 0.5 / live_s
    return TimedCountResult(counts, live_s, live_s, rate, sd, 0.0, 0.0, rate, sd, True, True,
                            None)


@dataclass(frozen=True)
class ConsoleJob:
    """What one console process does: `records` measurements into case C-<n>."""

    n: int
    url: str
    key_dir: str
    local_path: str
    records: int


def _record(dept: DepartmentCases, job: ConsoleJob, i: int) -> None:
    dept.store.record(f"C-{job.n}", f"node {i}", "in_vivo", count_result(100 + i),
                      measured_unix_s=T0_S + job.n + 10.0 * i)
    dept.written()


def _setup(job: ConsoleJob, period_s: float) -> DepartmentCases:
    os.environ[KEY_DIR_VAR] = job.key_dir
    os.environ[CONSOLE_VAR] = f"console-{job.n}"
    dept = DepartmentCases(parse_database_url(job.url), Path(job.local_path), period_s=period_s)
    dept.store.create_case(f"C-{job.n}", "sln-breast", "Tc-99m", created_unix_s=T0_S + job.n)
    return dept


def _drain(dept: DepartmentCases) -> int:
    """Sync until nothing is pending (the server is back); returns the rounds it took."""
    for tries in range(1, DRAIN_TRIES + 1):
        if dept.syncer.sync_once().pending == 0 and dept.status().server_ok:
            return tries
        time.sleep(DRAIN_WAIT_S)
    raise RuntimeError(f"console {dept.syncer.label}: still not synced: {dept.status()}")


def phased_console(job: ConsoleJob, barrier: Any, results: Any) -> None:
    """Half the records with the server up, then (barrier: the server stops) the other half,
    then (barrier: the server is back) sync. Results: (n, pending while away, drain rounds)."""
    dept = _setup(job, period_s=3600.0)
    try:
        half = job.records // 2
        for i in range(half):
            _record(dept, job, i)
        dept.syncer.sync_once()
        barrier.wait()  # everyone has written and sent the first half
        barrier.wait()  # the server is down
        for i in range(half, job.records):
            _record(dept, job, i)
        away = dept.syncer.sync_once()
        barrier.wait()  # everyone has written the second half with the server away
        barrier.wait()  # the server is back
        rounds = _drain(dept)
        results.put((job.n, away.pending, rounds))
    finally:
        dept.close()


def streaming_console(job: ConsoleJob, period_s: float, rate_hz: float, results: Any) -> None:
    """Records at rate_hz with the Syncer thread running (as a console does), then drains.
    Results: (n, most pending seen, seconds from the last record to synced, the wall-clock
    time the outbox was first empty again after the server had been away: NaN if it never
    was away)."""
    dept = _setup(job, period_s=period_s).start()
    most = 0
    away = False
    caught_up = math.nan
    try:
        start = time.monotonic()
        for i in range(job.records):
            _record(dept, job, i)
            status = dept.status()
            most = max(most, status.counts.pending)
            away = away or not status.server_ok
            if away and math.isnan(caught_up) and status.server_ok \
                    and status.counts.pending == 0:
                caught_up = status.last_sync_unix_s
            delay = start + (i + 1) / rate_hz - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        written = time.monotonic()
        dept.syncer.stop(final_sync=False)
        _drain(dept)
        results.put((job.n, most, time.monotonic() - written, caught_up))
    finally:
        dept.close()
