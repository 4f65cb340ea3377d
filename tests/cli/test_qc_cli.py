"""`probe-nav qc` and `probe-nav calibrate` end to end: real processes, the simulator on a pty,
recorded files, a real database and a real PDF. The tests that store and read records run on a
SQLite file and on PostgreSQL (tests/backends.py); the argument checks need no database."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from scipy import stats

from probe_nav.qc.store import QcStore
from tests.backends import QC_SCHEMA, Db, backend_fixture
from tests.conftest import run_cli
from tests.in_process import run_main

TEN = "10,12,9,11,14,8,10,13,9,11"

db = backend_fixture("qc.sqlite", QC_SCHEMA)


def test_chi_square_counts_json_worked_numbers() -> None:
    done = run_main("qc", "chi-square", "--counts", "100,110,90,105,95,100,98,102,115,85",
                   "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # mean 100, squared deviations 0+100+100+25+25+0+4+4+225+225 = 708 -> chi2 7.08, 9 dof
    assert out["chi2"] == pytest.approx(7.08)
    assert out["dof"] == 9
    assert out["band"] == pytest.approx([4.168, 14.684], abs=1e-3)  # DOMAIN.md 4.168-14.68
    assert out["p_value"] == pytest.approx(stats.chi2.sf(7.08, 9), rel=1e-9)
    assert out["pass"] is True


def test_chi_square_text_and_failing_verdict() -> None:
    done = run_main("qc", "chi-square", "--counts", TEN, "--p-low", "0.05", "--p-high", "0.95")
    assert "3.325" in done.stdout and "16.919" in done.stdout  # the 0.95/0.05 band
    assert "fail: too uniform" in done.stdout
    assert done.returncode == 1


@pytest.mark.parametrize("args, message", [
    (("--counts", "1,2"), "at least 10 counts"),
    (("--counts", "1,a,3"), "'a' is not a number"),
    (("--counts", "1.5," + TEN), "whole number"),
    (("--counts", TEN, "--p-low", "0.9", "--p-high", "0.1"), "--p-low < --p-high"),
    (("--counts", TEN, "--p-low", "0.5", "--p-high", "0.5"), "--p-low < --p-high"),
    ((), "exactly one of --counts"),
    (("--file", "/no/such.csv", "--probe", "X"), "/no/such.csv"),
])
def test_chi_square_bad_input_one_line_exit_2(args, message) -> None:
    done = run_main("qc", "chi-square", *args)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~15 s idle, over a minute on a loaded machine
def test_daily_on_the_simulator_then_history_report(tmp_path: Path, db: Db) -> None:
    common = ("--sim", "qc-co57", "--speed", "20", "--duration", "10", "--db", db.arg,
              "--operator", "tech")
    first = run_cli("qc", "daily", *common, "--seed", "1")
    assert first.returncode == 0, first.stderr
    assert "this result is the baseline" in first.stdout
    second = run_cli("qc", "daily", *common, "--seed", "2", "--json")
    assert second.returncode == 0, second.stderr
    result = json.loads(second.stdout)
    # Same source an instant later: the ratio is 1 within its Poisson sd (~1 % at ~12,000 counts).
    assert abs(result["ratio"] - 1) < 4 * result["ratio_sd"]
    assert result["pass"] is True and result["baseline_record"] == 1
    raw = sorted((tmp_path / "raw").glob("*.n42"))
    assert len(raw) == 2  # the raw data of each record is kept
    # chi-square on a recorded file, stored against the probe named in the file
    chi = run_cli("qc", "chi-square", "--file", str(raw[0]), "--db", db.arg, "--operator",
                  "tech")
    assert "stored as record 3" in chi.stdout, chi.stderr
    report = tmp_path / "qc.pdf"
    hist = run_cli("qc", "history", "--db", db.arg, "--report", str(report))
    assert hist.returncode == 0, hist.stderr
    assert len(hist.stdout.strip().splitlines()) == 3
    assert report.read_bytes().startswith(b"%PDF")
    pypdf = pytest.importorskip("pypdf")
    text = " ".join(" ".join(page.extract_text().split()) for page in pypdf.PdfReader(report).pages)
    assert "Daily constancy control chart" in text
    assert "SIM-0001" in text
    assert "+10 %" in text and "-10 %" in text
    assert "Chi-square test history" in text


@pytest.mark.slow
@pytest.mark.timeout(600)  # ~15 s idle, over a minute on a loaded machine
def test_history_refuses_a_tampered_record(tmp_path: Path, db: Db) -> None:
    frames = tmp_path / "check.csv"
    rec = run_cli("record", "--sim", "qc-co57", "--speed", "20", "--duration", "5", "--out",
                  str(frames))
    assert rec.returncode == 0, rec.stderr
    daily = run_cli("qc", "daily", "--file", str(frames), "--probe", "PN-1:SN42", "--db",
                    db.arg, "--operator", "tech")
    assert daily.returncode == 0, daily.stderr
    # raise the first stored rate by 1 cps, whatever it is, outside probe-nav
    (record_id, text), = db.sql("SELECT id, result_json FROM records")
    tampered = re.sub(r'"rate_cps": ([0-9.eE+-]+)',
                      lambda m: f'"rate_cps": {float(m.group(1)) + 1.0}', text, count=1)
    assert tampered != text
    db.sql("UPDATE records SET result_json = ? WHERE id = ?", (tampered, record_id))
    hist = run_main("qc", "history", "--db", db.arg)  # the refusals: in-process
    assert hist.returncode == 2
    assert "record 1 (qc daily of PN-1 #SN42) fails its checksum" in hist.stderr
    assert len(hist.stderr.strip().splitlines()) == 1
    again = run_main("qc", "daily", "--file", str(frames), "--probe", "PN-1:SN42", "--db",
                     db.arg, "--operator", "tech")
    assert again.returncode == 2 and "refusing to use it" in again.stderr


@pytest.mark.parametrize("args, message", [
    (("qc", "daily", "--file", "x.txt", "--probe", "P"), "unknown file type"),
    (("qc", "daily", "--sim", "qc-co57", "--nuclide", "Xx-1"), "Xx-1"),
    (("qc", "daily", "--sim", "qc-co57", "--tolerance", "10"), "--tolerance"),
    (("qc", "history", "--report", "x.txt"), "FILE.pdf"),
    (("calibrate", "energy", "--file", "x.n42", "--lines", "a,b"), "--lines"),
    (("calibrate", "sensitivity", "--sim", "qc-co57", "--nuclide", "Co-57", "--activity-mbq",
      "3", "--reference-date", "2025-01-01"), "time zone"),
    (("calibrate", "deadtime", "--files", "a.csv,b.csv"), "4 files"),
])
def test_bad_input_one_line_exit_2(tmp_path: Path, args, message) -> None:
    done = run_main(*args, "--db", str(tmp_path / "qc.sqlite"))
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_calibrate_sensitivity_on_the_simulator(db: Db) -> None:
    done = run_cli("calibrate", "sensitivity", "--sim", "qc-co57", "--speed", "20",
                   "--duration", "10", "--db", db.arg, "--operator", "phys", "--nuclide",
                   "Co-57", "--activity-mbq", "3.7", "--activity-sd-mbq", "0.05",
                   "--reference-date", "2025-01-01T00:00+00:00", "--geometry", "50 mm air",
                   "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["cps_per_mbq"] > 0 and out["sd"] > 0
    assert out["geometry"] == "50 mm air"
    with QcStore(db.arg) as store:  # what was printed is what was stored
        (record,) = store.records()
    assert record.id == out["record"] and record.kind == "calibration"
    assert record.result["cps_per_mbq"] == out["cps_per_mbq"]


def test_energy_calibration_without_spectrum_is_a_clear_error(tmp_path: Path) -> None:
    frames = tmp_path / "f.csv"
    assert run_cli("record", "--sim", "qc-co57", "--speed", "20", "--duration", "2", "--out",
                   str(frames)).returncode == 0
    done = run_main("calibrate", "energy", "--file", str(frames), "--probe", "P", "--db",
                   str(tmp_path / "qc.sqlite"))
    assert done.returncode == 2
    assert "has no spectrum" in done.stderr
