"""MightyOhm Geiger counter kit emulator: the firmware's 1 s report line, byte for byte.

The averaging (60-sample 8-bit buffer, FAST above 1000 CPM, INST above 255 counts in a second)
and the uSv/hr arithmetic are the firmware's (probe_nav.drivers.mightyohm.codec.CpmAverager).
The kit prints its banner at power-on and ignores anything sent to it.
"""

from __future__ import annotations

from probe_nav.drivers.mightyohm.codec import CpmAverager, encode_line
from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.engine import Simulation

BANNER = b"mightyohm.com Geiger Counter 1.00\r\nhttp://mightyohm.com/geiger\r\n"


class MightyOhmEmulator(Emulator):
    """The kit on its serial header (9600 8N1 on the real thing; a pty ignores the rate)."""

    protocol = "mightyohm"

    def __init__(self, simulation: Simulation) -> None:
        super().__init__(simulation)
        self.averager = CpmAverager()
        self.received = 0  # bytes the host sent (the firmware ignores them)

    @property
    def period_s(self) -> float:
        """One report a second."""
        return 1.0

    def power_on(self) -> bytes:
        return BANNER

    def receive(self, data: bytes) -> bytes:
        self.received += len(data)
        return b""

    def advance(self, device_t_s: float) -> bytes:
        out = bytearray()
        while self.sim.t_s + 1.0 <= device_t_s + 1e-9:
            frame = self.sim.step(1.0)
            report = self.averager.tick(frame.counts[0])
            out += encode_line(report.cps, report.cpm, report.mode)
            self.record(frame)
        return bytes(out)
