"""Migrations from every earlier schema version keep every record and its values.
SQLite-only: the earlier versions are SQLite files older probe-navs wrote (no PostgreSQL store
predates schema v4)."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from probe_nav.cases.identifiers import CaseIdentifiers
from probe_nav.cases.schema import MIGRATIONS, SCHEMA_VERSION
from probe_nav.cases.store import CaseStore
from probe_nav.storage import StoreError, TamperedRecord, key_path, open_database
from tests.in_process import run_main


def _v1_database(path: Path) -> None:
    """A database exactly as version 1 of probe-nav wrote it."""
    conn = open_database(path, MIGRATIONS[:1])
    conn.execute("INSERT INTO cases (case_id, procedure, nuclide, created_unix_s, "
                 "injected_activity_mbq, injection_unix_s, probe) VALUES "
                 "('OLD-1', 'parathyroid', 'Tc-99m', 1000.0, 740.0, 500.0, 'PL-1 0001')")
    rows = [("OLD-1", "background", "background", 600.0, 300, 10.0, 30.0, 1.73, 0.0, 30.0,
             1.73, 1.0),
            ("OLD-1", "left inferior", "ex_vivo", 900.0, 120, 10.0, 12.0, 1.1, 30.0, -18.0,
             2.0, 1.05)]
    conn.executemany("INSERT INTO measurements (case_id, node, kind, measured_unix_s, counts, "
                     "live_s, rate_cps, rate_sd_cps, background_cps, net_cps, net_sd_cps, "
                     "decay_factor) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)
    conn.close()


def test_schema_versions_are_counted() -> None:
    assert SCHEMA_VERSION == 6


def test_v1_to_current_keeps_records_and_adds_checksums(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    _v1_database(path)
    with CaseStore.open(path) as store:
        version = store._conn.execute("PRAGMA user_version").fetchone()[0]
        assert version == SCHEMA_VERSION
        case = store.case("OLD-1")
        assert (case.procedure, case.injected_activity_mbq, case.operator) == (
            "parathyroid", 740.0, "")
        ms = store.measurements("OLD-1")
        assert store.skipped_records == 0  # checksums were backfilled correctly
        assert [(m.node, m.counts, m.real_s) for m in ms] == [
            ("background", 300, 10.0), ("left inferior", 120, 10.0)]
        assert ms[0].significant and not ms[1].significant  # from the v1 background
        assert ms[0].background_sd_cps == -1.0  # unknown in v1
        table = store.node_table("OLD-1")
        (row,) = table.rows
        verdict = {v.rule: v for v in row.verdicts}["parathyroid_20"]
        assert verdict.value == pytest.approx(100 * 12.0 * 1.05 / 30.0)
        # the migrated database takes new records
        store.add_note("OLD-1", "adenoma confirmed by frozen section")
        assert [n.text for n in store.notes("OLD-1")] == ["adenoma confirmed by frozen section"]
        # and retention points (schema v4) in the same chain (1000 s after its injection)
        point = store.add_retention_point("OLD-1", counts=50, live_s=10.0, geometry="1m",
                                          time_h=0.25)
        assert store.retention_points("OLD-1") == [point]
        # and DICOM identifiers (schema v5), sealed in the same chain
        ids = store.set_identifiers("OLD-1", CaseIdentifiers("MRN-1", accession_number="A1"))
        assert store.identifiers("OLD-1") == ids
        assert not store.verify().problems


def test_every_earlier_version_migrates(tmp_path: Path) -> None:
    for version in range(SCHEMA_VERSION + 1):
        path = tmp_path / f"v{version}.sqlite3"
        open_database(path, MIGRATIONS[:version]).close()
        with CaseStore.open(path) as store:
            store.create_case("X", "sln-melanoma", "Tc-99m")
            assert [c.case_id for c in store.cases()] == ["X"]
            assert store.identifiers("X") is None
            ids = store.set_identifiers("X", CaseIdentifiers("P1"))
            assert store.identifiers("X") == ids and not store.verify().problems


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    CaseStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        CaseStore.open(path)


def test_v2_database_gets_a_private_key_and_keyed_seals_with_a_record_of_it(
        tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    _v1_database(path)
    open_database(path, MIGRATIONS[:2]).close()  # as probe-nav with unkeyed checksums left it
    assert not key_path(path).exists()
    with CaseStore.open(path) as store:
        assert [m.counts for m in store.measurements("OLD-1")] == [300, 120]
        assert store.upgrade_note() is not None
        assert store.upgrade_note().startswith(  # type: ignore[union-attr]
            "3 record(s) verified under unkeyed SHA-256 (schema v2) checksums and re-sealed")
        rows = store._conn.execute("SELECT checksum, mac FROM measurements").fetchall()
        assert all(r[0] == "" and len(r[1]) == 64 for r in rows)  # the old checksums retired
    assert stat.S_IMODE(key_path(path).stat().st_mode) == 0o600
    assert key_path(path).parent == path.parent
    done = run_main("case", "verify", "--db", str(path))
    assert done.returncode == 0, done.stderr
    assert "re-sealed with keyed seals" in done.stdout.splitlines()[-1]
    key = key_path(path).read_bytes()
    CaseStore.open(path).close()  # a second opening neither re-keys nor re-seals
    assert key_path(path).read_bytes() == key
    # a re-sealed record changed afterwards is caught like any other
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE measurements SET counts = 3000 WHERE node = 'background'")
    conn.close()
    with CaseStore.open(path) as store, pytest.raises(TamperedRecord, match="fails its checksum"):
        store.measurements("OLD-1")


def test_v2_database_failing_its_old_checksums_is_not_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    _v1_database(path)
    open_database(path, MIGRATIONS[:2]).close()
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE measurements SET counts = 121 WHERE counts = 120")
    conn.close()
    with pytest.raises(StoreError, match=r"not upgraded to keyed checksums: measurement 2 of "
                                         r"case 'OLD-1' fails its checksum; the file is unchanged"):
        CaseStore.open(path)
    done = run_main("case", "list", "--db", str(path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()
    with sqlite3.connect(path) as conn:  # every row as it was: nothing re-sealed
        assert conn.execute("SELECT count(*) FROM measurements").fetchone()[0] == 2
        columns = [r[1] for r in conn.execute("PRAGMA table_info(measurements)")]
        assert "mac" not in columns
    assert not key_path(path).exists()  # no key made for a database left as it was
    conn.close()
