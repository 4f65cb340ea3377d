"""What every emulator offers a link server: bytes in from the host, bytes out on a schedule."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from probe_nav.simulator.engine import SimFrame, Simulation
from probe_nav.simulator.faults import FaultPlan

TruthSink = Callable[[SimFrame, dict[str, Any]], None]


class Emulator(ABC):
    """A device: `receive` host bytes, `advance` to a device time and collect what it sends."""

    protocol: str = ""

    def __init__(self, simulation: Simulation) -> None:
        self.sim = simulation
        self.frames_sent = 0
        self.truth: list[SimFrame] = []  # ground truth of every frame sent, in order
        self.keep_truth = True
        self.truth_sink: TruthSink | None = None  # e.g. a TruthWriter: every frame counted

    @property
    def period_s(self) -> float:
        """Interval between the device's counting frames."""
        return self.sim.scenario.frame_period_s

    @property
    def faults(self) -> FaultPlan:
        """The fault plan the device plays (shared with its Simulation)."""
        return self.sim.faults

    @faults.setter
    def faults(self, plan: FaultPlan) -> None:
        self.sim.faults = plan

    @abstractmethod
    def receive(self, data: bytes) -> bytes:
        """Bytes from the host; returns the immediate reply (may be empty)."""

    @abstractmethod
    def advance(self, device_t_s: float) -> bytes:
        """Run the device up to `device_t_s` (seconds since power-on); returns what it sends."""

    def power_on(self) -> bytes:
        """Bytes the device sends when it (re)appears on the link."""
        return b""

    def skip_to(self, device_t_s: float) -> None:
        """The device was frozen until `device_t_s`: no counting, nothing to send for that time."""
        self.sim.skip(device_t_s - self.sim.t_s)

    def record(self, frame: SimFrame, sent: bool = True, **extra: Any) -> None:
        """Keep the ground truth of a counted frame (`sent` False: counted but never sent)."""
        if sent:
            self.frames_sent += 1
            if self.keep_truth:
                self.truth.append(frame)
        if self.truth_sink is not None:
            self.truth_sink(frame, {"sent": sent, **extra})
