"""`probe-nav repair`, and what every reader path says about a cut-short or absurd frame file.
SQLite-only: the frame file is refused by its reader before any store is written, so where the
case or QC records live plays no part."""

from __future__ import annotations

from pathlib import Path

import pytest

from probe_nav.cases.session import SessionRecorder
from probe_nav.drivers.frames import CountFrame
from probe_nav.io.frames_csv import read_frames_csv, write_frames_csv
from tests.in_process import run_main


def _frames(n: int) -> list[CountFrame]:
    return [CountFrame(i, 0.05 * (i + 1), 0.05, 0.049, (i % 9,)) for i in range(n)]


def _cut(path: Path, rows: int, torn: str = "") -> str:
    """Write the first `rows` rows of a recording (no end line), plus a torn line."""
    full = path.with_name("full.csv")
    write_frames_csv(full, _frames(rows + 5), comments=["probe-nav recording"])
    lines = full.read_text().splitlines(keepends=True)
    text = "".join(lines[: 2 + rows]) + torn
    path.write_text(text)
    full.unlink()
    return text


def test_repair_writes_a_clean_copy_with_an_honest_end_line(tmp_path: Path) -> None:
    source = tmp_path / "rec.partial.csv"
    original = _cut(source, 30, torn="1.55,0.04")
    done = run_main("repair", str(source))
    assert done.returncode == 0, done.stderr
    target = tmp_path / "rec.csv"
    assert done.stderr.strip() == (
        f"repaired {source} -> {target}: 30 frames kept; dropped 1 line(s) from the first "
        f"problem on: {source}, line 33: torn last line (no newline)")
    assert source.read_text() == original  # the source is never changed
    table = read_frames_csv(target)
    assert table.end == "repaired" and len(table) == 30
    assert table.seq.tolist() == list(range(30))
    assert target.read_text().endswith("# end: repaired, 30 frames\n")
    assert target.stat().st_mode & 0o777 == 0o600
    # replayed: said once, and the frames are used
    replay = run_main("replay", str(target), "--json")
    assert replay.returncode == 0 and replay.stdout
    assert replay.stderr.strip() == (f"probe-nav: warning: {target}: repaired copy of an "
                                     "interrupted recording (30 frames)")
    again = run_main("repair", str(source))
    assert again.returncode == 2 and len(again.stderr.strip().splitlines()) == 1
    assert f"{target} exists; add --force" in again.stderr
    assert run_main("repair", str(source), "--force").returncode == 0


def test_repair_keeps_the_prefix_before_damage_and_names_it(tmp_path: Path) -> None:
    source = tmp_path / "damaged.csv"
    lines = _cut(source, 10).splitlines(keepends=True)
    lines[6] = "0.25,0.049,\x00\x00,0.05,4,0\n"  # a damaged row in the middle
    source.write_text("".join(lines))
    done = run_main("repair", str(source), "--out", str(tmp_path / "fixed.csv"))
    assert done.returncode == 0, done.stderr
    assert "4 frames kept; dropped 6 line(s)" in done.stderr  # the bad row and the 5 after
    assert "damaged.csv, line 7: column counts must be an integer" in done.stderr
    assert len(read_frames_csv(tmp_path / "fixed.csv")) == 4


def test_nothing_to_repair_and_nothing_to_repair_from(tmp_path: Path) -> None:
    whole = tmp_path / "whole.csv"
    write_frames_csv(whole, _frames(3))
    done = run_main("repair", str(whole))
    assert done.returncode == 0
    assert done.stderr.strip() == f"{whole}: nothing to repair: 3 frames, ended 'complete'"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["whole.csv"]
    junk = tmp_path / "junk.csv"
    junk.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    for path, message in ((junk, "not UTF-8"), (tmp_path / "none.csv", "cannot read")):
        done = run_main("repair", str(path))
        assert done.returncode == 2 and message in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
    (tmp_path / "text.csv").write_text("hello\nworld\n")
    done = run_main("repair", str(tmp_path / "text.csv"))
    assert done.returncode == 2 and "header must start with t_s,live_s,counts" in done.stderr


def test_repair_finishes_a_whole_recording_stopped_before_its_rename(tmp_path: Path) -> None:
    """A recorder killed between its end line and its rename leaves X.partial.csv, whole:
    the copy is the recording as it ended (its own end line), under X.csv."""
    source = tmp_path / "rec.partial.csv"
    write_frames_csv(source, _frames(12), comments=["probe-nav recording"])
    original = source.read_bytes()
    done = run_main("repair", str(source))
    assert done.returncode == 0, done.stderr
    target = tmp_path / "rec.csv"
    assert done.stderr.strip() == (f"finished {source} -> {target}: 12 frames, ended "
                                   "'complete' (the recording was stopped before its rename)")
    assert target.read_bytes() == original and source.read_bytes() == original
    assert read_frames_csv(target).complete
    assert target.stat().st_mode & 0o777 == 0o600
    again = run_main("repair", str(source))
    assert again.returncode == 2 and f"{target} exists; add --force" in again.stderr


def test_repair_a_session_that_never_ended(tmp_path: Path) -> None:
    rec = SessionRecorder(tmp_path / "s")
    for frame in _frames(25):
        rec.write(frame)  # flushed every 0.1 s: 24 frames on disk, 1 pending
    partial = tmp_path / "s" / "frames.partial.csv"
    assert partial.exists() and not (tmp_path / "s" / "frames.csv").exists()
    done = run_main("repair", str(tmp_path / "s"))  # as if the console had been killed
    assert done.returncode == 0, done.stderr
    table = read_frames_csv(tmp_path / "s" / "frames.csv")
    assert table.end == "repaired" and len(table) == rec.frames_written == 24


BIG = str(2**63)


@pytest.fixture
def absurd(tmp_path: Path) -> Path:
    """A frame file whose counts do not fit in 64 bits (a corrupted or hostile file)."""
    path = tmp_path / "absurd.csv"
    rows = [f"{0.05 * (i + 1)!r},0.05,{BIG if i == 7 else 5},0.05" for i in range(400)]
    path.write_text("t_s,live_s,counts,real_s\n" + "\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("command", [
    ("replay", "{f}", "--json"),
    ("case", "add-count", "C-1", "SLN 1", "--kind", "ex_vivo", "--frames", "{f}", "--db",
     "{db}"),
    ("qc", "daily", "--file", "{f}", "--probe", "P", "--db", "{db}.qc"),
    ("qc", "chi-square", "--file", "{f}", "--probe", "P", "--db", "{db}.qc"),
    ("calibrate", "energy", "--file", "{f}", "--probe", "P", "--db", "{db}.qc"),
    ("calibrate", "deadtime", "--files", "{f},{f},{f},{f}", "--probe", "P", "--db", "{db}.qc"),
    ("repair", "{f}"),
])
def test_counts_beyond_64_bits_are_one_line_in_every_reader(tmp_path: Path, absurd: Path,
                                                            command) -> None:
    db = tmp_path / "cases.sqlite3"
    if command[0] == "case":
        assert run_main("case", "new", "C-1", "--procedure", "sln-breast", "--db",
                        str(db)).returncode == 0
    done = run_main(*(a.format(f=absurd, db=db) for a in command))
    if command[0] == "repair":  # the repair keeps the 7 good rows before it
        assert done.returncode == 0 and "7 frames kept" in done.stderr
        return
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip() == (f"probe-nav: error: {absurd}, line 9: column counts is too "
                                   f"large ({BIG}; at most 2^63-1)")


def test_an_absurd_n42_is_one_line(tmp_path: Path) -> None:
    record = run_main("record", "--sim", "sln-static", "--speed", "20", "--duration", "1",
                      "--out", str(tmp_path / "r.n42"), "--no-spectrum")
    assert record.returncode == 0, record.stderr
    text = (tmp_path / "r.n42").read_text()
    head, _, tail = text.partition("<CountData>")
    (tmp_path / "bad.n42").write_text(f"{head}<CountData>{BIG}{tail[tail.index('<'):]}")
    done = run_main("qc", "chi-square", "--file", str(tmp_path / "bad.n42"), "--probe", "P",
                    "--db", str(tmp_path / "qc.sqlite"))
    assert done.returncode == 2
    assert done.stderr.strip().endswith(f"CountData must be whole numbers from 0 to 2^63-1, got "
                                        f"'{BIG}'")
    assert len(done.stderr.strip().splitlines()) == 1
