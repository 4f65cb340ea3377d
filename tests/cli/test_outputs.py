"""What probe-nav writes: never over an existing file without --force (one line, exit 2, naming
the file and --force), always mode 0600, and `record` against a disk that fills up.
SQLite-only: these are about the files written (outputs, and the databases' own files and modes
in the privacy test), not about the records; the store on both backends is tests/cases, tests/qc."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from probe_nav import files
from probe_nav.io.frames_csv import read_frames_csv
from probe_nav.io.n42 import read_n42
from probe_nav.io.recording import MIB
from tests.in_process import run_main

RECORD = ("record", "--sim", "sln-static", "--speed", "20")


def said(stderr: str) -> list[str]:
    """stderr without the log lines (timestamped) that the drivers may add on a loaded pty."""
    return [line for line in stderr.strip().splitlines() if not line[:2].isdigit()]


def _one_line_refusal(done: subprocess.CompletedProcess[str], path: Path) -> None:
    assert done.returncode == 2, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert str(path) in done.stderr and "exists; add --force to replace it" in done.stderr


def _case_db(tmp_path: Path) -> Path:
    db = tmp_path / "cases.sqlite3"
    for step in (("new", "C-1", "--procedure", "sln-breast"),
                 ("add-count", "C-1", "SLN 1", "--kind", "ex_vivo", "--counts", "800",
                  "--live-s", "10")):
        done = run_main("case", *step, "--db", str(db))
        assert done.returncode == 0, done.stderr
    return db


@pytest.mark.parametrize("command", [
    ("record", *RECORD[1:], "--duration", "1", "--out", "{x}.csv"),
    ("record", *RECORD[1:], "--duration", "1", "--out", "{x}.n42"),
    ("case", "export", "C-1", "--out", "{x}.csv", "--db", "{db}"),
    ("case", "report", "C-1", "--out", "{x}.pdf", "--db", "{db}"),
    ("qc", "history", "--report", "{x}.pdf", "--db", "{x}.sqlite"),
    ("qc", "nema", "--file", "{x}.series.csv", "--probe", "P", "--report", "{x}.pdf",
     "--db", "{x}.sqlite"),
    ("sim", "run", "--duration", "1", "--out", "{x}.csv"),
    ("sim", "serve", "--truth", "{x}.jsonl"),
    ("repair", "{x}.partial.csv", "--out", "{x}.csv"),
])
def test_existing_output_is_never_replaced_without_force(tmp_path: Path, command) -> None:
    db = _case_db(tmp_path) if command[0] == "case" else tmp_path / "none"
    x = tmp_path / "out"
    args = [a.format(x=x, db=db) for a in command]
    options = ("--out", "--report", "--truth")
    target = Path(next(a for a, prev in zip(args[1:], args[:-1], strict=True) if prev in options))
    target.write_text("earlier work\n")
    if command[0] == "repair":
        Path(args[1]).write_text("t_s,live_s,counts\n0.05,0.05,1\n")
    done = run_main(*args)
    _one_line_refusal(done, target)
    assert target.read_text() == "earlier work\n"
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith("cases")) == \
        sorted({target.name, *(["out.partial.csv"] if command[0] == "repair" else [])})


def test_force_replaces_whole_outputs(tmp_path: Path) -> None:
    db = _case_db(tmp_path)
    for args, name in (((*RECORD, "--duration", "1"), "r.csv"),
                       (("case", "export", "C-1", "--db", str(db)), "e.json"),
                       (("sim", "run", "--duration", "1"), "s.csv")):
        out = tmp_path / name
        out.write_text("earlier work\n")
        os.chmod(out, 0o644)
        done = run_main(*args, "--out", str(out), "--force")
        assert done.returncode == 0, done.stderr
        assert out.read_text() != "earlier work\n" and stat.S_IMODE(out.stat().st_mode) == 0o600
    assert read_frames_csv(tmp_path / "r.csv").complete
    assert read_frames_csv(tmp_path / "s.csv").complete


def test_an_earlier_partial_recording_is_never_replaced(tmp_path: Path) -> None:
    partial = tmp_path / "r.partial.csv"
    partial.write_text("t_s,live_s,counts\n0.05,0.05,1\n")
    done = run_main(*RECORD, "--duration", "1", "--out", str(tmp_path / "r.csv"), "--force")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert f"{partial} exists: a recording that was cut short?" in done.stderr
    assert "probe-nav repair" in done.stderr
    assert partial.read_text() == "t_s,live_s,counts\n0.05,0.05,1\n"


@pytest.mark.slow
def test_every_file_probe_nav_writes_is_private(tmp_path: Path, monkeypatch, serve) -> None:
    """Each command's outputs, with a umask that would make them world-readable (022)."""
    from probe_nav.cases.session import SessionRecorder
    from probe_nav.drivers.frames import CountFrame
    from probe_nav.gui.settings import GuiSettings, save_settings
    from probe_nav.qc.nema_data import NemaData, write_series_file

    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(work / "data"))
    old = os.umask(0o022)
    try:
        ok = [
            run_main(*RECORD, "--duration", "1", "--out", str(work / "r.csv")),
            run_main(*RECORD, "--duration", "1", "--out", str(work / "r.n42")),
            run_main("sim", "run", "--duration", "1", "--out", str(work / "s.csv")),
            run_main("sim", "run", "--duration", "1", "--out", str(work / "s.jsonl")),
        ]
        cut = (work / "r.csv").read_text().splitlines(keepends=True)[:-3]
        (work / "cut.partial.csv").write_text("".join(cut))
        os.chmod(work / "cut.partial.csv", 0o600)  # the test's own file
        ok.append(run_main("repair", str(work / "cut.partial.csv")))
        db = _case_db(work)
        for fmt in ("csv", "json"):
            ok.append(run_main("case", "export", "C-1", "--out", str(work / f"c.{fmt}"),
                               "--db", str(db)))
        ok.append(run_main("case", "report", "C-1", "--out", str(work / "c.pdf"), "--db",
                           str(db)))
        qc_db = work / "qc" / "qc.sqlite"
        ok.append(run_main("qc", "chi-square", "--sim", "qc-co57", "--speed", "20",
                           "--duration", "10", "--db", str(qc_db), "--operator", "t"))
        ok.append(run_main("qc", "history", "--db", str(qc_db), "--report", str(work / "q.pdf")))
        for done in ok:
            assert done.returncode == 0, done.stderr
        server = serve("--truth", str(work / "truth.csv"), "--speed", "10")
        server.stop()
        with SessionRecorder(work / "session") as rec:
            rec.write(CountFrame(0, 0.05, 0.05, 0.05, (1,)))
        write_series_file(work / "series.csv", NemaData({}, 0.0, 0.0))
        (work / "gui.json").write_text("{}")  # an earlier settings file, 0644: replaced 0600
        save_settings(GuiSettings(volume=0.25), work / "gui.json")
    finally:
        os.umask(old)
    made = sorted(p for p in work.rglob("*"))
    names = {p.name for p in made}
    assert {"r.csv", "r.n42", "s.csv", "s.jsonl", "cut.csv", "c.csv", "c.json", "c.pdf",
            "q.pdf", "truth.csv", "frames.csv", "events.jsonl", "series.csv",
            "probe-nav.log", "gui.json"} <= names
    assert any(p.suffix == ".n42" and p.parent.name == "raw" for p in made)  # QC raw data
    loose = [f"{p.relative_to(work)} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in made
             if stat.S_IMODE(p.stat().st_mode) & (0o077 if p.is_file() else 0o022)]
    assert not loose


def _disk_probe(monkeypatch, free_for) -> None:
    monkeypatch.setattr(files, "free_bytes", free_for)


def test_record_refuses_to_start_under_the_start_margin(tmp_path: Path, monkeypatch) -> None:
    _disk_probe(monkeypatch, lambda _p: 40 * MIB)
    out = tmp_path / "r.csv"
    done = run_main(*RECORD, "--duration", "1", "--out", str(out))
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"probe-nav: failed: cannot start recording to {out}: disk almost full: 40.0 MiB free "
        f"on the disk of {tmp_path}, under the 64 MiB margin")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("suffix", [".csv", ".n42"])
def test_record_stops_under_the_stop_margin_keeping_what_it_wrote(tmp_path: Path, monkeypatch,
                                                                  suffix: str) -> None:
    out = tmp_path / f"r{suffix}"
    partial = tmp_path / "r.partial.csv"

    def free_for(_path: Path) -> int:
        """Plenty until the recording holds 30 rows, then 10 MiB: by its progress, not time."""
        lines = partial.read_text().splitlines() if partial.exists() else []
        rows = sum(line[:1].isdigit() for line in lines)
        return 10 * MIB if rows >= 30 else 100 * MIB

    _disk_probe(monkeypatch, free_for)
    done = run_main(*RECORD, "--duration", "600", "--out", str(out), "--no-spectrum")
    assert done.returncode == 1, done.stderr
    lines = said(done.stderr)
    assert len(lines) == 1 and lines[0].startswith("probe-nav: failed: disk almost full: 10.0 "
                                                   "MiB free"), done.stderr
    if suffix == ".csv":
        table = read_frames_csv(out)
        assert table.end == "interrupted (disk full)" and 30 <= len(table) <= 40
        assert lines[0].endswith(f"recording stopped: kept {len(table)} frames "
                                 f"({table.real_s.sum():.1f} s) in {out}")
    else:
        recording = read_n42(out)
        assert 30 <= len(recording.intervals) <= 40
        assert f"end: interrupted (disk full), {len(recording.intervals)} frames" in \
            recording.remarks
        assert not partial.exists()  # the journal goes once the N42 is safe


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 32 kB tmpfs (root only): a disk that really fills up."""
    mount = tmp_path / "tiny"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32k,mode=0700", "tmpfs",
                           str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_record_on_a_disk_that_really_fills_up(tiny_disk: Path, monkeypatch) -> None:
    """ENOSPC mid-write (the margins set aside): the half-written rows are cut off again, so the
    file ends with whole rows and the end line `interrupted (disk full)`."""
    _disk_probe(monkeypatch, lambda _p: 10**12)
    out = tiny_disk / "r.csv"
    done = run_main(*RECORD, "--duration", "600", "--out", str(out))
    assert done.returncode == 1
    assert "No space left on device; recording stopped: kept" in done.stderr
    table = read_frames_csv(out)
    assert table.end == "interrupted (disk full)" and table.torn_lines == 0
    assert len(table) > 100 and out.stat().st_size > 16_000  # it really filled the disk
    assert [p.name for p in tiny_disk.iterdir()] == ["r.csv"]


def test_an_output_made_by_another_program_while_recording_is_not_replaced(
        tmp_path: Path, monkeypatch) -> None:
    """X.csv appears between the recording's end line and its rename: it stays, and the whole
    recording stays as X.partial.csv (exit 1, one line saying where)."""
    from probe_nav.cli import record

    out = tmp_path / "r.csv"

    def trace(point: str, _detail: str) -> None:
        if point == "ended":
            out.write_text("someone else's\n")

    monkeypatch.setattr(record, "_trace_hook", lambda: trace)
    done = run_main(*RECORD, "--duration", "1", "--out", str(out))
    assert done.returncode == 1, done.stderr
    partial = tmp_path / "r.partial.csv"
    table = read_frames_csv(partial)
    assert table.complete and len(table) == 20
    assert said(done.stderr) == [
        f"probe-nav: failed: {out} appeared while recording and was not replaced; kept 20 "
        f"frames ({table.real_s.sum():.1f} s) in {partial}"]
    assert out.read_text() == "someone else's\n"


def test_an_n42_that_cannot_be_written_leaves_its_journal_and_fails(tmp_path: Path,
                                                                    monkeypatch) -> None:
    from probe_nav.cli import record

    out = tmp_path / "r.n42"

    def trace(point: str, _detail: str) -> None:
        if point == "ended":  # the journal is whole: now the N42's name is taken
            out.write_text("someone else's\n")

    monkeypatch.setattr(record, "_trace_hook", lambda: trace)
    done = run_main(*RECORD, "--duration", "1", "--out", str(out), "--no-spectrum")
    assert done.returncode == 1, done.stderr
    journal = tmp_path / "r.partial.csv"
    table = read_frames_csv(journal)
    assert table.complete and len(table) == 20
    assert said(done.stderr) == [
        f"probe-nav: failed: cannot write {out} (it appeared while recording and was not "
        f"replaced); kept 20 frames ({table.real_s.sum():.1f} s) in {journal}"]
    assert out.read_text() == "someone else's\n"
