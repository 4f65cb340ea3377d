"""The console on a department server (probe_nav.gui.department_link, probe_nav.gui.sync_banner):
with a PostgreSQL case database the panels write the console's local SQLite copy (never the
server, so the live display never waits on the network), each record is queued and reaches the
server when the syncer runs, and the RECORDS NOT SYNCED banner says what waits.

Real parts: throwaway PostgreSQL clusters (tests/postgres_server.py; skipped with one line where
PostgreSQL is not installed) and real Qt widgets (offscreen). The syncer is driven by
sync_once() and the banner by refresh(now), never by the wall clock; the one test of the
background thread waits with a bound on a hang, not on speed.
"""

from __future__ import annotations

import dataclasses
import math
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.gui import style
from probe_nav.gui.audio_bridge import AudioBridge
from probe_nav.gui.department_link import ConsoleCaseDb
from probe_nav.gui.settings import GuiSettings
from probe_nav.gui.sync_banner import GRACE_S, TITLE, clock_text, not_synced_text
from probe_nav.gui.window import ConsoleWindow
from probe_nav.storage.outbox import OutboxCounts
from probe_nav.storage.sync import SyncStatus
from probe_nav.storage.urls import ENV_VAR, KEY_DIR_VAR, parse_database_url
from tests.cases.conftest import result
from tests.gui.conftest import WAIT_MS
from tests.postgres_server import PostgresServer

LONG_S = 3600.0  # the syncer's period: never reached; rounds come from sync_once() or a write
# a fixed local time (10:42 on the console's clock, whatever its time zone) for the banner texts
T_S = time.mktime((2026, 11, 29, 10, 42, 0, 0, 0, -1))


def status(pending: int = 0, rejected: int = 0, oldest_unix_s: float = math.nan,
           server_ok: bool = True, last_sync_unix_s: float = math.nan) -> SyncStatus:
    return SyncStatus(OutboxCounts(pending, rejected, oldest_unix_s), server_ok,
                      "" if server_ok else "cannot connect", last_sync_unix_s)


# ---------------------------------------------------------------- the text, without Qt


def test_the_banner_is_hidden_while_synced_and_off_a_department_server() -> None:
    assert not_synced_text(None, T_S, T_S - 100) == ""  # SQLite: no syncer at all
    assert not_synced_text(status(last_sync_unix_s=T_S - 5), T_S, T_S - 10) == ""
    assert not_synced_text(status(), T_S) == ""  # nothing written, nothing waiting


def test_a_short_wait_with_the_server_there_is_not_news() -> None:
    waiting = status(pending=3, oldest_unix_s=T_S)
    assert not_synced_text(waiting, T_S + GRACE_S / 2) == ""
    assert not_synced_text(waiting, T_S + GRACE_S + 1) == (
        f"{TITLE}  —  3 waiting since 10:42 (sending)")


def test_records_waiting_for_a_server_away_show_at_once_with_count_and_time() -> None:
    away = status(pending=7, oldest_unix_s=T_S, server_ok=False)
    assert not_synced_text(away, T_S + 0.1) == (
        "RECORDS NOT SYNCED  —  7 waiting since 10:42 (server away)")
    # waiting since another day: the date too, not a bare time that reads as today's
    assert not_synced_text(away, T_S + 86400.0) == (
        f"RECORDS NOT SYNCED  —  7 waiting since {clock_text(T_S, T_S + 86400.0)} "
        "(server away)")
    assert clock_text(T_S, T_S + 86400.0).endswith(" 10:42") and \
        clock_text(T_S, T_S + 86400.0) != "10:42"


def test_records_the_server_refused_are_counted() -> None:
    refused = status(rejected=2, last_sync_unix_s=T_S)
    assert not_synced_text(refused, T_S) == "RECORDS NOT SYNCED  —  2 refused by the server"
    both = status(pending=4, rejected=1, oldest_unix_s=T_S, server_ok=False)
    assert not_synced_text(both, T_S + 60) == (
        "RECORDS NOT SYNCED  —  4 waiting since 10:42 (server away); 1 refused by the server")


def test_a_write_no_round_has_confirmed_shows_after_the_grace() -> None:
    """The status is as old as the syncer's last round (a round with the server away takes its
    connection timeout): a write after a synced round is flagged until a round confirms it."""
    synced_before = status(last_sync_unix_s=T_S - 30)
    assert not_synced_text(synced_before, T_S + GRACE_S / 2, T_S) == ""
    assert not_synced_text(synced_before, T_S + GRACE_S + 1, T_S) == (
        "RECORDS NOT SYNCED  —  records since 10:42 waiting (not yet confirmed by the server)")
    never_synced = status()
    assert TITLE in not_synced_text(never_synced, T_S + GRACE_S + 1, T_S)
    confirmed = status(last_sync_unix_s=T_S + 0.5)
    assert not_synced_text(confirmed, T_S + 100, T_S) == ""


# ---------------------------------------------------------------- the console, with Qt


@pytest.fixture
def keys(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))


def console(qtbot, **kwargs: object) -> ConsoleWindow:
    """The console without a device (no frames needed to record a count), sound off."""
    window = ConsoleWindow(GuiSettings(), persist=False, audio=AudioBridge(enabled=False),
                           **kwargs)  # type: ignore[arg-type]
    qtbot.addWidget(window)
    window.resize(1600, 1000)
    window.show()
    return window


def record_node(window: ConsoleWindow, case_id: str | None, node: str, counts: int) -> bool:
    """What the surgeon does: a timed count finished, name it, press Record (N)."""
    if case_id is not None and window.cases.case_id != case_id:
        assert window.cases.new_case(case_id) == case_id, window.cases.pending_label.text()
    window.cases.offer(result(counts))
    window.cases.node_name.setText(node)
    window.cases.select_kind("in_vivo")
    window.cases.record_last()
    return window.cases.pending is None  # recorded: nothing pending any more


@contextmanager
def no_server_connections(monkeypatch) -> Iterator[list[str]]:
    """Every PostgreSQL store opened meanwhile, by thread name (the console's must be none)."""
    from probe_nav.storage import pg

    opened: list[str] = []
    original = pg.PostgresDatabase.__init__

    def spy(self, *args: object, **kwargs: object) -> None:
        opened.append(threading.current_thread().name)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    with monkeypatch.context() as m:
        m.setattr(pg.PostgresDatabase, "__init__", spy)
        yield opened


def same(m: object) -> dict[str, object]:
    """A record's values without what each store gives it (its id and seal)."""
    values = dataclasses.asdict(m)  # type: ignore[call-overload]
    return {k: v for k, v in values.items()
            if k not in ("measurement_id", "point_id", "id", "mac", "checksum")}


def server_measurements(url: str, case_id: str) -> list[dict[str, object]]:
    with CaseStore.open(parse_database_url(url)) as server:
        assert server.verify().problems == []
        return [same(m) for m in server.measurements(case_id)]


def local_measurements(db: ConsoleCaseDb, case_id: str) -> list[dict[str, object]]:
    assert db.path is not None
    with CaseStore.open(db.path) as local:
        return [same(m) for m in local.measurements(case_id)]


def test_on_sqlite_nothing_changes(qtbot, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    path = tmp_path / "cases.sqlite3"
    window = console(qtbot, case_store_path=str(path))
    try:
        assert window.case_db.department is None and window.case_db.status() is None
        assert window.cases.store_path == path and not window.cases.queue
        assert window.dosimetry.cases.store_path == path and not window.dosimetry.cases.queue
        assert record_node(window, "C-1", "SLN 1", 900)
        assert window.sync_banner.isHidden() and not window.sync_banner.timer.isActive()
        assert window.sync_banner.refresh(time.time() + 100) == ""
    finally:
        window.shutdown()
    with CaseStore.open(path) as store:
        assert [m.counts for m in store.measurements("C-1")] == [900]
        assert store.queue is False


def test_a_record_lands_locally_at_once_and_on_the_server_after_sync(
        qtbot, postgres_url: str, keys, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, postgres_url)
    db = ConsoleCaseDb(None, period_s=LONG_S, background=False)
    assert db.on_server and db.department is not None and db.error == ""
    assert db.path == tmp_path / "data" / "cases.sqlite3"  # the default file (PROBE_NAV_DATA_DIR)
    window = console(qtbot, case_db=db)
    try:
        assert window.cases.queue and window.cases.store_path == db.path
        with no_server_connections(monkeypatch) as opened:
            assert record_node(window, "C-1", "SLN 1", 1200)
            assert record_node(window, None, "SLN 2", 300)
        assert opened == []  # the panel never touched the server
        local = local_measurements(db, "C-1")
        assert [(m["node"], m["counts"]) for m in local] == [("SLN 1", 1200), ("SLN 2", 300)]
        with CaseStore.open(parse_database_url(postgres_url)) as server:
            assert server.cases() == []  # not yet: nothing was sent
        written = db.last_write_unix_s
        assert math.isfinite(written)
        # no round yet: hidden within the grace, flagged after it
        assert window.sync_banner.refresh(written + GRACE_S / 2) == ""
        assert TITLE in window.sync_banner.refresh(written + GRACE_S + 1)
        assert not window.sync_banner.isHidden()

        sent = db.department.syncer.sync_once()
        assert (sent.sent, sent.rejected, sent.pending, sent.error) == (3, 0, 0, "")
        assert server_measurements(postgres_url, "C-1") == local
        assert window.sync_banner.refresh(written + 60) == ""
        assert window.sync_banner.isHidden()
    finally:
        window.shutdown()


def test_the_dosimetry_tab_writes_the_local_copy_and_it_is_sent(
        qtbot, postgres_url: str, keys, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, postgres_url)
    db = ConsoleCaseDb(None, period_s=LONG_S, background=False)
    window = console(qtbot, case_db=db)
    try:
        assert window.dosimetry.cases.store_path == db.path and window.dosimetry.cases.queue
        with CaseStore.open(db.path, queue=True) as local:  # a therapy case, as the CLI makes
            injected = time.time() - 3 * 86400.0  # the store refuses times far from now
            local.create_case("LU-9", "psma", "Lu-177", created_unix_s=injected + 60,
                              injection_unix_s=injected)
        with no_server_connections(monkeypatch) as opened:
            point = window.dosimetry.cases.add("LU-9", counts=5000, live_s=60.0,
                                               geometry="anterior 1 m",
                                               background=(2.0, 0.2), time_h=24.0)
        assert opened == [] and math.isfinite(db.last_write_unix_s)
        assert db.department.syncer.sync_once().pending == 0
        with CaseStore.open(parse_database_url(postgres_url)) as server:
            assert [same(p) for p in server.retention_points("LU-9")] == [same(point)]
    finally:
        window.shutdown()


def test_the_server_away_the_console_records_and_says_so_until_it_is_back(
        qtbot, own_server: PostgresServer, monkeypatch) -> None:
    url = own_server.new_database()
    monkeypatch.setenv(ENV_VAR, url)
    db = ConsoleCaseDb(None, period_s=LONG_S, background=False)
    window = console(qtbot, case_db=db)
    banner = window.sync_banner
    try:
        assert record_node(window, "C-1", "SLN 1", 800)
        assert db.department.syncer.sync_once().pending == 0
        assert banner.refresh() == "" and banner.isHidden()

        own_server.pause()  # the server goes away
        with no_server_connections(monkeypatch) as opened:
            assert record_node(window, None, "SLN 2", 400)
            assert record_node(window, None, "SLN 3", 90)
        assert opened == []  # recorded without a word to the server: nothing to wait for
        assert [m["node"] for m in local_measurements(db, "C-1")] == ["SLN 1", "SLN 2", "SLN 3"]
        assert "SLN 3" in window.cases.pending_label.text()

        away = db.department.syncer.sync_once()  # fails: the connection timeout (10 s)
        assert away.sent == 0 and away.pending == 2 and away.error
        oldest = db.status().counts.oldest_unix_s
        text = banner.refresh()
        assert text == (f"RECORDS NOT SYNCED  —  2 waiting since "
                        f"{clock_text(oldest, time.time())} (server away)")
        assert not banner.isHidden() and banner.text() == text
        sheet = banner.styleSheet()  # the console's warning banners: amber, bold, large
        assert style.WARNING in sheet and "font-weight: bold" in sheet
        assert f"font-size: {style.BANNER_PT}pt" in sheet

        own_server.resume()
        back = db.department.syncer.sync_once()
        assert (back.sent, back.pending, back.error) == (2, 0, "")
        assert banner.refresh() == "" and banner.isHidden()
        assert server_measurements(url, "C-1") == local_measurements(db, "C-1")
    finally:
        window.shutdown()


def test_the_window_starts_the_syncer_and_a_write_is_sent_without_waiting_a_period(
        qtbot, postgres_url: str, keys, monkeypatch) -> None:
    """The window runs the syncer's thread; a record nudges it (the period is an hour)."""
    monkeypatch.setenv(ENV_VAR, postgres_url)
    db = ConsoleCaseDb(None, period_s=LONG_S)
    window = console(qtbot, case_db=db)
    try:
        assert window.sync_banner.timer.isActive()
        # the thread's first round (an empty outbox) has been published
        qtbot.waitUntil(lambda: math.isfinite(db.status().last_sync_unix_s), timeout=WAIT_MS)
        assert record_node(window, "C-1", "SLN 1", 1500)

        def on_server() -> bool:
            with psycopg.connect(postgres_url, autocommit=True) as conn:
                if conn.execute("SELECT to_regclass('cases.measurements')").fetchone()[0] is None:
                    return False  # the first round had nothing to send: no schema yet
                return conn.execute("SELECT count(*) FROM cases.measurements").fetchone()[0] == 1
        qtbot.waitUntil(on_server, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: db.status().synced and db.status().last_sync_unix_s
                        >= db.last_write_unix_s, timeout=WAIT_MS)
        assert window.sync_banner.refresh() == ""
    finally:
        window.shutdown()
    assert not db.department.syncer._thread  # stopped with the window
    window.shutdown()  # twice (closeEvent, then a caller): harmless


def test_a_console_whose_local_copy_cannot_open_says_so_and_never_asks_the_server(
        qtbot, tmp_path: Path, keys, monkeypatch) -> None:
    """The local file cannot be made (its folder is a file): the window still opens, and the
    panel says on Record why nothing was recorded; the server is not tried instead."""
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(blocker))
    monkeypatch.setenv(ENV_VAR, "postgresql://probe_nav@127.0.0.1:9/nowhere")
    with no_server_connections(monkeypatch) as opened:
        window = console(qtbot)
        try:
            db = window.case_db
            assert db.on_server and db.department is None and str(blocker) in db.error
            assert not record_node(window, None, "SLN 1", 500)
            assert "no case could be opened" in window.cases.pending_label.text()
            assert window.sync_banner.refresh() == ""  # nothing was written: nothing waits
        finally:
            window.shutdown()
    assert opened == []


def test_a_bad_database_url_is_said_on_use_as_before(qtbot, monkeypatch) -> None:
    monkeypatch.setenv(ENV_VAR, "mysql://somewhere/db")
    window = console(qtbot)
    try:
        assert not window.case_db.on_server and "unknown database URL scheme" in \
            window.case_db.error
        assert not record_node(window, None, "SLN 1", 500)
        assert "unknown database URL scheme" in window.cases.pending_label.text()
    finally:
        window.shutdown()


def closed_port_url() -> str:
    """A PostgreSQL URL on loopback where nothing listens (the port was free a moment ago)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://probe_nav@127.0.0.1:{port}/department"


def test_records_left_queued_by_the_last_session_show_before_any_round(
        qtbot, keys, monkeypatch) -> None:
    """A console restarted with records still queued: the banner says so at once, not only
    after the syncer's first round (with the server away, its connection timeout)."""
    monkeypatch.setenv(ENV_VAR, closed_port_url())
    first = console(qtbot, case_db=ConsoleCaseDb(None, period_s=LONG_S, background=False))
    try:
        assert record_node(first, "C-1", "SLN 1", 700)
        assert record_node(first, None, "SLN 2", 70)
    finally:
        first.shutdown()  # no round has ended: no last send tried (it would wait 10 s)
    again = console(qtbot, case_db=ConsoleCaseDb(None, period_s=LONG_S, background=False))
    try:
        status = again.case_db.status()
        assert status is not None and status.counts.pending == 3  # the case and two nodes
        oldest = status.counts.oldest_unix_s
        assert again.sync_banner.refresh(oldest + GRACE_S + 1) == (
            f"RECORDS NOT SYNCED  —  3 waiting since {clock_text(oldest, oldest)} (sending)")
        assert not again.sync_banner.isHidden()
    finally:
        again.shutdown()
