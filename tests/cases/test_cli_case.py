"""`probe-nav case ...`: show, export, report and counts from a file as real processes; the
database is set up, and bad input checked, through `main(argv)` in-process. Each test runs on a
SQLite file and on PostgreSQL (tests/backends.py), except the one about a damaged SQLite file."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest
from pypdf import PdfReader

from probe_nav.io.frames_csv import write_frames_csv
from probe_nav.storage.urls import KEY_DIR_VAR
from tests.backends import BACKENDS, CASES_SCHEMA, Db, clone, template_database
from tests.conftest import run_cli
from tests.in_process import run_main

pytestmark = pytest.mark.slow  # ~10 CLI processes: over 5 s on a loaded machine

STEPS = (
    ("new", "C-7", "--procedure", "sln-breast", "--activity-mbq", "37",
     "--opened-at", "2026-05-09T07:45Z",  # entered afterwards: judged against its opening
     "--injected-at", "2026-05-09T07:30Z", "--probe", "PL-1 serial 0042",
     "--calibration", "QC 2026-05-09 Co-57"),
    ("add-count", "C-7", "background", "--kind", "background", "--counts", "200",
     "--live-s", "10", "--at", "2026-05-09T10:00Z"),
    ("add-count", "C-7", "SLN 1", "--kind", "ex_vivo", "--counts", "8000", "--live-s", "10",
     "--at", "2026-05-09T10:30Z"),
    ("add-count", "C-7", "SLN 2", "--kind", "ex_vivo", "--counts", "500", "--live-s", "10",
     "--at", "2026-05-09T10:40Z"),
    ("add-count", "C-7", "axilla", "--kind", "bed", "--counts", "210", "--live-s", "10",
     "--at", "2026-05-09T10:50Z"),
    ("note", "C-7", "SLN 2 left in situ"),
)


@pytest.fixture(scope="module", params=BACKENDS)
def template_db(request: pytest.FixtureRequest,
                tmp_path_factory: pytest.TempPathFactory) -> tuple[Db, Path | None]:
    """A case database made by the CLI: breast SLNB, background, two nodes, a bed count; and
    its key directory on PostgreSQL."""
    db, keys = template_database(request, tmp_path_factory.mktemp("db"), request.param,
                                 "cases.sqlite3", CASES_SCHEMA)
    with pytest.MonkeyPatch.context() as env:
        if keys is not None:
            env.setenv(KEY_DIR_VAR, str(keys))
        for step in STEPS:  # in-process: set-up, not under test (the tests below use processes)
            done = run_main("case", *step, "--db", db.arg)
            assert done.returncode == 0, done.stderr
    return db, keys


@pytest.fixture
def db(template_db: tuple[Db, Path | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
       request: pytest.FixtureRequest) -> Db:
    """A private copy of the template database and its key (every CLI process has closed it)."""
    return clone(*template_db, tmp_path, monkeypatch, request)


def test_show_lists_nodes_with_verdicts(db: Db) -> None:
    done = run_cli("case", "show", "C-7", "--db", db.arg)
    assert done.returncode == 0, done.stderr
    lines = {line.split("\t")[0]: line for line in done.stdout.splitlines()}
    assert "hottest node: remove" in lines["SLN 1"]
    assert "below 10 % of hottest" in lines["SLN 2"]
    assert "at background" in lines["axilla"]
    assert "note" in done.stdout and "SLN 2 left in situ" in done.stdout
    if db.path is not None:  # a SQLite file stays private to its owner
        assert stat.S_IMODE(os.stat(db.path).st_mode) == 0o600
    listed = run_cli("case", "list", "--json", "--db", db.arg)
    (case,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert case["case_id"] == "C-7" and case["measurements"] == 4


def test_export_json_and_csv(db: Db, tmp_path: Path) -> None:
    out = tmp_path / "c7.csv"
    done = run_cli("case", "export", "C-7", "--out", str(out), "--db", db.arg)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["node"] for r in rows] == ["background", "SLN 1", "SLN 2", "axilla"]
    assert float(rows[1]["rate_cps"]) == 800.0
    # 2.5 h after the 07:30 injection: factor 2 ** (2.5 h / T1/2), T1/2 6.0067 h (DDEP)
    assert float(rows[0]["decay_factor"]) == pytest.approx(2 ** (2.5 / 6.0067), rel=1e-9)
    done = run_cli("case", "export", "C-7", "--format", "json", "--db", db.arg)
    doc = json.loads(done.stdout)
    assert doc["case"]["probe"] == "PL-1 serial 0042"
    assert [n["node"] for n in doc["nodes"]] == ["SLN 1", "SLN 2", "axilla"]
    assert doc["notes"][0]["text"] == "SLN 2 left in situ"


def test_report_pdf_has_table_rules_probe_and_node_chart(db: Db, tmp_path: Path) -> None:
    pdf = tmp_path / "c7.pdf"
    done = run_cli("case", "report", "C-7", "--out", str(pdf), "--db", db.arg)
    assert done.returncode == 0, done.stderr
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
    for expected in ("Case C-7", "PL-1 serial 0042", "QC 2026-05-09 Co-57", "SLN 1", "axilla",
                     "10 % rule", "hottest node: remove", "decay-corrected rate (cps)",
                     "Decay-corrected gross rate of each node", "SLN 2 left in situ",
                     "page 1 of"):
        assert expected in text, expected
    assert "Trend" not in text  # nodes are categories: a bar chart, no line joining them


def test_add_count_from_a_frame_file(db: Db, tmp_path: Path) -> None:
    from probe_nav.drivers.frames import CountFrame

    frames = tmp_path / "f.csv"
    write_frames_csv(frames, [CountFrame(i, 0.05 * (i + 1), 0.05, 0.05, (3,)) for i in range(400)])
    done = run_cli("case", "add-count", "C-7", "SLN 3", "--kind", "in_vivo", "--frames",
                   str(frames), "--preset-s", "10", "--at", "2026-05-09T11:00Z", "--db", db.arg)
    assert done.returncode == 0, done.stderr
    assert "600 counts in 10.00 s = 60.00" in done.stdout


@pytest.mark.parametrize("args, message", [
    (("show", "NOPE"), "no case 'NOPE'"),
    (("new", "C-7", "--procedure", "sln-breast"), "already exists"),
    (("new", "C-8", "--procedure", "sln-breast", "--injected-at", "yesterday"),
     "not a date and time"),
    (("add-count", "C-7", "x", "--kind", "bed", "--counts", "5"), "--live-s"),
    (("add-count", "C-7", "x", "--kind", "bed", "--frames", "/nonexistent.csv"), "cannot read"),
])
def test_bad_input_is_one_line_exit_2(db: Db, args: tuple[str, ...], message: str) -> None:
    done = run_main("case", *args, "--db", db.arg)
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("template_db", ["sqlite"], indirect=True)  # the bytes of a file
def test_not_a_database_and_damaged_database(tmp_path: Path, db: Db) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("not a database at all\n" * 50)
    done = run_main("case", "list", "--db", str(junk))
    assert done.returncode == 2 and "not a SQLite file" in done.stderr
    assert db.path is not None
    data = bytearray(db.path.read_bytes())
    # damage the last page (measurement rows) but keep the header and schema
    data[-4096:] = b"\x00\xff" * 2048
    db.path.write_bytes(bytes(data))
    done = run_main("case", "list", "--db", db.arg)
    assert "damaged" in done.stderr and "Traceback" not in done.stderr
    write = run_main("case", "note", "C-7", "more", "--db", db.arg)
    assert write.returncode == 2 and "damaged" in write.stderr
