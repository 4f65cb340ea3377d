"""Line framing for text protocols (MightyOhm, Open Gamma Detector, plain ASCII counters).

Pure: bytes and the host clock in, complete lines out. CR, LF and CR LF all end a line. A line that
grows beyond `max_line_bytes` is discarded up to the next line end; a partial line left hanging for
more than `stale_after_s` (the device stopped mid-line: switched off, cable pulled) is discarded
too, so it cannot glue itself to the next good line.
"""

from __future__ import annotations

from dataclasses import dataclass

from probe_nav.drivers.framing import DelimitedBuffer


@dataclass
class LineStats:
    """What the splitter threw away."""

    lines: int = 0
    overlong: int = 0
    short: int = 0  # partial lines dropped after a silence (short reads)
    skipped_bytes: int = 0


class LineSplitter:
    """Splits a byte stream into text lines (decoded as UTF-8, undecodable bytes replaced)."""

    def __init__(self, max_line_bytes: int = 1024, stale_after_s: float = 0.5) -> None:
        self.max_line_bytes = max_line_bytes
        self.stale_after_s = stale_after_s
        self.stats = LineStats()
        self._lines = DelimitedBuffer(max_line_bytes, _line_end, self._skipped)
        self._last_rx_s = 0.0

    def _skipped(self, n: int) -> None:
        self.stats.skipped_bytes += n

    def reset(self) -> None:
        """Forget any partial line (after a reconnect)."""
        self._lines.reset()

    @property
    def pending_bytes(self) -> int:
        """Bytes of the line in progress."""
        return self._lines.pending_bytes

    def feed(self, data: bytes, now_s: float) -> list[str]:
        """Consume `data` received at host time `now_s`; return the lines it completed."""
        self.expire(now_s)
        if data:
            self._last_rx_s = now_s
        out: list[str] = []
        for line in self._lines.split(data):
            if line is None:
                self.stats.overlong += 1
            elif line:
                self.stats.lines += 1
                out.append(line.decode("utf-8", errors="replace"))
        return out

    def expire(self, now_s: float) -> bool:
        """Drop a partial line older than `stale_after_s`; True if one was dropped."""
        if self._lines.in_progress and now_s - self._last_rx_s > self.stale_after_s:
            self.stats.skipped_bytes += self._lines.pending_bytes
            self.stats.short += 1
            self.reset()
            return True
        return False


def _line_end(data: bytes, start: int) -> int:
    """Index of the first CR or LF at or after `start`, -1 if none."""
    cr = data.find(b"\r", start)
    lf = data.find(b"\n", start)
    if cr < 0:
        return lf
    if lf < 0:
        return cr
    return min(cr, lf)


def is_text_line(line: str) -> bool:
    """True for a printable message line (no control characters, no replacement characters)."""
    return all(ch.isprintable() or ch == "\t" for ch in line) and "\ufffd" not in line
