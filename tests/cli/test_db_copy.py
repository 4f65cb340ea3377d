"""`probe-nav db copy SRC DST`: a console's SQLite history into PostgreSQL and back without loss
(same rows, same seals, same key; verified record by record), never into a store that holds
records; and `db migrate`."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.qc.schema import MIGRATIONS as QC_MIGRATIONS
from probe_nav.qc.store import QcStore
from probe_nav.storage.sqlite import canonical_json
from probe_nav.storage.urls import KEY_DIR_VAR, parse_database_url
from tests.backends import Db
from tests.cases.conftest import result
from tests.in_process import run_main
from tests.qc.test_store import fill

T0_S = 1_700_000_000.0
CASE_TABLES = ("cases", "measurements", "case_notes", "sessions", "retention_points",
               "seal_heads", "seal_meta")


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    return postgres_url


def _history(path: Path, cases: int = 3, counts: int = 20) -> None:
    """A console's history: cases with measurements, a note, a session and retention points."""
    with CaseStore.open(path) as store:
        for c in range(cases):
            case_id = f"C-{c}"
            store.create_case(case_id, "sln-breast", "Tc-99m", created_unix_s=T0_S + c,
                              injection_unix_s=T0_S - 3600.0, injected_activity_mbq=37.0)
            for i in range(counts):
                store.record(case_id, f"SLN {i}", "in_vivo", result(100 + 37 * i),
                             measured_unix_s=T0_S + c + 0.1 * i)
            store.add_note(case_id, "SLN 2 left in situ", t_unix_s=T0_S + c + 5.0)
            store.add_session(case_id, Path(f"/sessions/{case_id}"), T0_S + c + 1.0)
        store.add_session(None, Path("/sessions/training"), T0_S + 99.0)


def _dump(path: Path) -> dict[str, list[str]]:
    """Every row of the case tables, as canonical JSON, sorted (rowid aside)."""
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        out = {t: sorted(canonical_json(dict(r)) for r in conn.execute(f"SELECT * FROM {t}"))
               for t in CASE_TABLES}
    conn.close()
    return out


def test_a_history_goes_to_postgresql_and_back_identical(pg: str, tmp_path: Path) -> None:
    src, back = tmp_path / "console.sqlite3", tmp_path / "back.sqlite3"
    _history(src)
    done = run_main("db", "copy", str(src), pg, "--store", "cases")
    assert done.returncode == 0, done.stderr
    records = 3 * (1 + 20 + 1 + 1) + 1
    assert f"{records} cases record(s) copied" in done.stdout
    assert "every record verified" in done.stdout
    with CaseStore.open(src) as a, CaseStore.open(parse_database_url(pg)) as b:
        assert b.cases() == a.cases()
        assert b.measurements("C-1") == a.measurements("C-1")
        assert b.notes("C-2") == a.notes("C-2") and b.sessions() == a.sessions()
        m = b.record("C-1", "SLN new", "in_vivo", result(500), measured_unix_s=T0_S + 50.0)
        assert m.measurement_id == 3 * 20 + 1  # the id sequence continues after the copy
        assert b.verify().problems == []
    done = run_main("db", "copy", pg, f"sqlite:///{back}", "--store", "cases")
    assert done.returncode == 0, done.stderr
    before, after = _dump(src), _dump(back)
    assert len(after["measurements"]) == len(before["measurements"]) + 1
    new = set(after["measurements"]) - set(before["measurements"])
    assert len(new) == 1 and "SLN new" in next(iter(new))
    for table in ("cases", "case_notes", "sessions", "retention_points"):
        assert after[table] == before[table], table


def test_a_store_with_records_is_never_overwritten(pg: str, tmp_path: Path) -> None:
    src = tmp_path / "console.sqlite3"
    _history(src, cases=1, counts=2)
    assert run_main("db", "copy", str(src), pg, "--store", "cases").returncode == 0
    again = run_main("db", "copy", str(src), pg, "--store", "cases")
    assert again.returncode == 2
    assert "already holds 6 record(s)" in again.stderr  # case, 2 counts, note, 2 sessions
    assert len(again.stderr.strip().splitlines()) == 1
    with CaseStore.open(parse_database_url(pg)) as store:
        assert store.verify().problems == [] and len(store.measurements("C-0")) == 2


def test_qc_records_copy_with_their_seals(pg: str, tmp_path: Path) -> None:
    src = tmp_path / "qc.sqlite"
    fill(Db("sqlite", str(src), src, "qc"))
    done = run_main("db", "copy", str(src), pg, "--store", "qc")
    assert done.returncode == 0, done.stderr
    with QcStore(src) as a, QcStore(parse_database_url(pg)) as b:
        assert b.records() == a.records() and b.verify_all() == []


def test_sqlite_needs_one_store_and_a_missing_source_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "console.sqlite3"
    _history(src, cases=1, counts=1)
    both = run_main("db", "copy", str(src), str(tmp_path / "b.sqlite3"))
    assert both.returncode == 2 and "--store cases or --store qc" in both.stderr
    missing = run_main("db", "copy", str(tmp_path / "none.sqlite3"), str(tmp_path / "c.sqlite3"),
                       "--store", "cases")
    assert missing.returncode == 2 and "no such database file" in missing.stderr


def test_migrate_brings_both_stores_to_the_current_schema(pg: str) -> None:
    done = run_main("db", "migrate", "--db", pg)
    assert done.returncode == 0, done.stderr
    from probe_nav.cases.schema import SCHEMA_VERSION

    assert f"(schema cases): cases store at schema version {SCHEMA_VERSION}" in done.stdout
    assert f"(schema qc): qc store at schema version {len(QC_MIGRATIONS)}" in done.stdout
