"""MightyOhm Geiger counter serial format (firmware 1.00, J. Keyzer, mightyohm.com/geiger): pure.

Once a second, at 9600 8N1 (the UART sends '\\n' as CR LF):

    CPS, 12, CPM, 734, uSv/hr, 4.18, SLOW

- CPS: counts in the last 1 s tick of the AVR's timer (16-bit, capped at 65535).
- CPM: the sum of the last 60 s (SLOW); the last 5 s x 12 when that exceeds 1000 (FAST); CPS x 60
  when a second had more than 255 counts, which the 8-bit sample buffer cannot hold (INST).
- uSv/hr: CPM x 57 / 10000 (SBM-20 tube), truncated to 2 decimals.
At power-on it prints `mightyohm.com Geiger Counter 1.00` and `http://mightyohm.com/geiger`.
Fields are parsed bounded (ASCII digits, at most as many as the firmware can print).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CPS_MAX = 65535
SCALE_FACTOR = 57  # CPM -> uSv/hr x 10000
THRESHOLD_CPM = 1000
LONG_PERIOD = 60
SHORT_PERIOD = 5
MODES = ("SLOW", "FAST", "INST")

# CPS <= 65535 (5 digits); CPM <= 65535 x 60 (7 digits); uSv/hr = CPM x 57 / 10000 (5 digits).
_LINE = re.compile(r"CPS, ([0-9]{1,5}), CPM, ([0-9]{1,7}), uSv/hr, ([0-9]{1,5}\.[0-9][0-9]), "
                   r"(SLOW|FAST|INST)")
_BANNER = re.compile(r"(?:mightyohm\.com|LVA) Geiger Counter(?: (\S+))?")


@dataclass(frozen=True, slots=True)
class Report:
    """One report line."""

    cps: int
    cpm: int
    usv_per_h: float
    mode: str


def parse_line(line: str) -> Report:
    """Parse one report line (without its CR LF); ValueError if it is not one."""
    match = _LINE.fullmatch(line.strip())
    if match is None:
        raise ValueError(f"not a MightyOhm report line: {line[:60]!r}")
    cps, cpm = int(match.group(1)), int(match.group(2))
    if cps > CPS_MAX:
        raise ValueError(f"CPS {cps} beyond the firmware's 16-bit counter")
    return Report(cps, cpm, float(match.group(3)), match.group(4))


def banner_version(line: str) -> str | None:
    """The firmware version from the power-on banner ('' if it has none); None if not a banner."""
    match = _BANNER.fullmatch(line.strip())
    if match is None:
        return None
    return match.group(1) or ""


def format_usv(cpm: int) -> str:
    """uSv/hr as the firmware prints it: integer arithmetic, two truncated decimals."""
    scaled = cpm * SCALE_FACTOR
    return f"{scaled // 10000}.{(scaled // 100) % 100:02d}"


def encode_line(cps: int, cpm: int, mode: str) -> bytes:
    """The bytes the firmware sends for one report (for emulators)."""
    return f"CPS, {cps}, CPM, {cpm}, uSv/hr, {format_usv(cpm)}, {mode}\r\n".encode("ascii")


class CpmAverager:
    """The firmware's running averages: a 60-sample buffer of 8-bit per-second counts."""

    def __init__(self) -> None:
        self.buffer = [0] * LONG_PERIOD
        self.idx = 0
        self.slowcpm = 0

    def tick(self, count: int) -> Report:
        """One 1 s timer tick with `count` pulses -> the report line's values."""
        cps = min(count, CPS_MAX)
        overflow = cps > 255
        sample = min(cps, 255)
        self.slowcpm += sample - self.buffer[self.idx]
        self.buffer[self.idx] = sample
        fastcpm = sum(self.buffer[(self.idx - i) % LONG_PERIOD] for i in range(SHORT_PERIOD))
        fastcpm *= LONG_PERIOD // SHORT_PERIOD
        self.idx = (self.idx + 1) % LONG_PERIOD
        if overflow:
            cpm, mode = cps * 60, "INST"
        elif fastcpm > THRESHOLD_CPM:
            cpm, mode = fastcpm, "FAST"
        else:
            cpm, mode = self.slowcpm, "SLOW"
        return Report(cps, cpm, float(format_usv(cpm)), mode)
