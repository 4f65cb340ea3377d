"""Frame CSV files (docs/frames-csv.md): reading for replay, writing for the recorder.

Reading validates every row and reports the first problem as one line naming the file and the line
number (FrameCsvError); values are parsed with Python's float/int, and writing uses repr(), so a
written file reads back to bit-identical numbers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from probe_nav.drivers.frames import CountFrame

REQUIRED_COLUMNS = ("t_s", "live_s", "counts")
OPTIONAL_COLUMNS = ("real_s", "seq", "flags")  # and w1, w2, ... (counts of further windows)


class FrameCsvError(ValueError):
    """A frame CSV file that cannot be read; the message is one line with file and line number."""


@dataclass(frozen=True, slots=True)
class FrameTable:
    """The frames of a CSV file as arrays; optional columns only if the file has them."""

    t_s: np.ndarray
    live_s: np.ndarray
    counts: np.ndarray
    real_s: np.ndarray | None = None
    seq: np.ndarray | None = None
    flags: np.ndarray | None = None
    windows: dict[str, np.ndarray] = field(default_factory=dict)  # w1, w2, ... counts
    comments: tuple[str, ...] = ()

    def __len__(self) -> int:
        return int(self.t_s.size)


def _number(text: str, name: str, where: str, integer: bool) -> float | int:
    text = text.strip()
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise FrameCsvError(f"{where}: column {name} must be {kind}, got {text!r}") from None
    if not integer and not math.isfinite(value):
        raise FrameCsvError(f"{where}: column {name} must be finite, got {text!r}")
    if name != "t_s" and value < 0:
        raise FrameCsvError(f"{where}: column {name} must not be negative, got {text!r}")
    return value


def read_frames_csv(path: str | Path) -> FrameTable:
    """Read a frame CSV file; raises FrameCsvError (or OSError if it cannot be opened)."""
    path = Path(path)
    with path.open("r", encoding="utf-8", newline="") as fh:
        return parse_frames_csv(fh, str(path))


def parse_frames_csv(lines: Iterable[str], name: str = "<frames>") -> FrameTable:
    """Parse frame CSV text given as lines (see read_frames_csv)."""
    header: list[str] | None = None
    comments: list[str] = []
    cols: dict[str, list[float | int]] = {}
    integer: dict[str, bool] = {}
    last_t = -math.inf
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            comments.append(line[1:].strip())
            continue
        where = f"{name}, line {number}"
        cells = line.split(",")
        if header is None:
            header = [cell.strip() for cell in cells]
            if tuple(header[:3]) != REQUIRED_COLUMNS:
                raise FrameCsvError(
                    f"{where}: header must start with t_s,live_s,counts, got {line[:60]!r}"
                )
            if len(set(header)) != len(header):
                raise FrameCsvError(f"{where}: repeated column name in header")
            # Columns this reader does not know (e.g. the simulator's ground truth) are ignored.
            cols = {h: [] for h in header if h in OPTIONAL_COLUMNS + REQUIRED_COLUMNS
                    or _is_window(h)}
            integer = {h: h in ("counts", "seq", "flags") or _is_window(h) for h in cols}
            continue
        if len(cells) != len(header):
            raise FrameCsvError(f"{where}: expected {len(header)} values, got {len(cells)}")
        for h, cell in zip(header, cells, strict=True):
            if h in cols:
                cols[h].append(_number(cell, h, where, integer[h]))
        t = cols["t_s"][-1]
        if t < last_t:
            raise FrameCsvError(f"{where}: t_s goes backwards ({t!r} after {last_t!r})")
        if "real_s" in cols and cols["live_s"][-1] > cols["real_s"][-1] * (1 + 1e-9):
            raise FrameCsvError(f"{where}: live_s is longer than real_s")
        last_t = t
    if header is None:
        raise FrameCsvError(f"{name}: no header row (expected t_s,live_s,counts)")
    arrays = {h: np.array(v, dtype=np.int64 if integer[h] else np.float64) for h, v in cols.items()}
    return FrameTable(
        t_s=arrays["t_s"],
        live_s=arrays["live_s"],
        counts=arrays["counts"],
        real_s=arrays.get("real_s"),
        seq=arrays.get("seq"),
        flags=arrays.get("flags"),
        windows={h: a for h, a in arrays.items() if _is_window(h)},
        comments=tuple(comments),
    )


def _is_window(column: str) -> bool:
    return len(column) > 1 and column[0] == "w" and column[1:].isdigit()


class FrameCsvWriter:
    """Streams CountFrames to a frame CSV file (columns t_s,live_s,counts,real_s,seq,flags,w1..)."""

    def __init__(self, out: TextIO, n_windows: int = 1, comments: Iterable[str] = ()) -> None:
        self._out = out
        self._n_windows = max(int(n_windows), 1)
        for comment in comments:
            for part in str(comment).splitlines() or [""]:
                out.write(f"# {part}\n")
        extra = [f"w{i}" for i in range(1, self._n_windows)]
        out.write(",".join(["t_s", "live_s", "counts", "real_s", "seq", "flags", *extra]) + "\n")

    def write(self, frame: CountFrame) -> None:
        """Append one frame (windows beyond n_windows are dropped, missing ones written as 0)."""
        counts = list(frame.counts[: self._n_windows])
        counts += [0] * (self._n_windows - len(counts))
        row = [repr(float(frame.t_s)), repr(float(frame.live_s)), str(int(counts[0])),
               repr(float(frame.real_s)), str(int(frame.seq)), str(int(frame.flags))]
        row += [str(int(c)) for c in counts[1:]]
        self._out.write(",".join(row) + "\n")


def write_frames_csv(
    path: str | Path, frames: Iterable[CountFrame], n_windows: int = 1, comments: Iterable[str] = ()
) -> int:
    """Write frames to a new file; returns the number of frames written."""
    n = 0
    with Path(path).open("w", encoding="utf-8", newline="") as fh:
        writer = FrameCsvWriter(fh, n_windows, comments)
        for frame in frames:
            writer.write(frame)
            n += 1
    return n
