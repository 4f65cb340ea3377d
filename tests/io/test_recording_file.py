"""RecordingFile: streamed by recording time, named only once written, published at the end, stopped
under the free-space margin; and the private, no-clobber, atomic file helpers under it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from probe_nav import files
from probe_nav.drivers.frames import CountFrame
from probe_nav.io.frames_csv import read_frames_csv
from probe_nav.io.recording import (
    MIB,
    DiskLow,
    Durability,
    RecordingFile,
    partial_path,
)


def _frame(seq: int, real_s: float = 0.05) -> CountFrame:
    return CountFrame(seq, real_s * (seq + 1), real_s, real_s * 0.99, (seq % 11,))


class Trace(list):
    """The recorder's trace points, as (point, detail)."""

    def __call__(self, point: str, detail: str) -> None:
        self.append((point, detail))

    def count(self, point: str) -> int:  # type: ignore[override]
        return sum(p == point for p, _ in self)


def _plenty(_path: Path) -> int:
    return 10**12


def test_frames_reach_the_os_every_second_and_the_disk_every_two(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    trace = Trace()
    rec = RecordingFile(partial_path(out), out, trace=trace, free_bytes=_plenty)
    assert partial_path(out) == tmp_path / "r.partial.csv"
    assert not list(tmp_path.iterdir())  # nothing made before start()
    rec.start(1, ["hello"])
    assert rec.path.exists() and read_frames_csv(rec.path).end is None  # header only
    for seq in range(100):  # 5 s of 50 ms frames
        rec.write(_frame(seq))
        on_disk = len(read_frames_csv(rec.path))
        assert on_disk == rec.frames_written
        # handed over at each whole second of recording time: never more than 20 pending
        assert rec.frames_pending == (seq + 1) % 20 and on_disk == 20 * ((seq + 1) // 20)
    assert trace.count("flushed") == 1 + 5  # the header, then one per second
    assert trace.count("fsynced") == 2  # at 2 s and 4 s of recording time
    assert rec.finish() == out
    assert not partial_path(out).exists()
    table = read_frames_csv(out)
    assert table.complete and len(table) == 100
    assert [p for p, _ in trace][-4:] == ["ended", "publishing", "linked", "published"]
    assert out.stat().st_mode & 0o777 == 0o600


def test_a_device_clock_jump_does_not_change_the_cadence(tmp_path: Path) -> None:
    rec = RecordingFile(tmp_path / "j.partial.csv", free_bytes=_plenty)
    rec.start()
    for seq in range(30):
        t_s = 0.05 * (seq + 1) + (1e9 if seq >= 10 else 0.0)  # the clock jumps by 1e9 s
        rec.write(CountFrame(seq, t_s, 0.05, 0.05, (1,)))
    assert rec.frames_written == 20  # flushed at 1 s of recording time, not at the jump


def test_refuses_existing_final_and_any_earlier_partial(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("mine\n")
    with pytest.raises(files.OutputExists) as err:
        RecordingFile(partial_path(out), out, free_bytes=_plenty)
    assert err.value.path == out
    partial_path(out).write_text("an interrupted recording\n")
    for overwrite in (False, True):
        with pytest.raises(files.OutputExists) as err:
            RecordingFile(partial_path(out), out, overwrite=overwrite, free_bytes=_plenty)
    assert err.value.path == partial_path(out)
    assert out.read_text() == "mine\n"


def test_a_final_name_taken_meanwhile_keeps_the_whole_recording_as_partial(
        tmp_path: Path) -> None:
    """Another program makes X.csv while X is recorded: it is not touched, and the recording
    stays, whole and with one end line, as X.partial.csv."""
    out = tmp_path / "r.csv"
    rec = RecordingFile(partial_path(out), out, free_bytes=_plenty)
    rec.start()
    for seq in range(30):
        rec.write(_frame(seq))
    out.write_text("someone else's\n")
    with pytest.raises(files.OutputExists):
        rec.finish()
    assert rec.abort(files.OutputExists(out)) == partial_path(out)
    assert out.read_text() == "someone else's\n"
    table = read_frames_csv(partial_path(out))
    assert table.complete and len(table) == 30
    assert partial_path(out).read_text().count("# end:") == 1


def test_overwrite_replaces_only_at_the_end(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("old\n")
    rec = RecordingFile(partial_path(out), out, overwrite=True, free_bytes=_plenty)
    rec.start()
    for seq in range(50):
        rec.write(_frame(seq))
        assert out.read_text() == "old\n"
    rec.finish()
    assert len(read_frames_csv(out)) == 50


def test_under_the_margin_it_cannot_start_and_stops_keeping_what_it_wrote(tmp_path: Path) -> None:
    out = tmp_path / "d.csv"
    with pytest.raises(DiskLow) as err:
        RecordingFile(partial_path(out), out, free_bytes=lambda _p: 63 * MIB)
    assert err.value.errno == errno.ENOSPC and "63.0 MiB free" in err.value.strerror
    assert "64 MiB margin" in err.value.strerror and not list(tmp_path.iterdir())

    def shrinking(_p: Path) -> int:  # free space falls as the file grows: 1 MiB per row
        size = partial_path(out).stat().st_size if partial_path(out).exists() else 0
        return 100 * MIB - size * MIB // 25

    rec = RecordingFile(partial_path(out), out, free_bytes=shrinking)
    rec.start()
    with pytest.raises(DiskLow):
        for seq in range(10_000):
            rec.write(_frame(seq))
    assert 0 < rec.frames_written < 10_000
    rec.abort(end_interrupted_disk := "interrupted (disk full)")
    table = read_frames_csv(out)
    assert table.end == end_interrupted_disk and len(table) == rec.frames_written


def test_reserve_factor_keeps_room_for_the_n42(tmp_path: Path) -> None:
    journal = tmp_path / "n.partial.csv"
    free = [64 * MIB]  # enough to start; then 17 MiB
    durability = Durability(reserve_factor=2.0)
    rec = RecordingFile(journal, None, durability=durability, free_bytes=lambda _p: free[0])
    free[0] = 17 * MIB
    rec.start()
    with pytest.raises(DiskLow):  # 16 MiB + 2 x the journal > 17 MiB once it passes 512 kB
        for seq in range(100_000):
            rec.write(_frame(seq))
    # stopped at the first flush (20 rows, < 1 kB) past half a MiB written
    assert MIB // 2 < rec.bytes_written < MIB // 2 + 1000


def test_abort_after_the_descriptor_is_gone_never_touches_it(tmp_path: Path) -> None:
    out = tmp_path / "b.csv"
    rec = RecordingFile(partial_path(out), out, free_bytes=_plenty)
    rec.start()
    for seq in range(25):
        rec.write(_frame(seq))
    fd = rec.fd
    os.close(fd)  # the disk goes away under the recorder
    with pytest.raises(OSError):
        for seq in range(25, 60):
            rec.write(_frame(seq))
    other = os.open(tmp_path / "other", os.O_WRONLY | os.O_CREAT, 0o600)
    assert other == fd  # the number is someone else's now: the recorder must not touch it
    assert rec.abort(OSError(errno.EBADF, "gone")) == out
    os.write(other, b"still mine")
    os.close(other)
    assert (tmp_path / "other").read_bytes() == b"still mine"
    table = read_frames_csv(out)  # no end line could be written: it reads as incomplete
    assert table.end is None and len(table) == 20


def test_abort_before_any_write_leaves_nothing(tmp_path: Path) -> None:
    rec = RecordingFile(tmp_path / "x.partial.csv", tmp_path / "x.csv", free_bytes=_plenty)
    assert rec.abort("interrupted (SIGINT)") is None
    assert not list(tmp_path.iterdir())


def test_atomic_write_is_private_and_never_clobbers(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = files.atomic_write(tmp_path / "a.txt", b"one")
        assert path.stat().st_mode & 0o777 == 0o600
        with pytest.raises(files.OutputExists):
            files.atomic_write(path, b"two")
        assert path.read_bytes() == b"one"
        files.atomic_write(path, b"three", overwrite=True)
        assert path.read_bytes() == b"three" and path.stat().st_mode & 0o777 == 0o600
        with pytest.raises(IsADirectoryError):
            files.atomic_write(tmp_path, b"x", overwrite=True)
        (tmp_path / "open.txt").write_text("public")
        os.chmod(tmp_path / "open.txt", 0o644)
        with files.open_private(tmp_path / "open.txt", "w") as fh:
            fh.write("private now")
        assert (tmp_path / "open.txt").stat().st_mode & 0o777 == 0o600
        with pytest.raises(FileExistsError):
            files.open_private(tmp_path / "open.txt", "x")
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "open.txt"]  # no temporaries


def test_anonymous_file_has_no_name_until_linked(tmp_path: Path) -> None:
    temp = files.AnonymousFile(tmp_path, "x")
    os.write(temp.fd, b"data")
    assert not list(tmp_path.iterdir())  # (O_TMPFILE here; a hidden .tmp where unsupported)
    (tmp_path / "x").write_text("taken")
    with pytest.raises(files.OutputExists):
        temp.link(tmp_path / "x")
    temp.link(tmp_path / "x", overwrite=True)
    temp.close()
    assert (tmp_path / "x").read_bytes() == b"data"
    assert [p.name for p in tmp_path.iterdir()] == ["x"]
