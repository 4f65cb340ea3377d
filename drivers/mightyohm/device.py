"""MightyOhm Geiger counter kit as a probe-nav device: one report line -> one 1 s CountFrame.

The kit only talks (its firmware ignores the serial input), so the driver only listens. `t_s` is
the number of report lines received since this driver object started, times 1 s: the kit's timer
ticks once a second from its own oscillator, but it sends no timestamp, so lost lines cannot be
told from a slow clock. `counts` is the line's CPS field; `live_s = real_s = 1 s`.
"""

from __future__ import annotations

from typing import ClassVar

from probe_nav.drivers.counters import SBM20_OR_J305
from probe_nav.drivers.frames import CounterSpec, CountFrame, DeviceInfo, FaultFlag
from probe_nav.drivers.line_device import LineDevice
from probe_nav.drivers.lines import is_text_line
from probe_nav.drivers.mightyohm.codec import CPS_MAX, banner_version, parse_line
from probe_nav.drivers.probing import Identification


class MightyOhmDevice(LineDevice):
    """A MightyOhm Geiger counter kit on its 9600 baud TTL serial header."""

    protocol: ClassVar[str] = "mightyohm"
    default_baudrate: ClassVar[int] = 9600
    default_frame_period_s: ClassVar[float] = 1.0
    identify_order: ClassVar[int] = 40
    max_line_bytes: ClassVar[int] = 96
    default_counter: ClassVar[CounterSpec] = SBM20_OR_J305  # drivers/counters.py
    max_frame_count: ClassVar[int] = CPS_MAX  # the firmware's 16-bit per-second counter

    def __init__(self, url: str, *, baudrate: int | None = None,
                 stale_after_s: float | None = None, report_period_s: float = 1.0) -> None:
        super().__init__(url, baudrate=baudrate, stale_after_s=stale_after_s)
        self.report_period_s = report_period_s
        self._reports = 0
        self.firmware = ""

    def on_line_connect(self) -> None:
        self.emit_info(self._info())

    def on_line(self, line: str, now_s: float) -> None:
        try:
            report = parse_line(line)
        except ValueError:
            version = banner_version(line)
            if version is not None:
                self.firmware = version
                self.emit_info(self._info())
            elif line.startswith("http") and is_text_line(line):
                pass  # the banner's second line, the project URL
            else:
                self.reject_line(line)
            return
        self._reports += 1
        if not self.emit_frame(CountFrame(
            seq=self._reports - 1,
            t_s=self._reports * self.report_period_s,
            real_s=self.report_period_s,
            live_s=self.report_period_s,
            counts=(report.cps,),
            flags=FaultFlag.OVER_RANGE if report.cps >= CPS_MAX else FaultFlag.NONE,
        )):
            self._reports -= 1  # an impossible report is garbage, not a device second

    def _info(self) -> DeviceInfo:
        return DeviceInfo(model="MightyOhm Geiger Counter", firmware=self.firmware,
                          detector="GM tube", protocol="mightyohm",
                          frame_period_s=self.report_period_s, counter=self.default_counter)

    @classmethod
    def recognise(cls, captured: bytes) -> Identification | None:
        """A report line heard (the kit cannot be asked anything)."""
        lines = captured.replace(b"\r", b"\n").split(b"\n")[:-1]
        if any(_is_report(line) for line in lines):
            return Identification("mightyohm", "MightyOhm Geiger counter (report lines)")
        return None


def _is_report(raw: bytes) -> bool:
    try:
        parse_line(raw.decode("ascii"))
    except (ValueError, UnicodeDecodeError):
        return False
    return True
