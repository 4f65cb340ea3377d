"""A console on a department server (probe_nav.cases.department): local-first writes queued in
the same transaction, sent in order by the Syncer, each record once on the server, with the
server away, after a lost answer, and when the server refuses one. Real PostgreSQL clusters
(tests/postgres_server.py); the Syncer is driven by sync_once(), never by the wall clock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import psycopg
import pytest

from probe_nav.cases.department import DepartmentCases
from probe_nav.cases.store import CaseStore
from probe_nav.storage import outbox
from probe_nav.storage.urls import KEY_DIR_VAR, DatabaseUrl, parse_database_url
from probe_nav.storage.writes import CONSOLE_VAR
from tests.cases.conftest import result
from tests.in_process import run_main
from tests.postgres_server import PostgresServer

T0_S = 1_700_000_000.0  # fixed times: no wall clock in the records
LONG_S = 3600.0  # the Syncer's period: never reached, rounds are driven by sync_once()


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DatabaseUrl:
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    monkeypatch.setenv(CONSOLE_VAR, "theatre-3")
    return parse_database_url(postgres_url)


def console(url: DatabaseUrl, path: Path) -> DepartmentCases:
    return DepartmentCases(url, path, period_s=LONG_S)


def write_case(store: CaseStore, case_id: str, n: int, first: int = 0) -> None:
    if first == 0:
        store.create_case(case_id, "sln-breast", "Tc-99m", created_unix_s=T0_S)
    for i in range(first, first + n):
        store.record(case_id, f"node {i}", "in_vivo", result(100 + 7 * i),
                     measured_unix_s=T0_S + 10.0 * i)


def same(m: object) -> dict[str, object]:
    """A measurement's values, without what each store gives it (its id and seal)."""
    fields = dataclasses.asdict(m)  # type: ignore[call-overload]
    return {k: v for k, v in fields.items() if k not in ("measurement_id", "id", "mac", "checksum")}


def assert_server_holds_the_console(url: DatabaseUrl, dept: DepartmentCases,
                                    records: int) -> None:
    """Case C-1 on the server equals the console's, value for value, and the server verifies
    with exactly `records` records (none lost, none doubled)."""
    with CaseStore.open(dept.local_path) as local:
        mine = [same(m) for m in local.measurements("C-1")]
    with CaseStore.open(url) as server:
        assert [same(m) for m in server.measurements("C-1")] == mine
        report = server.verify()
    assert report.problems == [] and report.records == records


def server_rows(url: DatabaseUrl, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(url.conninfo, autocommit=True) as conn:
        conn.execute("SET search_path TO cases")
        return [tuple(r) for r in conn.execute(sql).fetchall()]


def test_records_reach_the_server_once_with_their_console(pg: DatabaseUrl,
                                                          tmp_path: Path) -> None:
    dept = console(pg, tmp_path / "local.sqlite3")
    try:
        write_case(dept.store, "C-1", 5)
        first = dept.syncer.sync_once()
        assert (first.sent, first.rejected, first.pending, first.error) == (6, 0, 0, "")
        again = dept.syncer.sync_once()  # nothing left: nothing sent twice
        assert (again.sent, again.pending) == (0, 0)
        assert dept.status().synced and dept.status().server_ok
    finally:
        dept.close()
    assert_server_holds_the_console(pg, dept, records=6)
    consoles = server_rows(pg, "SELECT console, tbl FROM applied_writes ORDER BY seq")
    assert consoles == [("theatre-3", "cases")] + [("theatre-3", "measurements")] * 5


def test_a_record_and_its_queue_entry_are_one_transaction(
        pg: DatabaseUrl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If queueing fails, the local record is not written either: a record can never be on
    the console and missing from what it will send."""
    dept = console(pg, tmp_path / "local.sqlite3")
    try:
        write_case(dept.store, "C-1", 1)

        def broken(*args: object) -> None:
            raise OSError("disk full")
        monkeypatch.setattr("probe_nav.cases.store.enqueue", broken)
        with pytest.raises(OSError):
            dept.store.record("C-1", "late", "in_vivo", result(5), measured_unix_s=T0_S)
        assert [m.node for m in dept.store.measurements("C-1")] == ["node 0"]
    finally:
        monkeypatch.undo()
        dept.close(final_sync=False)


def test_a_write_whose_answer_was_lost_is_not_doubled(pg: DatabaseUrl, tmp_path: Path) -> None:
    """The server committed but the console never heard (the connection died after COMMIT):
    the entry is still queued, and sending it again finds it applied."""
    dept = console(pg, tmp_path / "local.sqlite3")
    try:
        write_case(dept.store, "C-1", 3)
        local_db = dept._open_local()
        try:
            queued, damaged = outbox.pending(local_db)
        finally:
            local_db.close()
        assert damaged == [] and len(queued) == 4
        with CaseStore.open(pg) as server:  # the commits whose answers were lost
            for write in queued[:2]:
                server.apply_queued(write)
        round_ = dept.syncer.sync_once()
        assert (round_.sent, round_.pending) == (4, 0)
    finally:
        dept.close()
    with CaseStore.open(pg) as server:
        assert [m.node for m in server.measurements("C-1")] == ["node 0", "node 1", "node 2"]
        assert server.verify().records == 4


def test_the_server_away_loses_and_doubles_nothing(own_server: PostgresServer,
                                                   tmp_path: Path) -> None:
    url = parse_database_url(own_server.new_database())
    dept = console(url, tmp_path / "local.sqlite3")
    try:
        write_case(dept.store, "C-1", 10)
        assert dept.syncer.sync_once().pending == 0
        own_server.pause()
        write_case(dept.store, "C-1", 15, first=10)  # the console keeps recording
        away = dept.syncer.sync_once()
        assert away.sent == 0 and away.pending == 15 and away.error
        status = dept.status()
        assert not status.server_ok and status.counts.pending == 15 and not status.synced
        assert len(dept.store.measurements("C-1")) == 25  # shown from the console's own copy
        own_server.resume()
        back = dept.syncer.sync_once()
        assert (back.sent, back.pending, back.error) == (15, 0, "")
        assert dept.status().synced and dept.status().server_ok
    finally:
        dept.close()
    assert_server_holds_the_console(url, dept, records=26)


def test_a_refused_case_is_kept_and_its_records_never_land_elsewhere(
        pg: DatabaseUrl, tmp_path: Path) -> None:
    """Two consoles opened case C-1 while apart; the second to sync is refused: its case and
    everything after it stay in its outbox, rejected with the reason, and none of its
    measurements is grafted onto the first console's C-1."""
    a = console(pg, tmp_path / "a.sqlite3")
    b = console(pg, tmp_path / "b.sqlite3")
    try:
        write_case(a.store, "C-1", 2)
        write_case(b.store, "C-1", 3)
        write_case(b.store, "C-2", 1)
        assert a.syncer.sync_once().sent == 3
        round_b = b.syncer.sync_once()
        assert (round_b.sent, round_b.rejected, round_b.pending) == (2, 4, 0)
        status = b.status()
        assert status.counts.rejected == 4 and not status.synced
        kept = b.refused()
        assert [(t, c) for _, t, c, _ in kept] == [("cases", "C-1")] + \
            [("measurements", "C-1")] * 3
        assert "already exists" in kept[0][3] or "refused" in kept[0][3]
        assert all("refused" in reason for *_, reason in kept[1:])
        assert len(b.store.measurements("C-1")) == 3  # still on the console that made them
    finally:
        a.close()
        b.close()
    with CaseStore.open(pg) as server:
        assert [m.node for m in server.measurements("C-1")] == ["node 0", "node 1"]
        assert [m.node for m in server.measurements("C-2")] == ["node 0"]


def test_db_sync_sends_what_waits_and_says_what_was_refused(pg: DatabaseUrl,
                                                             tmp_path: Path) -> None:
    local = tmp_path / "local.sqlite3"
    other = tmp_path / "other.sqlite3"
    dept = console(pg, local)
    write_case(dept.store, "C-1", 2)
    dept.close(final_sync=False)  # the console closed with its records still waiting
    done = run_main("db", "sync", pg.conninfo, "--local", str(local))
    assert (done.returncode, done.stderr) == (0, "")
    assert "3 record(s) sent, 0 waiting, 0 refused" in done.stdout
    again = run_main("db", "sync", pg.conninfo, "--local", str(local))
    assert again.returncode == 0 and "0 record(s) sent, 0 waiting" in again.stdout
    clash = console(pg, other)
    write_case(clash.store, "C-1", 1)  # the same case id, opened on another console
    clash.close(final_sync=False)
    refused = run_main("db", "sync", pg.conninfo, "--local", str(other))
    assert refused.returncode == 1
    assert "0 record(s) sent, 0 waiting, 2 refused" in refused.stdout
    assert "refused cases of 'C-1'" in refused.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (("sqlite:///x.sqlite3",), "PostgreSQL URL"),
    (("postgresql://u@127.0.0.1:1/db", "--local", "/nonexistent/cases.sqlite3"),
     "no such case database"),
])
def test_db_sync_bad_input_is_one_line_exit_2(args: tuple[str, ...], expected: str) -> None:
    done = run_main("db", "sync", *args)
    assert done.returncode == 2 and expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_console_history_joins_a_server_that_holds_records(pg: DatabaseUrl,
                                                             tmp_path: Path) -> None:
    """A single console's cases (written before it joined: no outbox) are sent with
    --history to a server that already holds another console's: every record arrives once,
    equal in value; again adds nothing; a case id the server holds is refused, kept, exit 1."""
    other = console(pg, tmp_path / "other.sqlite3")
    write_case(other.store, "C-OTHER", 2)
    other.syncer.sync_once()
    other.close()
    history = tmp_path / "laptop.sqlite3"
    with CaseStore.open(history) as laptop:  # a single console: no queue
        write_case(laptop, "C-1", 3)
        laptop.add_note("C-1", "node 2 removed", t_unix_s=T0_S + 99)
        write_case(laptop, "C-2", 1)
        laptop.add_session(None, tmp_path / "session-1", T0_S)
    joined = run_main("db", "sync", pg.conninfo, "--local", str(history), "--history")
    assert joined.returncode == 0, joined.stdout + joined.stderr
    assert "8 record(s) of its history queued" in joined.stdout
    assert "8 record(s) sent, 0 waiting, 0 refused" in joined.stdout
    again = run_main("db", "sync", pg.conninfo, "--local", str(history), "--history")
    assert again.returncode == 0 and "8 record(s) sent" in again.stdout  # found applied
    with CaseStore.open(history) as laptop, CaseStore.open(pg) as server:
        for case_id in ("C-1", "C-2"):
            assert [same(m) for m in server.measurements(case_id)] == \
                [same(m) for m in laptop.measurements(case_id)]
        assert server.notes("C-1") == laptop.notes("C-1")
        assert [s.directory for s in server.sessions()] == [str(tmp_path / "session-1")]
        report = server.verify()
    assert report.problems == [] and report.records == 3 + 8  # C-OTHER's 3, the laptop's 8
    clash = tmp_path / "clash.sqlite3"
    with CaseStore.open(clash) as store:
        write_case(store, "C-OTHER", 1)
    refused = run_main("db", "sync", pg.conninfo, "--local", str(clash), "--history")
    assert refused.returncode == 1 and "0 record(s) sent, 0 waiting, 2 refused" in \
        refused.stdout
    with CaseStore.open(pg) as server:
        assert len(server.measurements("C-OTHER")) == 2
