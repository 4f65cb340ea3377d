"""What every emulator offers a link server: bytes in from the host, bytes out on a schedule."""

from __future__ import annotations

from abc import ABC, abstractmethod

from simulator.engine import SimFrame, Simulation


class Emulator(ABC):
    """A device: `receive` host bytes, `advance` to a device time and collect what it sends."""

    protocol: str = ""

    def __init__(self, simulation: Simulation) -> None:
        self.sim = simulation
        self.frames_sent = 0
        self.truth: list[SimFrame] = []  # ground truth of every frame sent, in order
        self.keep_truth = True

    @property
    def period_s(self) -> float:
        """Interval between the device's counting frames."""
        return self.sim.scenario.frame_period_s

    @abstractmethod
    def receive(self, data: bytes) -> bytes:
        """Bytes from the host; returns the immediate reply (may be empty)."""

    @abstractmethod
    def advance(self, device_t_s: float) -> bytes:
        """Run the device up to `device_t_s` (seconds since power-on); returns what it sends."""

    def power_on(self) -> bytes:
        """Bytes the device sends when it (re)appears on the link."""
        return b""

    def record(self, frame: SimFrame) -> None:
        """Keep the ground truth of a frame that was sent."""
        self.frames_sent += 1
        if self.keep_truth:
            self.truth.append(frame)
