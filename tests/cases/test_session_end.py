"""Session recordings are written as frames.partial.csv, renamed to frames.csv with their end line
when the session ends, fsynced by recording time, and end `interrupted` when the disk fills."""

from __future__ import annotations

import os
from pathlib import Path

from probe_nav import files
from probe_nav.cases.session import SessionRecorder, read_session_events, read_session_frames
from probe_nav.drivers.frames import CountFrame
from probe_nav.io.recording import MIB


def _frame(seq: int) -> CountFrame:
    return CountFrame(seq, 0.01 * seq, 0.01, 0.0099, (seq % 13,))


def test_partial_while_recording_then_renamed_with_its_end_line(tmp_path: Path) -> None:
    rec = SessionRecorder(tmp_path / "s", device="sim")
    for seq in range(1, 51):
        rec.write(_frame(seq))
    assert rec.frames_path == tmp_path / "s" / "frames.partial.csv"
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["events.jsonl",
                                                                 "frames.partial.csv"]
    during = read_session_frames(tmp_path / "s")
    assert during.table.end is None and len(during.table) == rec.frames_written
    assert "incomplete: recording interrupted after" in during.table.notice
    rec.close()
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["events.jsonl", "frames.csv"]
    after = read_session_frames(tmp_path / "s")
    assert after.table.complete and len(after.table) == 50
    assert (tmp_path / "s" / "frames.csv").read_text().endswith("# end: complete, 50 frames\n")
    for path in (tmp_path / "s").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "s").stat().st_mode & 0o777 == 0o700


def test_fsync_by_recording_time(tmp_path: Path, monkeypatch) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    rec = SessionRecorder(tmp_path / "s")
    rec.write(_frame(0))  # the frame file starts with the first frame (making it syncs its folder)
    synced.clear()
    for seq in range(1, 500):  # 5 s of 10 ms frames with the first
        rec.write(_frame(seq))
    # once per second of recording time (RecorderConfig default), frames and events alike
    assert synced == [rec._frames_fd, rec._events_fd] * 5
    rec.close()


def test_a_disk_under_its_margin_ends_the_session_as_interrupted(tmp_path: Path,
                                                                 monkeypatch) -> None:
    partial = tmp_path / "s" / "frames.partial.csv"

    def free_for(_path: Path) -> int:  # by the recording's progress: 40 rows, then 10 MiB
        rows = partial.read_text().count("\n") - 4 if partial.exists() else 0
        return 10 * MIB if rows >= 40 else 100 * MIB

    monkeypatch.setattr(files, "free_bytes", free_for)
    rec = SessionRecorder(tmp_path / "s")
    try:
        for seq in range(1, 1000):
            rec.write(_frame(seq))
    except OSError as exc:
        assert "disk almost full" in str(exc)
        rec.abort(exc)  # what LiveSession does: the readout goes on, the recording ends
    frames = read_session_frames(tmp_path / "s")
    assert frames.table.end == "interrupted (disk full)"
    assert 40 <= len(frames.table) < 60
    events = read_session_events(tmp_path / "s").events
    assert events[0]["event"] == "session_start"
