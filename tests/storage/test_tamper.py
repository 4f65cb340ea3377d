"""Tamper evidence that means something: a case (or a probe's QC records) with any record that
fails its keyed seal, or with a record deleted, duplicated, moved or re-checksummed outside
probe-nav, is refused whole (one line naming the record, exit 2 on the command line), and
`case verify` / `qc verify` list every problem of the database."""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import stat
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.qc.store import QcStore
from probe_nav.storage import KeyFileError, StoreError, TamperedRecord, key_path
from tests.cases.conftest import result
from tests.in_process import run_main

T0_S = 1_700_000_000.0  # the cases' opening time (2023-11-14), fixed: no wall clock in results
HOUR_S = 3600.0


def _case_db(path: Path) -> None:
    """Two cases: C-1 with three measurements and a note, C-2 with one measurement."""
    with CaseStore.open(path) as store:
        store.create_case("C-1", "sln-breast", "Tc-99m", created_unix_s=T0_S,
                          injection_unix_s=T0_S - HOUR_S, injected_activity_mbq=37.0)
        for i, (node, counts) in enumerate((("SLN 1", 5000), ("SLN 2", 400), ("SLN 3", 90))):
            store.record("C-1", node, "in_vivo", result(counts),
                         measured_unix_s=T0_S + 60.0 * (i + 1))
        store.add_note("C-1", "SLN 2 taken", t_unix_s=T0_S + 300.0)
        store.create_case("C-2", "sln-melanoma", "Tc-99m", created_unix_s=T0_S + 10.0)
        store.record("C-2", "SLN 1", "in_vivo", result(800), measured_unix_s=T0_S + 100.0)


def _sql(path: Path, *statements: str) -> None:
    with sqlite3.connect(path) as conn:
        for sql in statements:
            conn.execute(sql)
    conn.close()


_COLUMNS = ("case_id, node, kind, measured_unix_s, counts, live_s, rate_cps, rate_sd_cps, "
            "background_cps, net_cps, net_sd_cps, decay_factor, real_s, background_sd_cps, "
            "significant, complete, note, checksum, seq, prev_mac, mac")


def _recompute_unkeyed(path: Path) -> None:
    """What a tool that knows the old scheme does: change SLN 2's counts, then write a fresh
    SHA-256 of the row into its checksum and MAC columns (no key: it cannot make the HMAC)."""
    with sqlite3.connect(path) as conn:
        conn.row_factory = sqlite3.Row
        conn.execute("UPDATE measurements SET counts = 40000, rate_cps = 4000 "
                     "WHERE node = 'SLN 2'")
        row = dict(conn.execute("SELECT * FROM measurements WHERE node = 'SLN 2'").fetchone())
        fields = {k: v for k, v in row.items() if k not in ("seq", "prev_mac", "mac")}
        digest = hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()
        conn.execute("UPDATE measurements SET checksum = ?, mac = ? WHERE node = 'SLN 2'",
                     (digest, digest))
    conn.close()


# (name, how the database file is changed, what the refusal of case C-1 must name)
TAMPERINGS: list[tuple[str, Callable[[Path], None], str]] = [
    ("value changed", lambda p: _sql(p, "UPDATE measurements SET counts = counts + 1 "
                                        "WHERE node = 'SLN 1'"),
     r"measurement 1 \(node 'SLN 1'\) fails its checksum"),
    ("checksum recomputed", _recompute_unkeyed,
     r"measurement 2 \(node 'SLN 2'\) fails its checksum"),
    ("middle row deleted", lambda p: _sql(p, "DELETE FROM measurements WHERE node = 'SLN 2'"),
     r"record #2 is missing"),
    ("last row deleted", lambda p: _sql(p, "DELETE FROM case_notes"),
     r"the last 1 record\(s\) are missing"),
    ("row duplicated", lambda p: _sql(
        p, f"INSERT INTO measurements ({_COLUMNS}) SELECT {_COLUMNS} FROM measurements "
           "WHERE node = 'SLN 3'"),
     r"measurement 5 \(node 'SLN 3'\) fails its checksum"),  # its id is sealed too
    ("rows swapped", lambda p: _sql(
        p, "UPDATE measurements SET node = CASE node WHEN 'SLN 1' THEN 'SLN 2' "
           "ELSE 'SLN 1' END WHERE node IN ('SLN 1', 'SLN 2') AND case_id = 'C-1'"),
     r"fails its checksum"),
    ("row moved in from another case", lambda p: _sql(
        p, "UPDATE measurements SET case_id = 'C-1' WHERE case_id = 'C-2'"),
     r"measurement 4 \(node 'SLN 1'\) fails its checksum"),
    ("case row changed", lambda p: _sql(p, "UPDATE cases SET injected_activity_mbq = 370 "
                                           "WHERE case_id = 'C-1'"),
     r"case 'C-1' \(its own row\) fails its checksum"),
    ("chain head rolled back", lambda p: _sql(
        p, "DELETE FROM case_notes",
        "UPDATE seal_heads SET seq = seq - 1 WHERE scope = 'case' AND chain = 'C-1'"),
     r"its chain head fails its checksum"),
]


@pytest.mark.parametrize("name, tamper, message", TAMPERINGS, ids=[t[0] for t in TAMPERINGS])
def test_a_tampered_case_is_refused_whole_and_verify_lists_it(
        tmp_path: Path, name: str, tamper: Callable[[Path], None], message: str) -> None:
    path = tmp_path / "cases.sqlite3"
    _case_db(path)
    tamper(path)
    with CaseStore.open(path) as store:
        for read in (store.case, store.measurements, store.notes, store.node_table):
            with pytest.raises(TamperedRecord, match=message):
                read("C-1")  # type: ignore[operator]
        report = store.verify()
    assert any(re.search(message, p) for p in report.problems), report.problems
    shown = run_main("case", "show", "C-1", "--db", str(path))
    assert shown.returncode == 2 and shown.stdout == ""  # no node table without a record
    (line,) = shown.stderr.strip().splitlines()
    assert "case 'C-1' refused" in line and "probe-nav case verify" in line
    verified = run_main("case", "verify", "--db", str(path))
    assert verified.returncode == 2
    assert verified.stdout.splitlines() == report.problems  # every problem, one per line
    assert len(verified.stderr.strip().splitlines()) == 1


def test_verify_names_a_duplicated_row_as_such(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite3"
    _case_db(path)
    _sql(path, f"INSERT INTO measurements ({_COLUMNS}) SELECT {_COLUMNS} FROM measurements "
               "WHERE node = 'SLN 3'")
    with CaseStore.open(path) as store:
        problems = store.verify().problems
    assert "case 'C-1': record #3 appears 2 times (measurement 3 (node 'SLN 3'), measurement 5 " \
           "(node 'SLN 3')): duplicated outside probe-nav" in problems, problems
    assert any("records more than were written" in p or "more than were written" in p
               for p in problems), problems


def test_a_sound_case_database_verifies_and_untouched_cases_stay_readable(
        tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite3"
    _case_db(path)
    done = run_main("case", "verify", "--db", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{path}: 2 chain(s), 7 record(s): every record verified"
    _sql(path, "UPDATE measurements SET counts = 1 WHERE node = 'SLN 3'")
    with CaseStore.open(path) as store:
        assert [m.counts for m in store.measurements("C-2")] == [800]  # its own chain is sound


def test_a_whole_case_deleted_with_its_head_is_caught_by_the_ledger(tmp_path: Path) -> None:
    path = tmp_path / "cases.sqlite3"
    _case_db(path)
    _sql(path, "DELETE FROM measurements WHERE case_id = 'C-2'",
         "DELETE FROM cases WHERE case_id = 'C-2'",
         "DELETE FROM seal_heads WHERE chain = 'C-2'")
    with CaseStore.open(path) as store:
        assert [m.node for m in store.measurements("C-1")] == ["SLN 1", "SLN 2", "SLN 3"]
        with pytest.raises(TamperedRecord, match=r"2 record\(s\) are missing"):
            store.cases()
        assert any("2 record(s) are missing" in p for p in store.verify().problems)


def test_a_key_of_another_database_or_none_is_refused(tmp_path: Path) -> None:
    path, other = tmp_path / "cases.sqlite3", tmp_path / "other.sqlite3"
    _case_db(path)
    CaseStore.open(other).close()
    assert stat.S_IMODE(key_path(path).stat().st_mode) == 0o600
    original = key_path(path).read_bytes()
    key_path(path).write_bytes(key_path(other).read_bytes())
    with pytest.raises(TamperedRecord, match="does not belong to this database"):
        CaseStore.open(path)
    key_path(path).unlink()
    with pytest.raises(KeyFileError, match=r"key file .* is missing"):
        CaseStore.open(path)
    done = run_main("case", "list", "--db", str(path))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert not key_path(path).exists()  # never silently replaced by a new key
    key_path(path).write_bytes(original)
    os.chmod(key_path(path), 0o644)
    with CaseStore.open(path) as store:  # a key readable by others is narrowed back
        assert [c.case_id for c in store.cases()] == ["C-1", "C-2"]
    assert stat.S_IMODE(key_path(path).stat().st_mode) == 0o600


# ---- QC: the same rule ---------------------------------------------------------------------

QC_T0 = datetime(2025, 5, 1, 8, 0, tzinfo=UTC)


def _qc_db(path: Path) -> None:
    with QcStore(path) as store:
        probe = store.probe("PN-1", "SN42", "CdTe")
        for day in range(3):
            store.add(probe, "qc", "daily", {"rate_cps": 1000.0 + day}, operator="ann",
                      source="sim", raw_data="-", passed=True,
                      when=QC_T0 + timedelta(days=day))
        store.add(probe, "calibration", "sensitivity", {"cps_per_mbq": 20.0, "sd": 0.5},
                  operator="ann", source="sim", raw_data="-", passed=None,
                  when=QC_T0 + timedelta(days=3))


QC_TAMPERINGS: list[tuple[str, tuple[str, ...], str]] = [
    ("value changed", ("UPDATE records SET result_json = '{\"rate_cps\": 9}' WHERE id = 2",),
     r"record 2 \(qc daily of PN-1 #SN42\) fails its checksum"),
    ("middle row deleted", ("DELETE FROM records WHERE id = 2",), r"record #2 is missing"),
    ("newest row deleted", ("DELETE FROM records WHERE id = 4",),
     r"the last 1 record\(s\) are missing"),
    ("row duplicated", ("INSERT INTO records (probe_id, kind, test, time_utc, operator, source, "
                        "raw_data, passed, result_json, checksum, seq, prev_mac, mac) SELECT "
                        "probe_id, kind, test, time_utc, operator, source, raw_data, passed, "
                        "result_json, checksum, seq, prev_mac, mac FROM records WHERE id = 3",),
     r"record 5 \(qc daily of PN-1 #SN42\) fails its checksum"),
]


@pytest.mark.parametrize("name, sql, message", QC_TAMPERINGS, ids=[t[0] for t in QC_TAMPERINGS])
def test_a_tampered_probe_history_is_refused_whole(tmp_path: Path, name: str,
                                                   sql: tuple[str, ...], message: str) -> None:
    path = tmp_path / "qc.sqlite"
    _qc_db(path)
    _sql(path, *sql)
    with QcStore(path) as store:
        probe = store.find_probe("PN-1", "SN42")
        assert probe is not None
        with pytest.raises(TamperedRecord, match=message):
            store.records(probe)
        with pytest.raises(TamperedRecord):  # never an older calibration instead
            store.latest(probe, "calibration", "sensitivity")
        problems = store.verify_all()
    assert any(re.search(message, p) for p in problems), problems
    hist = run_main("qc", "history", "--db", str(path))
    assert hist.returncode == 2 and hist.stdout == ""
    assert len(hist.stderr.strip().splitlines()) == 1 and "refused" in hist.stderr
    verified = run_main("qc", "verify", "--db", str(path))
    assert verified.returncode == 2 and verified.stdout.splitlines() == problems


def test_a_sound_qc_database_verifies(tmp_path: Path) -> None:
    path = tmp_path / "qc.sqlite"
    _qc_db(path)
    done = run_main("qc", "verify", "--db", str(path))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"{path}: 1 probe(s), 5 record(s): every record verified"


def test_verify_of_a_missing_database_is_one_line(tmp_path: Path) -> None:
    for area in ("case", "qc"):
        done = run_main(area, "verify", "--db", str(tmp_path / "none.sqlite"))
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "none.sqlite").exists()


def test_store_error_is_the_base_of_every_refusal() -> None:
    assert issubclass(TamperedRecord, StoreError) and issubclass(KeyFileError, StoreError)



def test_a_key_that_cannot_be_written_is_one_line(tmp_path: Path) -> None:
    """A key file that cannot be made or put in place is one KeyFileError line naming it, and
    leaves no temporary file behind: a folder that is a file (nothing can be made in it), and
    a key path taken by a folder (the staged key cannot be renamed over it)."""
    from probe_nav.storage.keys import KEY_BYTES, ensure_key, install_key

    not_a_folder = tmp_path / "plain-file"
    not_a_folder.write_text("")
    with pytest.raises(KeyFileError, match="cannot create the database's key file"):
        ensure_key(not_a_folder / "c.sqlite3")
    taken = tmp_path / "taken" / "c.sqlite3"
    key_path(taken).mkdir(parents=True)
    with pytest.raises(KeyFileError, match=r"c\.sqlite3\.key: cannot write the database's key"):
        install_key(taken, bytes(KEY_BYTES))
    assert sorted(p.name for p in taken.parent.iterdir()) == [key_path(taken).name]
