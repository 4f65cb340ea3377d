"""A plain ASCII counter as a probe-nav device: one line -> one CountFrame.

With timestamps (`T,COUNT`) the device's clock is used: `t_s = T` and `real_s` is the time since
the previous line. The first timestamped line after a (re)connection only sets the reference (its
interval length is unknown) and a timestamp that goes backwards starts a new reference (the frame
after it is flagged CLOCK_RESET, so the plausibility gate takes the new time base). Without
timestamps the device must print every `frame_period_s` (default 1 s) and `t_s` counts lines x
`frame_period_s` from the last frame's `t_s` (so that a garbled line of the other format, which a
bit error can make of a good one, does not start a second clock). `live_s = real_s` (such
counters report no dead time).
"""

from __future__ import annotations

from typing import ClassVar

from probe_nav.drivers.ascii_counter.codec import is_comment, parse_line
from probe_nav.drivers.counters import ASCII
from probe_nav.drivers.frames import CounterSpec, CountFrame, DeviceInfo, FaultFlag
from probe_nav.drivers.line_device import LineDevice
from probe_nav.drivers.lines import is_text_line
from probe_nav.drivers.probing import Identification


class AsciiCounterDevice(LineDevice):
    """Any counter that prints one count (optionally `time,count`) per line."""

    protocol: ClassVar[str] = "ascii"
    default_baudrate: ClassVar[int] = 9600
    default_frame_period_s: ClassVar[float] = 1.0
    identify_order: ClassVar[int] = 90  # anything that prints numbers looks like one: try last
    max_line_bytes: ClassVar[int] = 256
    default_counter: ClassVar[CounterSpec] = ASCII  # unknown unless given (drivers/counters.py)

    def __init__(self, url: str, *, baudrate: int | None = None,
                 stale_after_s: float | None = None, frame_period_s: float = 1.0) -> None:
        super().__init__(url, baudrate=baudrate, stale_after_s=stale_after_s)
        if frame_period_s <= 0:
            raise ValueError("frame_period_s must be > 0")
        self.frame_period_s = frame_period_s
        self._frames = 0
        self._t_s = 0.0  # t_s of the last frame published
        self._last_t_s: float | None = None
        self._clock_reset = False  # the device clock went back: flag the next frame

    def on_line_connect(self) -> None:
        self._last_t_s = None
        self.emit_info(DeviceInfo(model="ASCII counter", protocol="ascii",
                                  frame_period_s=self.frame_period_s,
                                  counter=self.default_counter))

    def on_line(self, line: str, now_s: float) -> None:
        if is_text_line(line) and is_comment(line):
            return
        try:
            t_s, count = parse_line(line)
        except ValueError as exc:
            self.reject_line(line, str(exc))
            return
        if t_s is None:
            self._emit(self._t_s + self.frame_period_s, self.frame_period_s, count)
            return
        last, self._last_t_s = self._last_t_s, t_s
        if last is None:
            self.count_bad(reference_lines=1)
        elif t_s <= last:
            self.count_bad(clock_resets=1)
            self._clock_reset = True
        else:
            self._emit(t_s, t_s - last, count)

    def _emit(self, t_s: float, real_s: float, count: int) -> None:
        self._frames += 1
        flags = FaultFlag.CLOCK_RESET if self._clock_reset else FaultFlag.NONE
        self._clock_reset = False
        if self.emit_frame(CountFrame(seq=self._frames - 1, t_s=t_s, real_s=real_s,
                                      live_s=real_s, counts=(count,), flags=flags)):
            self._t_s = t_s  # a rejected frame was garbage, not a counting interval

    @classmethod
    def recognise(cls, captured: bytes) -> Identification | None:
        """A complete line (one after a line end) that parses as a count."""
        for raw in captured.replace(b"\r", b"\n").split(b"\n")[1:-1]:  # [0] may be a fragment
            try:
                parse_line(raw.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                continue
            return Identification("ascii", "prints one count per line")
        return None
