"""Session recording: every frame streamed to a frame CSV file, events to a JSONL file beside it.

A session is a directory holding `frames.csv` (docs/frames-csv.md, readable by `probe-nav
replay`) and `events.jsonl` (one JSON object per line: background taken, timed counts, alarms,
link changes; docs/session-files.md). Frames go through `probe_nav.io.recording.RecordingFile`:
written as `frames.partial.csv`, handed to the OS every `flush_period_s` of recording time in one
write, fsynced every `fsync_interval_s` of recording time, and renamed to `frames.csv` with the end
line `# end: complete, N frames` on close (`# end: interrupted (WHY), N frames` when the disk
fails). Events are written at once. A crash loses at most the last unflushed period.

Reading a session tolerates a torn last line (a crash in the middle of a write): it is skipped and
counted (`SessionFrames.torn_lines`), never an error; a session without an end line reads as
incomplete (`SessionFrames.table.notice`).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

from probe_nav import files
from probe_nav.drivers.frames import CountFrame
from probe_nav.errors import UserError
from probe_nav.io.frames_csv import (
    END_COMPLETE,
    FrameCsvError,
    FrameTable,
    decode_lines,
    parse_frames_csv,
)
from probe_nav.io.recording import Durability, RecordingFile
from probe_nav.storage import user_data_dir

FRAMES_FILE = "frames.csv"
FRAMES_PARTIAL = "frames.partial.csv"  # until the session ends
EVENTS_FILE = "events.jsonl"
EVENT_KINDS = ("session_start", "session_end", "background_taken", "timed_count", "alarm",
               "hot", "cold", "link", "note")


def default_sessions_dir() -> Path:
    """Where sessions go by default: <user data dir>/sessions."""
    return user_data_dir() / "sessions"


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    """Flushing policy of a SessionRecorder (periods of recording time: the frames' real_s)."""

    flush_period_s: float = 0.1  # at most this much is lost in a crash
    fsync_interval_s: float = 1.0  # at most this much is lost in a power cut
    n_windows: int = 1


class SessionRecorder:
    """Appends the frames and events of one session to a new session directory."""

    def __init__(
        self,
        directory: Path,
        *,
        device: str = "",
        comments: tuple[str, ...] = (),
        config: RecorderConfig | None = None,
    ) -> None:
        self.config = config or RecorderConfig()
        self.directory = Path(directory)
        durability = Durability(flush_period_s=self.config.flush_period_s,
                                fsync_period_s=self.config.fsync_interval_s,
                                start_margin_bytes=Durability().stop_margin_bytes)
        try:
            self.directory.mkdir(parents=True, exist_ok=False, mode=files.PRIVATE_DIR_MODE)
            self._frames = RecordingFile(self.directory / FRAMES_PARTIAL,
                                         self.directory / FRAMES_FILE, durability=durability)
            self._events_fd = files.private_fd(self.directory / EVENTS_FILE)
        except FileExistsError:
            raise UserError(f"{self.directory}: a session is already recorded there") from None
        except OSError as exc:
            raise UserError(f"{self.directory}: cannot record a session there "
                            f"({exc.strerror or exc})") from None
        header = ["probe-nav session recording", f"started: {time.time():.3f} (unix s)"]
        if device:
            header.append(f"device: {device}")
        # The frame file starts with the first frame: its header then has a column for every
        # window the device counts (known only once it speaks), so none is ever dropped.
        self._header = (*header, *comments)
        self.event("session_start", device=device)

    def _start_frames(self, n_windows: int) -> None:
        """Make the frame file with columns for n_windows windows (or the configured number)."""
        self._frames.start(max(self.config.n_windows, n_windows), self._header)

    @classmethod
    def start(cls, sessions_dir: Path | None = None, label: str = "", **kwargs) -> SessionRecorder:
        """A recorder in a new, time-stamped directory under sessions_dir (default location)."""
        base = Path(sessions_dir) if sessions_dir is not None else default_sessions_dir()
        stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)[:40]
        name = f"{stamp}-{safe}" if safe else stamp
        for n in range(1000):
            candidate = base / (name if n == 0 else f"{name}-{n}")
            if not candidate.exists():
                return cls(candidate, **kwargs)
        raise UserError(f"{base}: too many sessions named {name}")

    @property
    def frames_path(self) -> Path:
        """The frame CSV file (frames.partial.csv while recording, frames.csv once closed)."""
        return self._frames.path

    @property
    def events_path(self) -> Path:
        """The events JSONL file."""
        return self.directory / EVENTS_FILE

    @property
    def frames_written(self) -> int:
        """Frames handed to the OS (they survive a crash of this process)."""
        return self._frames.frames_written

    @property
    def frames_pending(self) -> int:
        """Frames not handed to the OS yet."""
        return self._frames.frames_pending

    @property
    def _frames_fd(self) -> int:
        return self._frames.fd

    @_frames_fd.setter
    def _frames_fd(self, value: int) -> None:
        self._frames.fd = value

    def write(self, frame: CountFrame) -> None:
        """Append one frame; written out when flush_period_s of recording time has gathered.
        OSError (DiskLow under the free-space margin) when the recording must stop."""
        if not self._frames.started:
            self._start_frames(len(frame.counts))
        fsyncs = self._frames.fsyncs
        self._frames.write(frame)
        if self._frames.fsyncs != fsyncs:
            os.fsync(self._events_fd)  # the events file reaches the disk with the frames

    def event(self, kind: str, t_s: float | None = None, **fields: object) -> None:
        """Append one event at once (pending frames first, so the files stay in step)."""
        self._event(kind, t_s, True, fields)

    def _event(self, kind: str, t_s: float | None, check_space: bool,
               fields: dict[str, object]) -> None:
        if self._frames.started:
            self._frames.flush(check_space=False)
        record = {"unix_s": round(time.time(), 3), "t_s": t_s, "event": kind, **fields}
        line = json.dumps(_jsonable(record), separators=(", ", ": ")) + "\n"
        files.write_all(self._events_fd, line.encode("utf-8"))
        if check_space and self._frames.started:
            self._frames.flush()  # DiskLow under the margin, once the event is written

    def flush(self) -> None:
        """Hand the pending frames to the OS now (call on a host timer when frames stall)."""
        if self._frames.started:
            self._frames.flush()

    def close(self) -> None:
        """Write everything with the end line, fsync, rename to frames.csv, close (idempotent)."""
        if self._events_fd < 0:
            return
        try:
            self._event("session_end", None, False,
                        {"frames": self.frames_written + self.frames_pending})
            os.fsync(self._events_fd)
        except OSError as exc:
            self.abort(exc)
            raise
        os.close(self._events_fd)
        self._events_fd = -1
        if not self._frames.started:  # no frame came: an empty, complete recording
            self._start_frames(1)
        self._frames.finish(END_COMPLETE)

    def abort(self, exc: BaseException | str) -> None:
        """End the recording after a failure (disk full, write error), never raising: frames
        get the end line `interrupted (WHY)` if it can still be written."""
        self._frames.abort(exc)
        if self._events_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._events_fd)
            self._events_fd = -1

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _jsonable(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


@dataclass(frozen=True, slots=True)
class SessionFrames:
    """Frames read from a session file, and how many torn lines were skipped."""

    table: FrameTable
    torn_lines: int


def session_frames_file(path: Path) -> Path:
    """The frame file of a session directory: frames.csv, else (a session that never ended)
    frames.partial.csv; a file path is returned as it is."""
    path = Path(path)
    if not path.is_dir():
        return path
    done = path / FRAMES_FILE
    partial = path / FRAMES_PARTIAL
    return partial if not done.exists() and partial.exists() else done


def read_session_frames(path: Path) -> SessionFrames:
    """Read a session's frame file; a torn (unterminated) last line is skipped and counted.

    Raises UserError with one line for a file that cannot be read or is malformed elsewhere.
    """
    path = session_frames_file(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the session file ({exc.strerror or exc})") from None
    try:
        table = parse_frames_csv(decode_lines(data, str(path)), str(path))
    except FrameCsvError as exc:
        raise UserError(str(exc)) from None
    return SessionFrames(table, table.torn_lines)


@dataclass(frozen=True, slots=True)
class SessionEvents:
    """Events read from a session's JSONL file; malformed lines are skipped and counted."""

    events: tuple[dict, ...]
    bad_lines: int


def read_session_events(path: Path) -> SessionEvents:
    """Read a session's events file (directory or file path)."""
    path = Path(path)
    if path.is_dir():
        path = path / EVENTS_FILE
    try:
        lines = path.read_bytes().split(b"\n")
    except OSError as exc:
        raise UserError(f"{path}: cannot read the events file ({exc.strerror or exc})") from None
    events, bad = [], 0
    for raw in lines:
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            bad += 1
            continue
        if isinstance(obj, dict) and "event" in obj:
            events.append(obj)
        else:
            bad += 1
    return SessionEvents(tuple(events), bad)


def repair_frames_file(path: Path) -> int:
    """Cut a torn last line off a frame file in place; returns bytes removed. (`probe-nav
    repair` instead writes a clean copy with an honest end line.)"""
    path = session_frames_file(path)
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as fh:
        fh.truncate(keep)
    return len(data) - keep
