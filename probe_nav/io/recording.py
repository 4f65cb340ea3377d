"""A recording streamed to disk as frames arrive, crash-safe (docs/frames-csv.md, "Recording").

`RecordingFile` writes a frame CSV under a temporary name beside its final one (`X.partial.csv`
for `X.csv`; a session's `frames.partial.csv`), so a recording that is cut short is never taken
for a finished one:

* nothing is created by the constructor (it checks the names and the free space); `start()`
  makes the file anonymous (O_TMPFILE) and names it only once its first bytes (comments and
  header) are written, so a kill leaves no file or a readable one, never an empty one;
* frames are handed to the OS in one write every `flush_period_s` and fsynced every
  `fsync_period_s`, both of recording time (the sum of the frames' real_s, so a device clock
  that jumps changes nothing); a crash loses at most the last flush period;
* `finish()` adds the end line (`# end: complete, N frames` or `# end: interrupted (WHY), N
  frames`), fsyncs, renames the file to its final name and fsyncs the folder;
* after every flush the free space is checked: below the stop margin `DiskLow` is raised (the
  data written so far are kept; the caller finishes the file as interrupted).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from probe_nav import files
from probe_nav.drivers.frames import CountFrame
from probe_nav.io.frames_csv import FrameCsvWriter, end_interrupted, end_line
from probe_nav.io.frames_pose import Pose

MIB = 1024 * 1024
# The data disk also holds the case and QC databases (a record needs a few kB and its journal)
# and the log (at most 8 MB): below 16 MiB free a recording stops, keeping what it wrote with
# its end line; one does not start below 64 MiB (room for hours of counts-only frames at ~60
# bytes each, or minutes of 1024-channel spectra at 20 frames/s).
START_MARGIN_BYTES = 64 * MIB
STOP_MARGIN_BYTES = 16 * MIB

Trace = Callable[[str, str], None]  # (point, detail): a test hook, see probe_nav.cli.record


@dataclass(frozen=True, slots=True)
class Durability:
    """How often a recording reaches the OS and the disk, and the free-space margins.

    `reserve_factor`: the free space must also hold this many times the bytes written so far
    (an N42 recording writes its XML, about as large as its journal, at the end)."""

    flush_period_s: float = 1.0  # of recording time: at most this is lost when killed
    fsync_period_s: float = 2.0  # of recording time: at most this is lost in a power cut
    start_margin_bytes: int = START_MARGIN_BYTES
    stop_margin_bytes: int = STOP_MARGIN_BYTES
    reserve_factor: float = 0.0


class DiskLow(OSError):
    """Free space under a margin: the recording must stop (or cannot start)."""

    def __init__(self, folder: Path, free: int, need: int) -> None:
        super().__init__(errno.ENOSPC, f"disk almost full: {free / MIB:.1f} MiB free on the disk "
                         f"of {folder}, under the {need / MIB:.0f} MiB margin")
        self.free_bytes, self.need_bytes = free, need


def partial_path(final: str | Path) -> Path:
    """Where a recording to `final` is written until it ends: X.csv, X.n42 -> X.partial.csv."""
    final = Path(final)
    return final.with_name(f"{final.stem}.partial.csv")


def end_reason(exc: BaseException) -> str:
    """The end state of a recording stopped by an exception: 'interrupted (disk full)', ..."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return end_interrupted("disk full")
    if isinstance(exc, OSError):
        return end_interrupted(f"write error: {exc.strerror or exc}")
    return end_interrupted(type(exc).__name__)


class RecordingFile:
    """One frame CSV recording, streamed to `partial` and renamed to `final` when it ends
    (`final` None: it stays at `partial`, e.g. the journal of an N42 recording)."""

    def __init__(self, partial: Path, final: Path | None = None, *, overwrite: bool = False,
                 durability: Durability | None = None,
                 free_bytes: Callable[[Path], int] | None = None,
                 trace: Trace | None = None) -> None:
        self.partial = Path(partial)
        self.final = None if final is None else Path(final)
        self.overwrite = overwrite
        self.durability = durability or Durability()
        self._free_bytes = free_bytes
        self._trace = trace
        if self.final is not None:
            files.check_new_output(self.final, overwrite)
        files.check_new_output(self.partial)  # an earlier interrupted recording: never replaced
        self._check_space(self.durability.start_margin_bytes)
        self._file: files.AnonymousFile | None = None
        self._buffer = io.StringIO()
        self._writer: FrameCsvWriter | None = None
        self._named = False
        self._ended = False  # the end line is written and fsynced (only publishing may be left)
        self._failed: OSError | None = None
        self.published: Path | None = None
        self.frames_written = 0  # handed to the OS (survive a kill of this process)
        self.frames_pending = 0
        self.recorded_s = 0.0  # real time of every frame written or pending
        self.written_s = 0.0  # real time of the frames written
        self._pending_s = 0.0
        self.bytes_written = 0
        self.fsyncs = 0
        self._flush_at_s = 0.0
        self._fsync_at_s = 0.0

    # ---------------------------------------------------------------- writing

    @property
    def started(self) -> bool:
        """Whether start() has made the file."""
        return self._file is not None

    @property
    def path(self) -> Path:
        """Where the recording is now: `partial` until it is published, then `final`."""
        return self.published or self.partial

    @property
    def fd(self) -> int:
        """The descriptor written to (-1 when closed)."""
        return -1 if self._file is None else self._file.fd

    @fd.setter
    def fd(self, value: int) -> None:
        if self._file is not None:
            self._file.fd = value

    def start(self, n_windows: int = 1, comments: Iterable[str] = (),
              spectrum: bool = False, pose: bool = False) -> None:
        """Make the file with its comments and header row, named `partial` once written; `pose`
        adds the pose columns (docs/frames-csv.md)."""
        if self._file is not None:
            raise RuntimeError("the recording has started already")
        self._file = files.AnonymousFile(self.partial.parent, self.partial.name)
        self._note("opened", str(self.partial))
        self._writer = FrameCsvWriter(self._buffer, n_windows, comments, spectrum=spectrum,
                                      pose=pose)
        self.flush()

    def write(self, frame: CountFrame, pose: Pose | None = None) -> None:
        """Add one frame (with its pose if the file has pose columns); the frames go to the OS
        every flush_period_s of recording time."""
        assert self._writer is not None, "start() first"
        self._writer.write(frame, pose)
        self.frames_pending += 1
        real_s = max(float(frame.real_s), 0.0)
        self.recorded_s += real_s
        self._pending_s += real_s
        if self.recorded_s - self._flush_at_s >= self.durability.flush_period_s - 1e-9:
            self._flush_at_s = self.recorded_s
            self.flush()

    def comment(self, text: str) -> None:
        """Add comment lines (written with the next flush)."""
        for part in str(text).splitlines() or [""]:
            self._buffer.write(f"# {part}\n")

    def flush(self, check_space: bool = True) -> None:
        """Hand what is pending to the OS now (one write), fsync when due, check the free space
        (DiskLow below the stop margin)."""
        if self._failed is not None:
            raise self._failed
        assert self._file is not None, "start() first"
        text = self._buffer.getvalue()
        if text:
            data = text.encode("utf-8")
            self._guard(files.write_all, self._file.fd, data)
            self._buffer.seek(0)
            self._buffer.truncate()
            self.frames_written += self.frames_pending
            self.written_s += self._pending_s
            self.frames_pending, self._pending_s = 0, 0.0
            self.bytes_written += len(data)
            if not self._named:
                self._file.link(self.partial)  # OutputExists if another process took the name
                self._named = True
            self._note("flushed", str(self.frames_written))
        if self.recorded_s - self._fsync_at_s >= self.durability.fsync_period_s - 1e-9:
            self._fsync_at_s = self.recorded_s
            self._guard(os.fsync, self._file.fd)
            self.fsyncs += 1
            self._note("fsynced", str(self.frames_written))
        if check_space:
            need = self.durability.stop_margin_bytes + int(
                self.durability.reserve_factor * self.bytes_written)
            self._check_space(need)

    def _guard(self, call: Callable, *args: object) -> None:
        try:
            call(*args)
        except OSError as exc:
            self._failed = exc  # never write to this descriptor again (it may be gone)
            raise

    def _check_space(self, need: int) -> None:
        probe = self._free_bytes or files.free_bytes  # looked up now: tests replace it
        free = probe(self.partial.parent)
        if free < need:
            raise DiskLow(self.partial.parent, free, need)

    def _note(self, point: str, detail: str) -> None:
        if self._trace is not None:
            self._trace(point, detail)

    # ---------------------------------------------------------------- ending

    def finish(self, state: str = "complete", comments: Iterable[str] = ()) -> Path:
        """Write the end line (after `comments`), fsync, publish under `final` (if any) and
        close; returns where the recording is. OSError if the disk fails (see abort)."""
        assert self._file is not None, "start() first"
        if self._ended:
            raise RuntimeError("the recording has ended already")
        for text in comments:
            self.comment(text)
        self._buffer.write(end_line(state, self.frames_written + self.frames_pending))
        self.flush(check_space=False)
        self._guard(os.fsync, self._file.fd)
        self._ended = True
        self._note("ended", f"{state} {self.frames_written}")
        self._publish()
        self._file.close()
        return self.path

    def _publish(self) -> None:
        if self.final is not None and self.published is None:
            self._note("publishing", str(self.final))
            files.publish(self.partial, self.final, self.overwrite,
                          linked=lambda: self._note("linked", str(self.final)))
            self.published = self.final
            self._note("published", str(self.final))

    def abort(self, exc: BaseException | str) -> Path | None:
        """End a recording that cannot go on, never raising: the end line `interrupted (WHY)`
        if it can still be written (else the file stays without one and reads as incomplete),
        published all the same. Returns where the recording is (None if nothing was made)."""
        if self._file is None:
            return None
        if self._ended:  # only its publication failed (e.g. the final name was taken meanwhile)
            with contextlib.suppress(OSError):
                self._file.close()
            return self.path
        state = exc if isinstance(exc, str) else end_reason(exc)
        if self._failed is not None and self._failed.errno in (errno.ENOSPC, errno.EDQUOT):
            self._cut_back()
        if self._failed is None:
            with contextlib.suppress(OSError):
                return self.finish(state)
        self._buffer = io.StringIO()
        if not self._named:
            if self._failed is not None and self._failed.errno == errno.EBADF:
                self._file.fd = -1  # not ours any more: never close it
            self._file.discard()
            return None
        with contextlib.suppress(OSError):
            self._publish()
        if self._failed is None or self._failed.errno != errno.EBADF:
            with contextlib.suppress(OSError):
                self._file.close()
        self._file.fd = -1
        return self.path

    def _cut_back(self) -> None:
        """After a write the full disk cut short: drop the part written of it (the file ends
        with its last whole flush again, and room is freed for the end line)."""
        assert self._file is not None
        try:
            os.ftruncate(self._file.fd, self.bytes_written)
            os.lseek(self._file.fd, self.bytes_written, os.SEEK_SET)
        except OSError:
            return
        self._buffer = io.StringIO()
        self.frames_pending, self._pending_s = 0, 0.0
        self._failed = None

    def remove(self) -> None:
        """Delete the recording (a journal whose content is now safe elsewhere)."""
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
        if self._named:
            self.path.unlink(missing_ok=True)
            files.fsync_dir(self.path.parent)
