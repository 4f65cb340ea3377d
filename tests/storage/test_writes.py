"""Write identities (probe_nav.storage.writes): a write sent again under its op_id returns the
record already written instead of a second one, on both stores and both backends; every write
says which console made it; and `db copy` carries the identities, so that a console's outbox
never doubles what a copy already brought."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe_nav.cases.department import DepartmentCases
from probe_nav.cases.store import CaseStore
from probe_nav.errors import UserError
from probe_nav.qc.store import QcStore
from probe_nav.storage.urls import KEY_DIR_VAR, DatabaseUrl, parse_database_url
from probe_nav.storage.writes import CONSOLE_VAR, check_op_id, consoles, new_op_id
from tests.cases.conftest import result
from tests.in_process import run_main

T0_S = 1_700_000_000.0
WHEN = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> DatabaseUrl:
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    monkeypatch.setenv(CONSOLE_VAR, "qc-station-1")
    if request.param == "sqlite":
        return parse_database_url(str(tmp_path / "store.sqlite3"))
    return parse_database_url(request.getfixturevalue("postgres_url"))


def test_op_ids_are_checked() -> None:
    assert check_op_id(new_op_id()) and new_op_id() != new_op_id()
    for bad in ("", "x" * 32, new_op_id()[:31], new_op_id().upper()):
        with pytest.raises(ValueError):
            check_op_id(bad)


def test_a_case_write_sent_twice_is_written_once(url: DatabaseUrl) -> None:
    op_case, op_m, op_note = new_op_id(), new_op_id(), new_op_id()
    with CaseStore.open(url) as store:
        for _ in range(2):
            store.create_case("C-1", "sln-breast", "Tc-99m", created_unix_s=T0_S, op_id=op_case)
            first = store.record("C-1", "SLN 1", "in_vivo", result(500),
                                 measured_unix_s=T0_S + 5, op_id=op_m)
            store.add_note("C-1", "removed", t_unix_s=T0_S + 9, op_id=op_note)
        again = store.record("C-1", "SLN 1", "in_vivo", result(500), measured_unix_s=T0_S + 5,
                             op_id=op_m)
        assert (again.measurement_id, again.checksum) == (first.measurement_id, first.checksum)
        assert len(store.measurements("C-1")) == 1 and len(store.notes("C-1")) == 1
        report = store.verify()
        assert report.problems == [] and report.records == 3
        by_mac = consoles(store._conn)
        assert set(by_mac.values()) == {"qc-station-1"} and len(by_mac) == 3
        # an op_id names one write: used for another record, it is refused, not applied
        with pytest.raises(UserError, match="applied to another record"):
            store.add_note("C-1", "other", op_id=op_m)


def test_a_qc_record_sent_twice_is_written_once(url: DatabaseUrl) -> None:
    op = new_op_id()
    with QcStore(url) as store:
        probe = store.probe("PN-1", "SN42", "CdTe")
        records = [store.add(probe, "qc", "daily", {"rate_cps": 1000.0}, operator="ann",
                             source="sim", raw_data="-", passed=True, when=WHEN, op_id=op)
                   for _ in range(3)]
        assert len({r.id for r in records}) == 1
        assert len(store.records(probe)) == 1
        problems, _, _ = store.verify()
        assert problems == []


def test_db_copy_carries_write_identities(postgres_url: str, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """A console's local store copied into the department server, then its outbox sent:
    every record is found already applied, none doubled."""
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    server = parse_database_url(postgres_url)
    local = tmp_path / "console.sqlite3"
    dept = DepartmentCases(server, local, period_s=3600.0)
    dept.store.create_case("C-1", "sln-breast", "Tc-99m", created_unix_s=T0_S)
    for i in range(4):
        dept.store.record("C-1", f"node {i}", "in_vivo", result(10 + i),
                          measured_unix_s=T0_S + i)
    dept.close(final_sync=False)
    copied = run_main("db", "copy", str(local), postgres_url, "--store", "cases")
    assert copied.returncode == 0, copied.stderr
    sync = run_main("db", "sync", postgres_url, "--local", str(local))
    assert sync.returncode == 0 and "5 record(s) sent, 0 waiting" in sync.stdout
    with CaseStore.open(server) as store:
        assert len(store.measurements("C-1")) == 4
        assert store.verify().records == 5
