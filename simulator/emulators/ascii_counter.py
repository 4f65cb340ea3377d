"""Plain ASCII counter emulator: one `T,COUNT` line per frame (or `COUNT` with timestamps off).

T is the device clock at the end of the interval in seconds with 3 decimals; the frame period is
the scenario's. It ignores input.
"""

from __future__ import annotations

from probe_nav.drivers.ascii_counter.codec import encode_line
from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.engine import Simulation


class AsciiCounterEmulator(Emulator):
    """A counter that prints a line per counting interval."""

    protocol = "ascii"

    def __init__(self, simulation: Simulation, timestamps: bool = True,
                 period_s: float | None = None) -> None:
        super().__init__(simulation)
        self.timestamps = timestamps
        self._period_s = period_s

    @property
    def period_s(self) -> float:
        """The scenario's frame period unless given."""
        return self._period_s or self.sim.scenario.frame_period_s

    def receive(self, data: bytes) -> bytes:
        return b""

    def advance(self, device_t_s: float) -> bytes:
        out = bytearray()
        period = self.period_s
        while self.sim.t_s + period <= device_t_s + 1e-9:
            frame = self.sim.step(period)
            out += encode_line(frame.counts[0], frame.t_end_s if self.timestamps else None)
            self.record(frame)
        return bytes(out)
