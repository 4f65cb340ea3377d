"""Base class of devices that speak text lines (MightyOhm, Open Gamma Detector, ASCII counters).

It owns the LineSplitter and its accounting (overlong and short lines are bad frames; the first
line after a connection may be a fragment, because we may have connected in the middle of it) and
hands complete lines to `on_line`.
"""

from __future__ import annotations

import re
from typing import ClassVar

from probe_nav.drivers.device import Device
from probe_nav.drivers.lines import LineSplitter
from probe_nav.drivers.plausibility import TEXT_MAX_RATE_CPS

LOGGED_LINE_CHARS = 80  # a rejected line is logged up to this length
_AFTER_LINE_END = re.compile(rb"(?<=[\r\n])")


class LineDevice(Device):
    """A Device whose protocol is lines of text."""

    max_line_bytes: ClassVar[int] = 1024
    partial_line_s: ClassVar[float] = 0.5  # a line left unfinished this long is a short read
    fallback_max_rate_cps: ClassVar[float | None] = TEXT_MAX_RATE_CPS

    def __init__(self, url: str, *, baudrate: int | None = None,
                 stale_after_s: float | None = None) -> None:
        super().__init__(url, baudrate=baudrate, stale_after_s=stale_after_s)
        self._lines = LineSplitter(max_line_bytes=self.max_line_bytes,
                                   stale_after_s=self.partial_line_s)
        self._reported = (0, 0, 0)
        self.lines_this_connection = 0

    def on_line(self, line: str, now_s: float) -> None:
        """One complete line (without its CR LF), received at host time `now_s`."""
        raise NotImplementedError

    def on_line_connect(self) -> None:
        """The port has just opened (after the splitter was reset)."""

    def on_lines_lost(self) -> None:
        """The splitter threw away an overlong or unfinished line (a protocol whose frames
        depend on the previous line resynchronises here)."""

    def reject_line(self, line: str = "", why: str = "") -> None:
        """Account for a line that does not parse (a fragment if it is the first one); the line
        and `why` go into the (rate-limited) log."""
        detail = f"{why + ': ' if why else ''}{line[:LOGGED_LINE_CHARS]!r}"
        if self.lines_this_connection == 1:
            self.count_bad(partial_first_line=1, details={"partial_first_line": detail})
        else:
            self.count_bad(bad_frames=1, bad_lines=1, details={"bad_lines": detail})

    # ------------------------------------------------------------ Device hooks

    def on_connect(self) -> None:
        self._lines.reset()
        self.lines_this_connection = 0
        self.on_line_connect()

    def on_tick(self, now_s: float) -> None:
        self._lines.expire(now_s)
        self._report_splitter()

    def on_data(self, data: bytes) -> None:
        now = self.clock()
        self._lines.expire(now)
        self._report_splitter()
        # Fed a line end at a time, so that a line lost in between is reported (on_lines_lost)
        # before the line that follows it is handled.
        for piece in _AFTER_LINE_END.split(data):
            for line in self._lines.feed(piece, now):
                self.lines_this_connection += 1
                self.on_line(line, now)
            self._report_splitter()

    def _report_splitter(self) -> None:
        stats = self._lines.stats
        now = (stats.overlong, stats.short, stats.skipped_bytes)
        overlong, short, skipped = (a - b for a, b in zip(now, self._reported, strict=True))
        if overlong or short or skipped:
            self.count_bad(bad_frames=overlong + short, skipped_bytes=skipped,
                           overlong_lines=overlong, short_lines=short, details={
                               "overlong_lines": f"no line end within {self.max_line_bytes} bytes",
                               "short_lines": f"line left unfinished for {self.partial_line_s} s"})
        self._reported = now
        if overlong or short:
            self.on_lines_lost()
