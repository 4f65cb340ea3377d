"""`probe-nav dosimetry add|list|fit --case|report` on the case store, in-process: points stored
and read back, the stored series fitted exactly as the explicit form fits it, the PDF written
(private, not over an existing file without --force), and bad input refused with one line, exit
2 and nothing stored. Every test runs on a SQLite file and on PostgreSQL (tests/backends.py)."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader

from tests.backends import CASES_SCHEMA, Db, backend_fixture
from tests.in_process import run_main

TIMES_H = ("4", "24", "48", "96", "168")
COUNTS = ("52000", "38000", "29500", "17800", "8100")
INJECTED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=10)


def _ok(*args: str) -> str:
    done = run_main(*args)
    assert done.returncode == 0, done.stderr
    return done.stdout


case_db = backend_fixture("cases.sqlite3", CASES_SCHEMA)


@pytest.fixture
def db(case_db: Db) -> Db:
    """A Lu-177 therapy case LU-9 with five points at 1 m, and a case without administration
    time (NO-T)."""
    path = case_db.arg
    _ok("case", "new", "LU-9", "--procedure", "psma", "--nuclide", "Lu-177",
        "--injected-at", INJECTED.isoformat(), "--opened-at",
        (INJECTED + timedelta(minutes=10)).isoformat(), "--activity-mbq", "7400", "--db", path)
    _ok("case", "new", "NO-T", "--procedure", "psma", "--nuclide", "Lu-177", "--db", path)
    for t, n in zip(TIMES_H, COUNTS, strict=True):
        _ok("dosimetry", "add", "LU-9", "--time-h", t, "--counts", n, "--live-s", "60",
            "--background-cps", "12", "--background-sd-cps", "0.3", "--geometry", "1m-standing",
            "--operator", "RT", "--case-db", path)
    return case_db


def _points(db: Db, case: str = "LU-9") -> list[dict]:
    return json.loads(_ok("dosimetry", "list", case, "--json", "--db", db.arg))["points"]


def test_add_and_list_round_trip(db: Db) -> None:
    at = (INJECTED + timedelta(hours=72)).astimezone(
        datetime.now().astimezone().tzinfo).isoformat()  # a zone other than UTC, maybe
    out = _ok("dosimetry", "add", "LU-9", "--at", at, "--counts", "23000", "--live-s", "60",
              "--background-counts", "720", "--background-live-s", "60", "--geometry",
              "1m-standing", "--db", db.arg)
    assert "retention point 6 of case LU-9 stored: 72 h after administration" in out
    points = _points(db)
    assert [p["time_h"] for p in points] == pytest.approx([4, 24, 48, 72, 96, 168])
    assert [p["counts"] for p in points] == [52000, 38000, 29500, 23000, 17800, 8100]
    third = points[3]
    assert third["background_cps"] == pytest.approx(12.0)  # 720 counts in 60 s
    assert third["background_sd_cps"] == pytest.approx(720**0.5 / 60)
    assert third["operator"] == "" and points[0]["operator"] == "RT"
    assert points[0]["net_cps"] == pytest.approx(52000 / 60 - 12)
    text = _ok("dosimetry", "list", "LU-9", "--db", db.arg)
    assert "6 retention point(s)" in text and text.count("1m-standing") == 6


def test_fit_case_prints_what_the_explicit_form_prints(db: Db) -> None:
    stored = json.loads(_ok("dosimetry", "fit", "--case", "LU-9", "--json", "--db", db.arg))
    explicit = json.loads(_ok(
        "dosimetry", "fit", "--nuclide", "Lu-177", "--times-h", ",".join(TIMES_H),
        "--counts", ",".join(COUNTS), "--live-s", "60", "--background-cps", "12",
        "--background-sd-cps", "0.3", "--geometry", "1m-standing", "--json"))
    assert stored == explicit
    assert stored["nuclide"] == "Lu-177" and stored["model"] in ("mono", "bi")
    assert 40 < stored["t_eff_h"] < 80  # 52000 -> 8100 counts over 164 h: T_eff about 60 h
    table = _ok("dosimetry", "fit", "--case", "LU-9", "--db", db.arg)
    assert table.startswith("Lu-177 (T_phys 159.5 h): chosen")


def test_report_is_written_private_and_not_over_a_file(db: Db, tmp_path: Path) -> None:
    pdf = tmp_path / "dosimetry.pdf"
    out = _ok("dosimetry", "report", "LU-9", "--pdf", str(pdf), "--db", db.arg,
              "--usv-h-per-cps", "0.01", "--release-limit-usv-h", "20")
    assert "dosimetry report of case LU-9 written" in out
    assert stat.S_IMODE(os.stat(pdf).st_mode) == 0o600
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
    assert "Retention dosimetry, case LU-9" in text and "Release (dose rate at 1 m)" in text
    before = pdf.read_bytes()
    again = run_main("dosimetry", "report", "LU-9", "--pdf", str(pdf), "--db", db.arg)
    assert again.returncode == 2 and "add --force" in again.stderr
    assert pdf.read_bytes() == before
    _ok("dosimetry", "report", "LU-9", "--pdf", str(pdf), "--force", "--db", db.arg)
    assert "Release" not in " ".join(p.extract_text() for p in PdfReader(str(pdf)).pages)


BAD_ADD = [
    (["--time-h", "24", "--counts", "-3", "--live-s", "60"], "--counts"),
    (["--time-h", "24", "--counts", "3", "--live-s", "0"], "--live-s"),
    (["--time-h", "nan", "--counts", "3", "--live-s", "60"], "--time-h"),
    (["--time-h", "2400", "--counts", "3", "--live-s", "60"], "in the future"),
    (["--time-h", "-2", "--counts", "3", "--live-s", "60"], "before the administration"),
    (["--at", "yesterday", "--counts", "3", "--live-s", "60"], "not a date and time"),
    (["--at", "2026-01-01T00:00Z", "--time-h", "3", "--counts", "3", "--live-s", "60"],
     "not allowed with"),
    (["--counts", "3", "--live-s", "60"], "--at --time-h"),
    (["--time-h", "2", "--counts", "3", "--live-s", "60", "--background-cps", "1",
      "--background-counts", "5", "--background-live-s", "10"], "not both"),
    (["--time-h", "2", "--counts", "3", "--live-s", "60", "--background-counts", "5"],
     "go together"),
    (["--time-h", "2", "--counts", "3", "--live-s", "60", "--background-sd-cps", "1"],
     "needs --background-cps"),
    (["--time-h", "4", "--counts", "3", "--live-s", "60"], "already has retention point 1"),
]


@pytest.mark.parametrize(("args", "message"), BAD_ADD)
def test_bad_points_are_refused_and_nothing_is_stored(db: Db, args: list[str],
                                                      message: str) -> None:
    geometry = [] if "--geometry" in args else ["--geometry", "1m-standing"]
    done = run_main("dosimetry", "add", "LU-9", *args, *geometry, "--db", db.arg)
    assert done.returncode == 2, done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert len(_points(db)) == 5


@pytest.mark.parametrize(("args", "message"), [
    (["add", "NO-T", "--time-h", "2", "--counts", "3", "--live-s", "60", "--geometry", "1m"],
     "no administration time"),
    (["list", "NO-T"], "no administration time"),
    (["fit", "--case", "NO-T"], "no administration time"),
    (["report", "NO-T", "--pdf", "{tmp}/x.pdf"], "no administration time"),
    (["add", "NOPE", "--time-h", "2", "--counts", "3", "--live-s", "60", "--geometry", "1m"],
     "no case 'NOPE'"),
    (["fit", "--case", "LU-9", "--nuclide", "I-131"], "not with --nuclide"),
    (["fit", "--case", "LU-9", "--geometry", "2m"], "no retention point in geometry '2m'"),
    (["fit"], "needs --nuclide"),
    (["report", "LU-9", "--pdf", "{tmp}/x.txt"], "must end in .pdf"),
    (["report", "LU-9", "--pdf", "{tmp}/x.pdf", "--usv-h-per-cps", "0.1"], "go together"),
    (["report", "LU-9", "--pdf", "{tmp}/x.pdf", "--fractions-at-h", "1,-2"], "must be >= 0"),
])
def test_bad_requests_are_one_line(db: Db, tmp_path: Path, args: list[str],
                                   message: str) -> None:
    done = run_main("dosimetry", *(a.format(tmp=tmp_path) for a in args), "--db", db.arg)
    assert done.returncode == 2, done.stdout
    assert len(done.stderr.strip().splitlines()) == 1 and message in done.stderr
    assert not (tmp_path / "x.pdf").exists()
    assert len(_points(db)) == 5


def test_mixed_geometries_need_a_choice_and_too_few_points_no_fit(db: Db) -> None:
    for t in ("5", "25"):
        _ok("dosimetry", "add", "LU-9", "--time-h", t, "--counts", "900", "--live-s", "60",
            "--geometry", "2m", "--db", db.arg)
    done = run_main("dosimetry", "fit", "--case", "LU-9", "--db", db.arg)
    assert done.returncode == 2 and "2 geometries (1m-standing, 2m)" in done.stderr
    done = run_main("dosimetry", "fit", "--case", "LU-9", "--geometry", "2m", "--db", db.arg)
    assert done.returncode == 2 and "at least 3 points" in done.stderr
    stored = json.loads(_ok("dosimetry", "fit", "--case", "LU-9", "--geometry", "1m-standing",
                            "--json", "--db", db.arg))
    assert [f["t_h"] for f in stored["fractions"]] == [4, 24, 48, 96, 168]


def test_a_tampered_point_refuses_the_case(db: Db) -> None:
    db.sql("UPDATE retention_points SET counts = 60000 WHERE counts = 52000")
    for args in (["list", "LU-9"], ["fit", "--case", "LU-9"],
                 ["add", "LU-9", "--time-h", "200", "--counts", "3", "--live-s", "60",
                  "--geometry", "1m-standing"]):
        done = run_main("dosimetry", *args, "--db", db.arg)
        assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, args
        assert "retention point 1 fails its checksum" in done.stderr, args
