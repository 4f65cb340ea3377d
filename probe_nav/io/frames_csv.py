"""Frame CSV files (docs/frames-csv.md): reading for replay, writing for the recorder.

Reading validates every row and reports the first problem as one line naming the file and the line
number (FrameCsvError); values are parsed with Python's float/int (integers bounded to int64, so
nothing larger is ever built), and writing uses repr(), so a written file reads back to
bit-identical numbers. A recording ends with an end line (`# end: complete, N frames`,
`# end: interrupted (REASON), N frames`, `# end: repaired, N frames`); a file without one was cut
short (a crash or a kill) and reads as `incomplete`, with a torn last line dropped. The probe's
pose (optional columns x_mm,y_mm,z_mm,ux,uy,uz) is checked and printed by frames_pose.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from probe_nav.drivers.frames import CountFrame
from probe_nav.files import atomic_write_text
from probe_nav.io.frames_pose import (
    POSE_COLUMNS,
    Pose,
    PoseError,
    parse_pose,
    pose_cells,
    pose_indices,
)

REQUIRED_COLUMNS = ("t_s", "live_s", "counts")
OPTIONAL_COLUMNS = ("real_s", "seq", "flags")  # and w1, w2, ... (counts of further windows)
SPECTRUM_COLUMN = "spectrum"  # written to N42 journals; readers skip it like any unknown column
INT64_MAX = 2**63 - 1
END_COMPLETE = "complete"
END_REPAIRED = "repaired"
_END = re.compile(r"^end:\s*(?P<state>complete|repaired|interrupted\s*\((?P<reason>[^()]*)\))"
                  r"\s*,\s*(?P<n>\d{1,19}) frames?\s*$")


class FrameCsvError(ValueError):
    """A frame CSV file that cannot be read; the message is one line with file and line number."""


def end_interrupted(reason: str) -> str:
    """The end state of a recording stopped early, e.g. 'interrupted (SIGINT)'."""
    clean = " ".join(reason.replace("(", "[").replace(")", "]").split()) or "unknown"
    return f"interrupted ({clean})"


def end_line(state: str, frames: int) -> str:
    """The trailer line of a recording: `# end: STATE, N frames` (with its newline)."""
    if state not in (END_COMPLETE, END_REPAIRED) and _END.match(f"end: {state}, 0 frames") is None:
        raise ValueError(f"not an end state: {state!r}")
    return f"# end: {state}, {int(frames)} frames\n"


def parse_end(comment: str) -> tuple[str, int] | None:
    """(state, frames) of an end-line comment (text after '#'), None for any other comment."""
    match = _END.match(comment.strip())
    if match is None:
        return None
    state = match["state"]
    if match["reason"] is not None:
        state = end_interrupted(match["reason"])
    return state, int(match["n"])


@dataclass(frozen=True, slots=True)
class FrameTable:
    """The frames of a CSV file as arrays; optional columns only if the file has them.

    `end` is the state its end line gives (None: no end line, the recording was cut short) and
    `torn_lines` the unterminated last line dropped (0 or 1). `position_mm` and `axis` (n, 3)
    are the probe's pose (None when the file has no pose columns; NaN rows: no pose for that
    frame, a tracker dropout)."""

    t_s: np.ndarray
    live_s: np.ndarray
    counts: np.ndarray
    real_s: np.ndarray | None = None
    seq: np.ndarray | None = None
    flags: np.ndarray | None = None
    windows: dict[str, np.ndarray] = field(default_factory=dict)  # w1, w2, ... counts
    comments: tuple[str, ...] = ()
    end: str | None = None
    torn_lines: int = 0
    name: str = ""
    position_mm: np.ndarray | None = None  # (n, 3) tip position, tracker frame, mid-frame
    axis: np.ndarray | None = None  # (n, 3) unit axis out of the tip

    def __len__(self) -> int:
        return int(self.t_s.size)

    def window_counts(self) -> np.ndarray:
        """(n, W) counts of windows 0..W-1 (`counts`, `w1`, ...); FrameCsvError when a window
        column is missing in between (w2 without w1)."""
        found = sorted(int(h[1:]) for h in self.windows)
        if found != list(range(1, len(found) + 1)):
            raise FrameCsvError(f"{self.name}: window columns must be w1, w2, ... without gaps, "
                                f"got {', '.join(f'w{i}' for i in found)}")
        return np.stack([self.counts, *(self.windows[f"w{i}"] for i in found)], axis=1)

    @property
    def complete(self) -> bool:
        """Whether the recording ended normally (its end line says `complete`)."""
        return self.end == END_COMPLETE

    @property
    def notice(self) -> str:
        """One line for the user when the recording did not end normally, else ''."""
        n = len(self)
        if self.end is None:
            torn = "; its torn last line was dropped" if self.torn_lines else ""
            return (f"{self.name}: incomplete: recording interrupted after {n} frames "
                    f"(no end line{torn})")
        if self.end == END_REPAIRED:
            return f"{self.name}: repaired copy of an interrupted recording ({n} frames)"
        if self.end != END_COMPLETE:
            return f"{self.name}: recording {self.end} after {n} frames"
        return ""


def _number(text: str, name: str, where: str, integer: bool) -> float | int:
    text = text.strip()
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise FrameCsvError(f"{where}: column {name} must be {kind}, got {text[:40]!r}") from None
    if not integer and not math.isfinite(value):
        raise FrameCsvError(f"{where}: column {name} must be finite, got {text[:40]!r}")
    if name != "t_s" and value < 0:
        raise FrameCsvError(f"{where}: column {name} must not be negative, got {text[:40]!r}")
    if integer and value > INT64_MAX:
        shown = text if len(text) <= 24 else f"{text[:20]}... ({len(text)} digits)"
        raise FrameCsvError(f"{where}: column {name} is too large ({shown}; at most 2^63-1)")
    return value


def read_frames_csv(path: str | Path) -> FrameTable:
    """Read a frame CSV file; raises FrameCsvError (or OSError if it cannot be opened)."""
    path = Path(path)
    return parse_frames_csv(decode_lines(path.read_bytes(), str(path)), str(path))


def decode_lines(data: bytes, name: str) -> list[str]:
    """UTF-8 lines (with their newlines); FrameCsvError if the text is not UTF-8. A torn last
    line may end in half a character: it is decoded leniently (and then dropped as torn)."""
    whole = data.rfind(b"\n") + 1
    try:
        text = data[:whole].decode("utf-8") + data[whole:].decode("utf-8", errors="replace")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FrameCsvError(f"{name}, line {line}: not UTF-8 text (a frame CSV file?)") from None
    return text.splitlines(keepends=True)


class _Parser:
    """Checks lines one at a time (FrameCsvError at the first bad one) and gathers the columns."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.header: list[str] | None = None
        self.comments: list[str] = []
        self.cols: dict[str, list[float | int]] = {}
        self.integer: dict[str, bool] = {}
        self.last_t = -math.inf
        self.end: tuple[str, int] | None = None
        self.end_line_number = 0
        self.rows = 0
        self.pose_at: tuple[int, ...] | None = None  # indices of the pose columns, if any
        self.poses: list[tuple[float, ...]] = []

    def feed(self, number: int, raw: str) -> None:
        line = raw.strip()
        if not line:
            return
        where = f"{self.name}, line {number}"
        if self.end is not None:
            raise FrameCsvError(f"{where}: more after the end line (line {self.end_line_number})")
        if line.startswith("#"):
            end = parse_end(line[1:])
            if end is not None:
                self.end, self.end_line_number = end, number
                if self.header is not None and end[1] != self.rows:
                    raise FrameCsvError(f"{where}: the end line says {end[1]} frames, the file "
                                        f"has {self.rows}")
            else:
                self.comments.append(line[1:].strip())
            return
        cells = line.split(",")
        if self.header is None:
            self._take_header(cells, line, where)
            return
        if len(cells) != len(self.header):
            raise FrameCsvError(f"{where}: expected {len(self.header)} values, got {len(cells)}")
        row = {h: _number(cell, h, where, self.integer[h])
               for h, cell in zip(self.header, cells, strict=True) if h in self.cols}
        pose = None
        if self.pose_at is not None:
            try:
                pose = parse_pose([cells[i] for i in self.pose_at])
            except PoseError as exc:
                raise FrameCsvError(f"{where}: {exc}") from None
        t = row["t_s"]
        if t < self.last_t:
            raise FrameCsvError(f"{where}: t_s goes backwards ({t!r} after {self.last_t!r})")
        if "real_s" in row and row["live_s"] > row["real_s"] * (1 + 1e-9):
            raise FrameCsvError(f"{where}: live_s is longer than real_s")
        for h, value in row.items():
            self.cols[h].append(value)
        if pose is not None:
            self.poses.append(pose)
        self.last_t = t
        self.rows += 1

    def _take_header(self, cells: list[str], line: str, where: str) -> None:
        header = [cell.strip() for cell in cells]
        if tuple(header[:3]) != REQUIRED_COLUMNS:
            raise FrameCsvError(
                f"{where}: header must start with t_s,live_s,counts, got {line[:60]!r}")
        if len(set(header)) != len(header):
            raise FrameCsvError(f"{where}: repeated column name in header")
        try:
            self.pose_at = pose_indices(header)
        except PoseError as exc:
            raise FrameCsvError(f"{where}: {exc}") from None
        # Columns this reader does not know (e.g. the simulator's ground truth) are ignored.
        self.cols = {h: [] for h in header
                     if h in OPTIONAL_COLUMNS + REQUIRED_COLUMNS or _is_window(h)}
        self.integer = {h: h in ("counts", "seq", "flags") or _is_window(h) for h in self.cols}
        self.header = header

    def table(self, torn: int) -> FrameTable:
        if self.header is None:
            raise FrameCsvError(f"{self.name}: no header row (expected t_s,live_s,counts)")
        for h, values in self.cols.items():
            if (h == "counts" or _is_window(h)) and sum(values) > INT64_MAX:  # exact (ints)
                raise FrameCsvError(f"{self.name}: the {h} column adds up to more than 2^63-1")
        arrays = {h: np.array(v, dtype=np.int64 if self.integer[h] else np.float64)
                  for h, v in self.cols.items()}
        pose = None
        if self.pose_at is not None:
            pose = np.array(self.poses, dtype=np.float64).reshape(-1, len(POSE_COLUMNS))
        return FrameTable(
            t_s=arrays["t_s"], live_s=arrays["live_s"], counts=arrays["counts"],
            real_s=arrays.get("real_s"), seq=arrays.get("seq"), flags=arrays.get("flags"),
            windows={h: a for h, a in arrays.items() if _is_window(h)},
            comments=tuple(self.comments), end=None if self.end is None else self.end[0],
            torn_lines=torn, name=self.name,
            position_mm=None if pose is None else pose[:, :3].copy(),
            axis=None if pose is None else pose[:, 3:].copy(),
        )


def _numbered(lines: Iterable[str]) -> Iterable[tuple[int, str, bool]]:
    """(line number, text, is the torn last line): the last line is torn when it lacks the
    newline every written line ends with (a write cut short by a crash)."""
    previous: tuple[int, str] | None = None
    for number, raw in enumerate(lines, start=1):
        if previous is not None:
            yield previous[0], previous[1], False
        previous = (number, raw)
    if previous is not None:
        raw = previous[1]
        yield previous[0], raw, bool(raw.strip()) and not raw.endswith("\n")


def parse_frames_csv(lines: Iterable[str], name: str = "<frames>") -> FrameTable:
    """Parse frame CSV text given as lines (see read_frames_csv); a torn last line is dropped."""
    parser = _Parser(name)
    torn = 0
    for number, raw, is_torn in _numbered(lines):
        if is_torn:
            torn = 1
            continue
        parser.feed(number, raw)
    return parser.table(torn)


@dataclass(frozen=True, slots=True)
class Salvage:
    """What `salvage_frames_csv` kept: the good lines, their frames, and why it stopped."""

    lines: tuple[str, ...]  # comment, header and data lines, each ending in a newline
    frames: int
    end: str | None  # the end state of the source, if it had an end line
    problem: str  # "" when the whole file was good
    dropped_lines: int  # non-blank lines not kept (the torn line, the bad line and after)


def salvage_frames_csv(lines: Iterable[str], name: str = "<frames>") -> Salvage:
    """The longest good prefix of a frame CSV: every line up to the first that fails (a torn last
    line, a bad row, anything after the end line), for `probe-nav repair`. FrameCsvError only
    when not even a header row is good."""
    parser = _Parser(name)
    kept: list[str] = []
    problem, dropped = "", 0
    for number, raw, is_torn in _numbered(lines):
        if problem:
            dropped += bool(raw.strip())
            continue
        if is_torn:
            problem, dropped = f"{name}, line {number}: torn last line (no newline)", 1
            continue
        end = parser.end
        try:
            parser.feed(number, raw)
        except FrameCsvError as exc:
            problem, dropped = str(exc), 1
            if parser.end is not end:  # a wrong end line: drop it, keep the rows
                parser.end = end
            continue
        if raw.strip() and parser.end is None:
            kept.append(raw if raw.endswith("\n") else raw + "\n")
    if parser.header is None:  # nothing to keep: say why
        raise FrameCsvError(problem or f"{name}: no header row (expected t_s,live_s,counts)")
    return Salvage(tuple(kept), parser.rows, None if parser.end is None else parser.end[0],
                   problem, dropped)


def _is_window(column: str) -> bool:
    return len(column) > 1 and column[0] == "w" and column[1:].isdigit()


def spectrum_cell(spectrum: Iterable[int]) -> str:
    """A spectrum as one CSV cell: channel counts separated by spaces, each run of zeros as
    `0 RUN` (N42's CountedZeroes)."""
    out: list[str] = []
    zeros = 0
    for value in spectrum:
        if value == 0:
            zeros += 1
            continue
        if zeros:
            out += ["0", str(zeros)]
            zeros = 0
        out.append(str(int(value)))
    if zeros:
        out += ["0", str(zeros)]
    return " ".join(out)


class FrameCsvWriter:
    """Streams CountFrames to a frame CSV file (columns t_s,live_s,counts,real_s,seq,flags,w1..,
    with `pose` the six pose columns x_mm..uz, and with `spectrum` a last column with each
    frame's spectrum; see spectrum_cell)."""

    def __init__(self, out: TextIO, n_windows: int = 1, comments: Iterable[str] = (),
                 spectrum: bool = False, pose: bool = False) -> None:
        self._out = out
        self._n_windows = max(int(n_windows), 1)
        self._spectrum = spectrum
        self._pose = pose
        for comment in comments:
            for part in str(comment).splitlines() or [""]:
                out.write(f"# {part}\n")
        extra = [f"w{i}" for i in range(1, self._n_windows)]
        columns = ["t_s", "live_s", "counts", "real_s", "seq", "flags", *extra]
        columns += list(POSE_COLUMNS) if pose else []
        out.write(",".join(columns + ([SPECTRUM_COLUMN] if spectrum else [])) + "\n")

    def write(self, frame: CountFrame, pose: Pose | None = None) -> None:
        """Append one frame (windows beyond n_windows are dropped, missing ones written as 0),
        with its pose `(position_mm, axis)` if the writer has pose columns (None: no pose, six
        empty cells). ValueError (PoseError), nothing written, for a pose the reader would
        refuse or a pose given to a writer without pose columns."""
        if pose is not None and not self._pose:
            raise PoseError("a pose for a frame CSV writer without pose columns (pose=True)")
        cells = pose_cells(pose) if self._pose else []
        counts = list(frame.counts[: self._n_windows])
        counts += [0] * (self._n_windows - len(counts))
        row = [repr(float(frame.t_s)), repr(float(frame.live_s)), str(int(counts[0])),
               repr(float(frame.real_s)), str(int(frame.seq)), str(int(frame.flags))]
        row += [str(int(c)) for c in counts[1:]]
        row += cells
        if self._spectrum:
            row.append(spectrum_cell(frame.spectrum or ()))
        self._out.write(",".join(row) + "\n")


def write_frames_csv(
    path: str | Path, frames: Iterable[CountFrame], n_windows: int = 1,
    comments: Iterable[str] = (), *, overwrite: bool = False,
    poses: Iterable[Pose | None] | None = None,
) -> int:
    """Write frames to a new file (mode 0600, all or nothing, with its `complete` end line);
    returns the number of frames written. An existing file is an error unless `overwrite`.
    `poses`, parallel to `frames` (None items: no pose), adds the pose columns; ValueError, and
    no file, if it is not as long as `frames` or a pose is refused."""
    import io

    text = io.StringIO()
    writer = FrameCsvWriter(text, n_windows, comments, pose=poses is not None)
    n = 0
    pairs = ((f, None) for f in frames) if poses is None else zip(frames, poses, strict=True)
    for frame, pose in pairs:
        writer.write(frame, pose)
        n += 1
    text.write(end_line(END_COMPLETE, n))
    atomic_write_text(path, text.getvalue(), overwrite=overwrite)
    return n
