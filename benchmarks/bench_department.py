"""Department benchmark (issue 19): 8 console processes recording 500 measurements each into
one PostgreSQL server through their local outboxes, with the server stopped for 30 s in the
middle; then the server's records are counted, checked for doubles by write identity, verified
and compared value by value with each console's own. Prints figures, no pass/fail.

Also: the same run without an outage (the throughput of 8 consoles syncing at once).

Run: python benchmarks/bench_department.py [--quick]   (needs PostgreSQL's initdb/pg_ctl)
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from probe_nav.cases.store import CaseStore
from probe_nav.storage.urls import KEY_DIR_VAR, parse_database_url
from tests.department_consoles import ConsoleJob, streaming_console
from tests.postgres_server import PostgresServer, find_bindir

CONSOLES = 8
SYNC_PERIOD_S = 2.0  # the consoles' retry period while the server is away


def _values(m: object) -> dict[str, object]:
    fields = dataclasses.asdict(m)  # type: ignore[call-overload]
    return {k: v for k, v in fields.items() if k not in ("measurement_id", "mac", "checksum")}


def run(server: PostgresServer, records: int, rate_hz: float, outage: tuple[float, float] | None,
        root: Path) -> None:
    url = server.new_database("bench")
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    key_dir = root / "keys"
    jobs = [ConsoleJob(n, url, str(key_dir), str(root / f"{Path(url).name}-{n}.sqlite3"),
                       records) for n in range(CONSOLES)]
    procs = [ctx.Process(target=streaming_console, args=(job, SYNC_PERIOD_S, rate_hz, results))
             for job in jobs]
    started = time.monotonic()
    for p in procs:
        p.start()
    back_unix_s = math.nan
    if outage is not None:
        at_s, for_s = outage
        time.sleep(at_s)
        server.pause()
        down = time.monotonic()
        time.sleep(for_s)
        server.resume()
        back_unix_s = time.time()
        print(f"  server stopped at {down - started:.1f} s for {time.monotonic() - down:.1f} s")
    reports = sorted(results.get() for _ in jobs)
    for p in procs:
        p.join()
    wall = time.monotonic() - started
    import os
    os.environ[KEY_DIR_VAR] = str(key_dir)
    db = parse_database_url(url)
    with psycopg.connect(db.conninfo, autocommit=True) as conn:
        conn.execute("SET search_path TO cases")
        n_ops, n_distinct = conn.execute(
            "SELECT count(*), count(DISTINCT op_id) FROM applied_writes").fetchone()
    t0 = time.monotonic()
    with CaseStore.open(db) as store:
        report = store.verify()
        same = 0
        for job in jobs:
            with CaseStore.open(Path(job.local_path)) as local:
                same += int([_values(m) for m in store.measurements(f"C-{job.n}")] ==
                            [_values(m) for m in local.measurements(f"C-{job.n}")])
    verify_s = time.monotonic() - t0
    expected = CONSOLES * (records + 1)
    print(f"  {CONSOLES} consoles x {records} measurements at {rate_hz:g}/s each: {wall:.1f} s "
          f"wall; exit codes {sorted({p.exitcode for p in procs})}")
    print(f"  server: {report.records} records verified (expected {expected}), "
          f"{len(report.problems)} problems; write identities {n_ops}, distinct {n_distinct}; "
          f"consoles identical to the server: {same}/{CONSOLES}; verify+compare {verify_s:.1f} s")
    most = max(r[1] for r in reports)
    drain = max(r[2] for r in reports)
    print(f"  most records waiting on one console: {most}; last record to synced: "
          f"max {drain:.2f} s")
    caught = [r[3] for r in reports if not math.isnan(r[3])]
    if outage is not None and caught:
        print(f"  server back to every console's outbox empty: {max(caught) - back_unix_s:.1f} s "
              f"({len(caught)}/{CONSOLES} consoles saw it while still recording)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 records, 5 s outage")
    args = parser.parse_args()
    bindir = find_bindir()
    if bindir is None:
        print("PostgreSQL is not installed (no initdb/pg_ctl): benchmark skipped")
        return 0
    records, outage = (50, (2.0, 5.0)) if args.quick else (500, (25.0, 30.0))
    rate_hz = records / (15.0 if args.quick else 90.0)
    server = PostgresServer(bindir)
    with tempfile.TemporaryDirectory(prefix="bench-department-") as tmp:
        try:
            server.start()
            print("== as fast as they can, server up")
            run(server, records, 1e6, None, Path(tmp))
            print(f"== {rate_hz:.1f} records/s each, server stopped for {outage[1]:g} s "
                  f"after {outage[0]:g} s")
            run(server, records, rate_hz, outage, Path(tmp))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
