"""`probe-nav case ...`: show, export, report and counts from a file as real processes; the
database is set up, and bad input checked, through `main(argv)` in-process."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import stat
from pathlib import Path

import pytest
from pypdf import PdfReader

from probe_nav.io.frames_csv import write_frames_csv
from tests.conftest import run_cli
from tests.in_process import run_main

pytestmark = pytest.mark.slow  # ~10 CLI processes: over 5 s on a loaded machine


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A case database made by the CLI: breast SLNB, background, two nodes, a bed count."""
    path = tmp_path_factory.mktemp("db") / "cases.sqlite3"
    steps = [
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
    ]
    for step in steps:  # in-process: set-up, not under test (the tests below use processes)
        done = run_main("case", *step, "--db", str(path))
        assert done.returncode == 0, done.stderr
    return path


@pytest.fixture
def db(template_db: Path, tmp_path: Path) -> Path:
    """A private copy of the template database and its key (every CLI process has closed it)."""
    copy = tmp_path / "cases.sqlite3"
    for suffix in ("", "-wal", ".key"):
        source = Path(str(template_db) + suffix)
        if source.exists():
            shutil.copyfile(source, Path(str(copy) + suffix))
    os.chmod(copy, 0o600)
    return copy


def test_show_lists_nodes_with_verdicts(db: Path) -> None:
    done = run_cli("case", "show", "C-7", "--db", str(db))
    assert done.returncode == 0, done.stderr
    lines = {line.split("\t")[0]: line for line in done.stdout.splitlines()}
    assert "hottest node: remove" in lines["SLN 1"]
    assert "below 10 % of hottest" in lines["SLN 2"]
    assert "at background" in lines["axilla"]
    assert "note" in done.stdout and "SLN 2 left in situ" in done.stdout
    assert stat.S_IMODE(os.stat(db).st_mode) == 0o600
    listed = run_cli("case", "list", "--json", "--db", str(db))
    (case,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert case["case_id"] == "C-7" and case["measurements"] == 4


def test_export_json_and_csv(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "c7.csv"
    done = run_cli("case", "export", "C-7", "--out", str(out), "--db", str(db))
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["node"] for r in rows] == ["background", "SLN 1", "SLN 2", "axilla"]
    assert float(rows[1]["rate_cps"]) == 800.0
    # 2.5 h after the 07:30 injection: factor 2 ** (2.5 h / T1/2), T1/2 6.0067 h (DDEP)
    assert float(rows[0]["decay_factor"]) == pytest.approx(2 ** (2.5 / 6.0067), rel=1e-9)
    done = run_cli("case", "export", "C-7", "--format", "json", "--db", str(db))
    doc = json.loads(done.stdout)
    assert doc["case"]["probe"] == "PL-1 serial 0042"
    assert [n["node"] for n in doc["nodes"]] == ["SLN 1", "SLN 2", "axilla"]
    assert doc["notes"][0]["text"] == "SLN 2 left in situ"


def test_report_pdf_has_table_rules_probe_and_node_chart(db: Path, tmp_path: Path) -> None:
    pdf = tmp_path / "c7.pdf"
    done = run_cli("case", "report", "C-7", "--out", str(pdf), "--db", str(db))
    assert done.returncode == 0, done.stderr
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(str(pdf)).pages)
    for expected in ("Case C-7", "PL-1 serial 0042", "QC 2026-05-09 Co-57", "SLN 1", "axilla",
                     "10 % rule", "hottest node: remove", "decay-corrected rate (cps)",
                     "Decay-corrected gross rate of each node", "SLN 2 left in situ",
                     "page 1 of"):
        assert expected in text, expected
    assert "Trend" not in text  # nodes are categories: a bar chart, no line joining them


def test_add_count_from_a_frame_file(db: Path, tmp_path: Path) -> None:
    from probe_nav.drivers.frames import CountFrame

    frames = tmp_path / "f.csv"
    write_frames_csv(frames, [CountFrame(i, 0.05 * (i + 1), 0.05, 0.05, (3,)) for i in range(400)])
    done = run_cli("case", "add-count", "C-7", "SLN 3", "--kind", "in_vivo", "--frames",
                   str(frames), "--preset-s", "10", "--at", "2026-05-09T11:00Z", "--db", str(db))
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
def test_bad_input_is_one_line_exit_2(db: Path, args: tuple[str, ...], message: str) -> None:
    done = run_main("case", *args, "--db", str(db))
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr


def test_not_a_database_and_damaged_database(tmp_path: Path, db: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_text("not a database at all\n" * 50)
    done = run_main("case", "list", "--db", str(junk))
    assert done.returncode == 2 and "not a SQLite file" in done.stderr
    data = bytearray(db.read_bytes())
    # damage the last page (measurement rows) but keep the header and schema
    data[-4096:] = b"\x00\xff" * 2048
    db.write_bytes(bytes(data))
    done = run_main("case", "list", "--db", str(db))
    assert "damaged" in done.stderr and "Traceback" not in done.stderr
    write = run_main("case", "note", "C-7", "more", "--db", str(db))
    assert write.returncode == 2 and "damaged" in write.stderr
