"""Migrations from every earlier schema version keep every record and its values."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from probe_nav.cases.schema import MIGRATIONS, SCHEMA_VERSION
from probe_nav.cases.store import CaseStore
from probe_nav.storage import StoreError, open_database


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
    assert SCHEMA_VERSION == 2


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


def test_every_earlier_version_migrates(tmp_path: Path) -> None:
    for version in range(SCHEMA_VERSION + 1):
        path = tmp_path / f"v{version}.sqlite3"
        open_database(path, MIGRATIONS[:version]).close()
        with CaseStore.open(path) as store:
            store.create_case("X", "sln-melanoma", "Tc-99m")
            assert [c.case_id for c in store.cases()] == ["X"]


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    CaseStore.open(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        CaseStore.open(path)
