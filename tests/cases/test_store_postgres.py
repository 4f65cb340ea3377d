"""The case store on PostgreSQL (tests/postgres_server.py): the same keyed seals and tamper
rules as on SQLite, the store in its own schema, and several consoles writing one case at once
without a lost, doubled or misplaced record."""

from __future__ import annotations

import threading
from pathlib import Path

import psycopg
import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.storage import KeyFileError, TamperedRecord
from probe_nav.storage.urls import KEY_DIR_VAR, DatabaseUrl, parse_database_url
from tests.cases.conftest import result

T0_S = 1_700_000_000.0  # fixed case time: no wall clock in the records


@pytest.fixture
def pg(postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DatabaseUrl:
    monkeypatch.setenv(KEY_DIR_VAR, str(tmp_path / "keys"))
    return parse_database_url(postgres_url)


def _case(store: CaseStore) -> None:
    store.create_case("C-1", "sln-breast", "Tc-99m", created_unix_s=T0_S,
                      injection_unix_s=T0_S - 3600.0, injected_activity_mbq=37.0)
    for i, (node, counts) in enumerate((("SLN 1", 5000), ("SLN 2", 400), ("SLN 3", 90))):
        store.record("C-1", node, "in_vivo", result(counts), measured_unix_s=T0_S + 60.0 * i)


def _sql(url: DatabaseUrl, *statements: str) -> None:
    """What a database tool does, outside probe-nav."""
    with psycopg.connect(url.conninfo, autocommit=True) as conn:
        conn.execute("SET search_path TO cases")
        for sql in statements:
            conn.execute(sql)


def test_the_store_lives_in_its_own_schema_with_its_key(pg: DatabaseUrl, tmp_path: Path) -> None:
    with CaseStore.open(pg) as store:
        _case(store)
        assert store.verify().problems == []
    with psycopg.connect(pg.conninfo) as conn:
        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cases'")}
    assert {"cases", "measurements", "seal_heads", "seal_meta", "probe_nav_meta"} <= tables
    (key,) = (tmp_path / "keys").iterdir()
    assert key.name.endswith("-cases.key") and "cases" in key.name
    with CaseStore.open(pg) as again:  # reopened: same key, same records
        assert [m.node for m in again.measurements("C-1")] == ["SLN 1", "SLN 2", "SLN 3"]


@pytest.mark.parametrize(("tamper", "expected"), [
    ("UPDATE measurements SET counts = 40000 WHERE node = 'SLN 2'", "fails its checksum"),
    ("DELETE FROM measurements WHERE node = 'SLN 3'", "missing"),
    ("DELETE FROM measurements WHERE node = 'SLN 2'", "missing"),
    ("UPDATE measurements SET seq = 9 WHERE node = 'SLN 1'", "fails its checksum"),
])
def test_a_changed_case_is_refused_whole(pg: DatabaseUrl, tamper: str, expected: str) -> None:
    with CaseStore.open(pg) as store:
        _case(store)
        _sql(pg, tamper)
        with pytest.raises(TamperedRecord, match=expected) as err:
            store.measurements("C-1")
        assert "\n" not in str(err.value)
        assert store.verify().problems


def test_a_whole_case_deleted_with_its_head_shows_in_the_ledger(pg: DatabaseUrl) -> None:
    with CaseStore.open(pg) as store:
        _case(store)
        store.create_case("C-2", "sln-melanoma", "Tc-99m", created_unix_s=T0_S + 10.0)
        _sql(pg, "DELETE FROM measurements", "DELETE FROM cases WHERE case_id = 'C-1'",
             "DELETE FROM seal_heads WHERE chain = 'C-1'")
        with pytest.raises(TamperedRecord, match="missing from the database"):
            store.cases()


def test_another_key_is_told_apart_from_tampering(pg: DatabaseUrl, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    with CaseStore.open(pg) as store:
        _case(store)
    (key,) = (tmp_path / "keys").iterdir()
    other = tmp_path / "other-keys"
    monkeypatch.setenv(KEY_DIR_VAR, str(other))
    with pytest.raises(KeyFileError, match=r"key file .* is missing"):
        CaseStore.open(pg)
    other.mkdir()
    (other / key.name).write_text("ab" * 32 + "\n")  # a well-formed key, not this store's
    with pytest.raises(TamperedRecord, match="does not belong to this database"):
        CaseStore.open(pg)


def test_consoles_writing_one_case_at_once_lose_and_double_nothing(pg: DatabaseUrl) -> None:
    """4 consoles (each its own store and pool) add 30 measurements each to one case at the
    same time: 120 measurements, each once, one unbroken chain (verify is clean). Exact
    counts: any lost or doubled record, or two records given one place, fails it."""
    consoles, each = 4, 30
    with CaseStore.open(pg) as first:
        first.create_case("C-1", "sln-breast", "Tc-99m", created_unix_s=T0_S)
    errors: list[BaseException] = []

    def console(n: int) -> None:
        try:
            with CaseStore.open(pg) as store:
                for i in range(each):
                    store.record("C-1", f"console {n} node {i}", "in_vivo", result(100 + i),
                                 measured_unix_s=T0_S + n + i * 10.0)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=console, args=(n,)) for n in range(consoles)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with CaseStore.open(pg) as store:
        nodes = [m.node for m in store.measurements("C-1")]
        report = store.verify()
    assert len(nodes) == consoles * each and len(set(nodes)) == consoles * each
    assert report.problems == [] and report.records == consoles * each + 1
