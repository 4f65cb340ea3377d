"""A session recording keeps every window the device counts (the frame file's columns follow
the first frame), so a dual-isotope session's second window is never dropped."""

from __future__ import annotations

from pathlib import Path

from probe_nav.cases.session import SessionRecorder, read_session_frames
from probe_nav.drivers.frames import CountFrame


def test_every_window_is_recorded(tmp_path: Path) -> None:
    rec = SessionRecorder(tmp_path / "s")
    for seq in range(20):
        rec.write(CountFrame(seq, (seq + 1) * 0.05, 0.05, 0.05, (seq, 100 + seq)))
    rec.close()
    table = read_session_frames(tmp_path / "s").table
    assert table.complete and len(table) == 20
    assert table.window_counts()[:, 1].tolist() == [100 + s for s in range(20)]


def test_a_session_without_frames_is_complete_and_empty(tmp_path: Path) -> None:
    rec = SessionRecorder(tmp_path / "s")
    rec.event("note", text="no probe came")
    rec.close()
    table = read_session_frames(tmp_path / "s").table
    assert table.complete and len(table) == 0
