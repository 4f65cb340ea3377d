"""Session recording: every frame appended to a frame CSV file, events to a JSONL file beside it.

A session is a directory holding `frames.csv` (docs/frames-csv.md, readable by `probe-nav
replay`) and `events.jsonl` (one JSON object per line: background taken, timed counts, alarms,
link changes; docs/session-files.md). Frames are buffered in memory for at most `flush_period_s`
of device time and then written with one os.write on an O_APPEND descriptor, so a crash loses at
most the last unflushed period; events are written at once. fsync runs every `fsync_interval_s`
of host time (and on close) against power loss.

Reading a session tolerates a torn last line (a crash in the middle of a write): it is skipped and
counted (`SessionFrames.torn_lines`), never an error.
"""

from __future__ import annotations

import io
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from probe_nav.drivers.frames import CountFrame
from probe_nav.errors import UserError
from probe_nav.io.frames_csv import FrameCsvError, FrameCsvWriter, FrameTable, parse_frames_csv
from probe_nav.storage import user_data_dir

FRAMES_FILE = "frames.csv"
EVENTS_FILE = "events.jsonl"
EVENT_KINDS = ("session_start", "session_end", "background_taken", "timed_count", "alarm",
               "hot", "cold", "link", "note")


def default_sessions_dir() -> Path:
    """Where sessions go by default: <user data dir>/sessions."""
    return user_data_dir() / "sessions"


def _open_append(path: Path) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    """Flushing policy of a SessionRecorder."""

    flush_period_s: float = 0.1  # of device time: at most this much is lost in a crash
    fsync_interval_s: float = 1.0  # of host time: at most this much is lost in a power cut
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
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config or RecorderConfig()
        self.directory = Path(directory)
        self._clock = clock
        try:
            self.directory.mkdir(parents=True, exist_ok=False, mode=0o700)
            self._frames_fd = _open_append(self.directory / FRAMES_FILE)
            self._events_fd = _open_append(self.directory / EVENTS_FILE)
        except FileExistsError:
            raise UserError(f"{self.directory}: a session is already recorded there") from None
        except OSError as exc:
            raise UserError(f"{self.directory}: cannot record a session there "
                            f"({exc.strerror or exc})") from None
        self._buffer = io.StringIO()
        header = ["probe-nav session recording", f"started: {time.time():.3f} (unix s)"]
        if device:
            header.append(f"device: {device}")
        self._writer = FrameCsvWriter(self._buffer, self.config.n_windows, (*header, *comments))
        self.frames_written = 0  # handed to the OS (survive a crash of this process)
        self.frames_pending = 0
        self._flush_t_s: float | None = None
        self._last_fsync = clock()
        self.flush()
        self.event("session_start", device=device)

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
        """The frame CSV file."""
        return self.directory / FRAMES_FILE

    @property
    def events_path(self) -> Path:
        """The events JSONL file."""
        return self.directory / EVENTS_FILE

    def write(self, frame: CountFrame) -> None:
        """Append one frame; written out when flush_period_s of device time has gathered."""
        self._writer.write(frame)
        self.frames_pending += 1
        if self._flush_t_s is None:
            self._flush_t_s = frame.t_s
        elif frame.t_s - self._flush_t_s >= self.config.flush_period_s - 1e-9:
            self.flush()
            self._flush_t_s = frame.t_s

    def event(self, kind: str, t_s: float | None = None, **fields: object) -> None:
        """Append one event at once (pending frames first, so the files stay in step)."""
        self.flush()
        record = {"unix_s": round(time.time(), 3), "t_s": t_s, "event": kind, **fields}
        line = json.dumps(_jsonable(record), separators=(", ", ": ")) + "\n"
        _write_all(self._events_fd, line.encode("utf-8"))

    def flush(self) -> None:
        """Hand the pending frames to the OS now (call on a host timer when frames stall)."""
        text = self._buffer.getvalue()
        if text:
            _write_all(self._frames_fd, text.encode("utf-8"))
            self._buffer.seek(0)
            self._buffer.truncate()
            self.frames_written += self.frames_pending
            self.frames_pending = 0
        now = self._clock()
        if now - self._last_fsync >= self.config.fsync_interval_s:
            os.fsync(self._frames_fd)
            os.fsync(self._events_fd)
            self._last_fsync = now

    def close(self) -> None:
        """Write everything, fsync and close (idempotent)."""
        if self._frames_fd < 0:
            return
        self.event("session_end", frames=self.frames_written + self.frames_pending)
        for fd in (self._frames_fd, self._events_fd):
            os.fsync(fd)
            os.close(fd)
        self._frames_fd = self._events_fd = -1

    def __enter__(self) -> SessionRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


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


def read_session_frames(path: Path) -> SessionFrames:
    """Read a session's frame file; a torn (unterminated) last line is skipped and counted.

    Raises UserError with one line for a file that cannot be read or is malformed elsewhere.
    """
    path = Path(path)
    if path.is_dir():
        path = path / FRAMES_FILE
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the session file ({exc.strerror or exc})") from None
    torn = 0
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        torn = 1
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text (UTF-8) frame file") from None
    try:
        table = parse_frames_csv(text.splitlines(keepends=True), str(path))
    except FrameCsvError as exc:
        raise UserError(str(exc)) from None
    return SessionFrames(table, torn)


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
    """Cut a torn last line off a frame file (so any reader takes it); returns bytes removed."""
    path = Path(path)
    if path.is_dir():
        path = path / FRAMES_FILE
    data = path.read_bytes()
    if not data or data.endswith(b"\n"):
        return 0
    keep = data.rfind(b"\n") + 1
    with path.open("r+b") as fh:
        fh.truncate(keep)
    return len(data) - keep
