"""CaseStore: records, node tables, files private and WAL, damaged files still readable.
Records, node tables and tamper refusal run on SQLite and PostgreSQL; the file mode and WAL test
and the smashed-pages salvage test are SQLite-only: they are about the SQLite file itself."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from probe_nav.calibration.nuclides import NUCLIDES
from probe_nav.cases.store import CaseStore
from probe_nav.core.timed import TimedCount
from probe_nav.errors import UserError
from probe_nav.storage import StoreError, TamperedRecord
from tests.backends import CASES_SCHEMA, Db, backend_fixture
from tests.cases.conftest import result

HOUR_S = 3600.0
TC99M_HALF_LIFE_S = NUCLIDES["Tc-99m"].half_life_s  # the table's (DDEP: 6.0067 h)

case_db = backend_fixture("c.sqlite3", CASES_SCHEMA)


def test_case_file_is_private_and_wal(tmp_path: Path) -> None:
    """SQLite-only: the file's mode and journal; a server's files are the server's."""
    path = tmp_path / "sub" / "cases.sqlite3"
    with CaseStore.open(path) as store:
        store.create_case("C-1", "sln-breast", "Tc-99m")
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_record_and_read_back_with_decay_correction(store: CaseStore) -> None:
    store.create_case("C-1", "sln-breast", "tc-99m", created_unix_s=0.0, injection_unix_s=0.0,
                      injected_activity_mbq=37.0, probe="PL-1 0042", calibration="QC 2026-05-09")
    m = store.record("C-1", "SLN 1", "in_vivo", result(1000), measured_unix_s=TC99M_HALF_LIFE_S)
    assert m.measurement_id == 1 and len(m.checksum) == 64
    (back,) = store.measurements("C-1")
    assert back == m
    assert back.decay_factor == pytest.approx(2.0)
    assert back.corrected_rate_cps == pytest.approx(200.0)
    case = store.case("C-1")
    assert (case.nuclide, case.probe, case.calibration) == ("Tc-99m", "PL-1 0042", "QC 2026-05-09")


def test_without_injection_time_reference_is_case_creation(store: CaseStore) -> None:
    store.create_case("C-2", "roll", "Tc-99m", created_unix_s=1000.0)
    m = store.record("C-2", "bed", "bed", result(50), measured_unix_s=1000.0)
    assert m.decay_factor == 1.0


def test_bad_input_is_refused_with_user_errors(store: CaseStore) -> None:
    store.create_case("C-1", "sln-breast", "Tc-99m")
    with pytest.raises(UserError, match="already exists"):
        store.create_case("C-1", "sln-breast", "Tc-99m")
    with pytest.raises(UserError, match="unknown procedure"):
        store.create_case("C-3", "appendix", "Tc-99m")
    with pytest.raises(UserError):
        store.create_case("C-4", "sln-breast", "Xx-999")
    with pytest.raises(UserError, match="identifier"):
        store.create_case("", "sln-breast", "Tc-99m")
    with pytest.raises(UserError, match="kind"):
        store.record("C-1", "n", "sideways", result(10))
    with pytest.raises(UserError, match="no case"):
        store.record("C-9", "n", "in_vivo", result(10))
    with pytest.raises(UserError, match="live time"):
        store.record("C-1", "n", "in_vivo", TimedCount(10.0).result)  # no frames yet


def test_node_table_applies_procedure_rules(store: CaseStore) -> None:
    store.create_case("C-1", "sln-breast", "Tc-99m", created_unix_s=0.0)
    store.record("C-1", "background", "background", result(200), measured_unix_s=0.0)
    store.record("C-1", "SLN 1", "ex_vivo", result(10000), measured_unix_s=0.0)
    store.record("C-1", "SLN 2", "ex_vivo", result(1000), measured_unix_s=0.0)  # exactly 10 %
    store.record("C-1", "SLN 3", "ex_vivo", result(999), measured_unix_s=0.0)
    table = store.node_table("C-1")
    verdict = {r.node: {v.rule: v for v in r.verdicts} for r in table.rows}
    assert [verdict[n]["ten_percent"].positive for n in ("SLN 1", "SLN 2", "SLN 3")] == [
        True, True, False]
    assert verdict["SLN 3"]["ex_vivo_background"].value == pytest.approx(999 / 200)
    assert table.rules == ("ten_percent", "ex_vivo_background", "bed_check")


def test_tampered_record_refuses_the_whole_case(case_db: Db) -> None:
    with CaseStore.open(case_db.arg) as store:
        store.create_case("C-1", "sln-breast", "Tc-99m")
        store.record("C-1", "SLN 1", "ex_vivo", result(500))
        store.record("C-1", "SLN 2", "ex_vivo", result(400))
    # outside probe-nav, as a database tool would
    case_db.sql("UPDATE measurements SET counts = 5000 WHERE node = 'SLN 1'")
    assert case_db.sql("SELECT counts FROM measurements ORDER BY counts") == [(400,), (5000,)]
    with CaseStore.open(case_db.arg) as store:
        with pytest.raises(TamperedRecord, match=r"measurement 1 \(node 'SLN 1'\) fails"):
            store.measurements("C-1")  # never the case without SLN 1
        assert store.skipped_records == 0


def _smash_pages(path: Path, pages: range, page_size: int = 4096) -> None:
    data = bytearray(path.read_bytes())
    for p in pages:
        data[p * page_size:(p + 1) * page_size] = b"\x5a" * page_size
    path.write_bytes(bytes(data))


def test_damaged_database_is_refused_then_salvaged(tmp_path: Path) -> None:
    """SQLite-only: pages of the file smashed on disk (a server's storage is not ours to
    damage), and CaseStore.salvage reads a SQLite file."""
    path = tmp_path / "c.sqlite3"
    with CaseStore.open(path) as store:
        store.create_case("C-0", "roll", "Tc-99m", created_unix_s=-10.0)  # in the first pages
        for i in range(3):
            store.record("C-0", f"lesion {i}", "in_vivo", result(7 + i), measured_unix_s=-5.0)
        store.create_case("C-1", "sln-breast", "Tc-99m", created_unix_s=0.0)
        for i in range(600):
            store.record("C-1", f"node {i:03d} " + "x" * 40, "in_vivo", result(i + 1),
                         measured_unix_s=float(i))
        store._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        # two leaf pages of C-1's measurements from the middle of the table (dbstat: 1-based)
        leaves = [int(r[0]) - 1 for r in store._conn.execute(
            "SELECT pageno FROM dbstat WHERE name = 'measurements' AND pagetype = 'leaf' "
            "ORDER BY pageno")]
    middle = len(leaves) // 2
    _smash_pages(path, range(leaves[middle], leaves[middle] + 1))
    _smash_pages(path, range(leaves[middle + 1], leaves[middle + 1] + 1))
    with pytest.raises(StoreError, match="damaged") as err:
        CaseStore.open(path)
    assert "\n" not in str(err.value)
    with CaseStore.salvage(path) as store:
        # C-1 lost rows to the smashed pages: refused whole, never a node table without them
        with pytest.raises(TamperedRecord, match=r"case 'C-1' refused: .*record #\d+ is missing"):
            store.measurements("C-1")
        with pytest.raises(TamperedRecord):
            store.node_table("C-1")
        assert store.skipped_records > 0
        # the intact case is still read in full
        assert [m.counts for m in store.measurements("C-0")] == [7, 8, 9]
        assert [c.case_id for c in store.cases()] == ["C-0"]
        with pytest.raises(StoreError, match="read only"):
            store.add_note("C-0", "x")
