"""Plain ASCII counters: one line per counting interval, pure.

A line is either `COUNT` or `T,COUNT`: COUNT a non-negative integer (the counts of that interval),
T the device's clock in seconds at the END of the interval. Fields may be separated by a comma, a
semicolon, spaces or a tab; lines end with CR, LF or CR LF. A line starting with '#' or a letter is
a comment or a header and carries no counts.
"""

from __future__ import annotations

import math
import re

_SEPARATORS = re.compile(r"[,;\s]+")


def is_comment(line: str) -> bool:
    """True for a comment ('#...') or a header line ('t_s,counts')."""
    text = line.lstrip()
    return not text or text[0] == "#" or text[0].isalpha()


def parse_line(line: str) -> tuple[float | None, int]:
    """`"12"` -> (None, 12); `"3.250,12"` -> (3.25, 12); ValueError for anything else."""
    fields = [f for f in _SEPARATORS.split(line.strip()) if f]
    if len(fields) not in (1, 2):
        raise ValueError(f"expected COUNT or T,COUNT, got {line[:40]!r}")
    if not fields[-1].isdigit():
        raise ValueError(f"count {fields[-1]!r} is not a non-negative integer")
    count = int(fields[-1])
    if len(fields) == 1:
        return None, count
    t_s = float(fields[0])
    if not math.isfinite(t_s):
        raise ValueError(f"timestamp {fields[0]!r} is not a finite number")
    return t_s, count


def encode_line(count: int, t_s: float | None = None) -> bytes:
    """One line as such a counter prints it (for emulators): `12` or `3.250,12`, CR LF."""
    text = str(count) if t_s is None else f"{t_s:.3f},{count}"
    return (text + "\r\n").encode("ascii")
