"""Plain ASCII counters: one line per counting interval, pure.

A line is either `COUNT` or `T,COUNT`: COUNT a non-negative integer (the counts of that interval),
T the device's clock in seconds at the END of the interval. Fields may be separated by a comma, a
semicolon, spaces or a tab; lines end with CR, LF or CR LF. A line starting with '#' or a letter is
a comment or a header and carries no counts.

Numbers are parsed bounded: COUNT is 1 to MAX_DIGITS ASCII digits, T 1 to MAX_DIGITS digits with
an optional fraction of at most 9 digits; no sign, exponent, inf or nan, so no number above 10^12
is ever built (the plausibility gate then judges the count against the counter).
"""

from __future__ import annotations

import re

MAX_DIGITS = 12
_SEPARATORS = re.compile(r"[,;\s]+")
_COUNT = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")
_TIME = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}(?:\.[0-9]{{0,9}})?")


def is_comment(line: str) -> bool:
    """True for a comment ('#...') or a header line ('t_s,counts')."""
    text = line.lstrip()
    return not text or text[0] == "#" or text[0].isalpha()


def parse_line(line: str) -> tuple[float | None, int]:
    """`"12"` -> (None, 12); `"3.250,12"` -> (3.25, 12); ValueError for anything else."""
    fields = [f for f in _SEPARATORS.split(line.strip()) if f]
    if len(fields) not in (1, 2):
        raise ValueError(f"expected COUNT or T,COUNT, got {line[:40]!r}")
    if _COUNT.fullmatch(fields[-1]) is None:
        raise ValueError(f"count {fields[-1][:40]!r} is not an integer of 1 to {MAX_DIGITS} digits")
    count = int(fields[-1])
    if len(fields) == 1:
        return None, count
    if _TIME.fullmatch(fields[0]) is None:
        raise ValueError(f"timestamp {fields[0][:40]!r} is not a number of seconds "
                         f"(up to {MAX_DIGITS} digits, no sign or exponent)")
    return float(fields[0]), count


def encode_line(count: int, t_s: float | None = None) -> bytes:
    """One line as such a counter prints it (for emulators): `12` or `3.250,12`, CR LF."""
    text = str(count) if t_s is None else f"{t_s:.3f},{count}"
    return (text + "\r\n").encode("ascii")
