"""QC records: they survive a restart, and a record changed behind probe-nav's back is refused.
On SQLite and PostgreSQL, except the schema v1 migration tests: SQLite-only, they are about files
an older probe-nav wrote (no PostgreSQL store predates keyed checksums)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from probe_nav.drivers.frames import DeviceInfo
from probe_nav.qc.active import active_calibration, calibrated_info
from probe_nav.qc.store import QcStore, TamperedRecord
from tests.backends import Db

T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def fill(db: Db) -> None:
    with QcStore(db.arg) as store:
        probe = store.probe("PN-1", "SN42", "CdTe")
        store.add(probe, "calibration", "energy", {"coefficients": [0.5, 1.01]},
                  operator="ann", source="sim", raw_data="/raw/a.n42", passed=None, when=T0)
        store.add(probe, "qc", "daily", {"rate_cps": 1000.0, "ratio": 1.01}, operator="bob",
                  source="device /dev/ttyACM0", raw_data="/raw/b.n42", passed=True,
                  when=T0 + timedelta(days=1))
        other = store.probe("PN-1", "SN43")
        store.add(other, "calibration", "energy", {"coefficients": [0.0, 2.0]},
                  operator="ann", source="sim", raw_data="-", passed=None, when=T0)


def test_records_survive_a_new_process(qc_db: Db) -> None:
    db = qc_db
    fill(db)
    code = ("import sys; from probe_nav.qc.store import QcStore\n"
            "s = QcStore(sys.argv[1])\n"
            "for r in s.records(): print(r.id, r.probe.label, r.test, r.operator, r.passed, "
            "r.result)\n")
    out = subprocess.run([sys.executable, "-c", code, db.arg], capture_output=True,
                         text=True, check=True).stdout.splitlines()
    assert out == [
        "1 PN-1 #SN42 energy ann None {'coefficients': [0.5, 1.01]}",
        "3 PN-1 #SN43 energy ann None {'coefficients': [0.0, 2.0]}",
        "2 PN-1 #SN42 daily bob True {'rate_cps': 1000.0, 'ratio': 1.01}",
    ]


def test_active_calibration_belongs_to_its_own_probe(qc_db: Db) -> None:
    db = qc_db
    fill(db)
    with QcStore(db.arg) as store:
        info = DeviceInfo("PN-1", "SN43", energy_calibration=(0.0, 1.0), n_channels=256)
        applied, active = calibrated_info(store, info)
        assert applied.energy_calibration == (0.0, 2.0)
        assert active.energy_record == 3
        unknown = DeviceInfo("PN-9", "X", energy_calibration=(0.0, 1.0))
        assert calibrated_info(store, unknown)[0] == unknown
        # A newer calibration supersedes the older one.
        probe = store.probe("PN-1", "SN42")
        store.add(probe, "calibration", "energy", {"coefficients": [0.1, 0.99]},
                  operator="ann", source="sim", raw_data="-", passed=None,
                  when=T0 + timedelta(days=2))
        assert active_calibration(store, "PN-1", "SN42").energy_coefficients == (0.1, 0.99)


@pytest.mark.parametrize("sql", [
    "UPDATE records SET result_json = '{\"coefficients\": [0.5, 1.02]}' WHERE id = 1",
    "UPDATE records SET operator = 'mallory' WHERE id = 1",
    "UPDATE records SET time_utc = '2025-04-01T08:00:00.000000+00:00' WHERE id = 1",
    "UPDATE records SET probe_id = 2 WHERE id = 1",  # moved to another probe
    "UPDATE probes SET serial = 'SN99' WHERE id = 1",  # the probe renamed under its records
    "UPDATE records SET checksum = 'x' WHERE id = 1",
])
def test_a_modified_record_is_refused(qc_db: Db, sql: str) -> None:
    db = qc_db
    fill(db)
    db.sql(sql)  # outside probe-nav, as a database tool would
    with QcStore(db.arg) as store:
        with pytest.raises(TamperedRecord, match=r"(record|probe) 1 .* fails its checksum"):
            store.get(1)
        with pytest.raises(TamperedRecord):
            store.records()
        model, serial = ("PN-1", "SN99") if "SN99" in sql else ("PN-1", "SN42")
        if "probe_id" not in sql:
            with pytest.raises(TamperedRecord):  # never falls back to an older calibration
                active_calibration(store, model, serial)
        problems = store.verify_all()
        assert any("record 1 " in p or "probe 1 " in p for p in problems), problems


def test_sound_records_verify(qc_db: Db) -> None:
    db = qc_db
    fill(db)
    with QcStore(db.arg) as store:
        assert store.verify_all() == []
        assert [p.label for p in store.probes()] == ["PN-1 #SN42", "PN-1 #SN43"]
        assert store.get(2).time_utc == T0 + timedelta(days=1)


def _v1_qc_database(path: Path, *, tamper: bool = False) -> None:
    """A records database exactly as version 1 (unkeyed SHA-256 checksums) wrote it: version 1
    wrote SQLite files only, so the migration tests below are SQLite-only."""
    from probe_nav.qc.store import MIGRATIONS, Probe, _fields
    from probe_nav.storage import open_database, record_checksum

    conn = open_database(path, MIGRATIONS[:1])
    conn.execute("INSERT INTO probes (id, model, serial, detector, created_utc) VALUES "
                 "(1, 'PN-1', 'SN42', 'CdTe', '2025-04-30T08:00:00+00:00')")
    probe = Probe(1, "PN-1", "SN42", "CdTe")
    for i, (test, result) in enumerate((("daily", '{"rate_cps": 1000.0}'),
                                        ("sensitivity", '{"cps_per_mbq": 20.0, "sd": 0.5}'))):
        kind = "qc" if test == "daily" else "calibration"
        when = (T0 + timedelta(days=i)).isoformat(timespec="microseconds")
        checksum = record_checksum(_fields(i + 1, probe, kind, test, when, "ann", "sim", "-",
                                           None, result))
        conn.execute("INSERT INTO records VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                     (i + 1, 1, kind, test, when, "ann", "sim", "-", None,
                      result.replace("1000.0", "9999.0") if tamper and i == 0 else result,
                      checksum))
    conn.close()


def test_v1_database_is_keyed_and_resealed_on_first_open(tmp_path: Path) -> None:
    import stat

    from probe_nav.storage import key_path
    from tests.in_process import run_main

    db = tmp_path / "qc.sqlite"
    _v1_qc_database(db)
    with QcStore(db) as store:
        assert [r.result for r in store.records()] == [{"rate_cps": 1000.0},
                                                      {"cps_per_mbq": 20.0, "sd": 0.5}]
        note = store.upgrade_note()
        assert note is not None and note.startswith(
            "3 record(s) verified under unkeyed SHA-256 (schema v1) checksums and re-sealed")
        assert store.verify_all() == []
    assert stat.S_IMODE(key_path(db).stat().st_mode) == 0o600
    done = run_main("qc", "verify", "--db", str(db))
    assert done.returncode == 0 and "re-sealed" in done.stdout, done.stderr
    with sqlite3.connect(db) as raw:  # the re-sealed records are now keyed: a change is caught
        raw.execute("UPDATE records SET operator = 'eve' WHERE id = 2")
    with QcStore(db) as store, pytest.raises(TamperedRecord, match=r"record 2 .* fails"):
        store.records()


def test_v1_database_failing_its_checksums_is_left_unchanged(tmp_path: Path) -> None:
    from probe_nav.storage import StoreError, key_path

    db = tmp_path / "qc.sqlite"
    _v1_qc_database(db, tamper=True)
    with pytest.raises(StoreError, match=r"not upgraded to keyed checksums: record 1 \(qc daily "
                                         r"of PN-1 #SN42\) fails its checksum"):
        QcStore(db)
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 1
    assert not key_path(db).exists()
