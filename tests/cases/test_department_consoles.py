"""Issue 19's acceptance, many consoles: 8 console processes, each with its own local store and
outbox, writing to one PostgreSQL server that stops in the middle. After sync the server holds
every record once (by count, by op_id and by value) and every chain verifies. The phases are
held by barriers, not timed (benchmarks/bench_department.py runs the real 30 s outage)."""

from __future__ import annotations

import dataclasses
import multiprocessing
from pathlib import Path

import psycopg
import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.storage.urls import parse_database_url
from tests.department_consoles import ConsoleJob, phased_console
from tests.postgres_server import PostgresServer

pytestmark = [pytest.mark.slow]
CONSOLES = 8
RECORDS = 40  # each; the benchmark writes 500
JOIN_S = 150.0  # under pytest-timeout's 180 s: a hung console fails, never blocks the suite


def values(m: object) -> dict[str, object]:
    fields = dataclasses.asdict(m)  # type: ignore[call-overload]
    return {k: v for k, v in fields.items() if k not in ("measurement_id", "mac", "checksum")}


def test_eight_consoles_and_a_server_outage_lose_and_double_nothing(
        own_server: PostgresServer, tmp_path: Path) -> None:
    url = own_server.new_database()
    ctx = multiprocessing.get_context("spawn")  # no pool threads carried into a fork
    barrier, results = ctx.Barrier(CONSOLES + 1, timeout=JOIN_S), ctx.Queue()
    jobs = [ConsoleJob(n, url, str(tmp_path / "keys"), str(tmp_path / f"console{n}.sqlite3"),
                       RECORDS) for n in range(CONSOLES)]
    procs = [ctx.Process(target=phased_console, args=(job, barrier, results)) for job in jobs]
    for p in procs:
        p.start()
    try:
        barrier.wait()  # first halves written and sent
        own_server.pause()
        barrier.wait()
        barrier.wait()  # second halves written with the server away
        own_server.resume()
        barrier.wait()
        reports = sorted(results.get(timeout=JOIN_S) for _ in jobs)
    finally:
        for p in procs:
            p.join(JOIN_S)
            if p.is_alive():
                p.kill()
    assert [p.exitcode for p in procs] == [0] * CONSOLES
    # every console kept its second half while the server was away, and sent it all after
    assert [(n, pending) for n, pending, _ in reports] == \
        [(n, RECORDS // 2) for n in range(CONSOLES)]
    db = parse_database_url(url)
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("SET search_path TO cases")
        ops = conn.execute("SELECT count(*), count(DISTINCT op_id) FROM applied_writes"
                           ).fetchone()
        per_console = conn.execute("SELECT console, count(*) FROM applied_writes "
                                   "GROUP BY console ORDER BY console").fetchall()
    total = CONSOLES * (RECORDS + 1)  # each console's case and its measurements
    assert tuple(ops) == (total, total)
    assert [tuple(r) for r in per_console] == [(f"console-{n}", RECORDS + 1)
                                               for n in range(CONSOLES)]
    with CaseStore.open(db) as server:
        report = server.verify()
        assert report.problems == [] and report.records == total
        for job in jobs:
            with CaseStore.open(Path(job.local_path)) as local:
                assert [values(m) for m in server.measurements(f"C-{job.n}")] == \
                    [values(m) for m in local.measurements(f"C-{job.n}")]
