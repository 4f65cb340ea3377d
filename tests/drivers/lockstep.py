"""An emulator played by hand on a real pty, in lock step with its driver's fake clock.

The test sets the time: `advance_to(t)` sets the driver's clock to t, hands the emulator what the
host wrote, runs the emulator up to device time t and writes what it sends, then waits until the
driver has taken every frame in (its arrival is stamped with exactly t). Nothing depends on how
fast the machine is: the wall clock only bounds a hang (HANG_S).
"""

from __future__ import annotations

import fcntl
import termios
import time
from array import array
from dataclasses import replace
from typing import Any

from probe_nav.drivers.device import Device, DeviceEvent, FrameEvent
from probe_nav.drivers.registry import driver_class
from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.registry import emulator_class
from probe_nav.simulator.scenario import load

HANG_S = 30.0  # wall-clock bound on one wait: only a hang gets near it
# Frames a driver does not publish although the device sent them are counted under these names
# (besides bad_frames).
UNPUBLISHED = ("baseline_spectra", "reference_lines", "partial_first_line", "unverified_frames")


class FakeClock:
    """A host clock that moves only when the test says so."""

    def __init__(self, now_s: float = 0.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def pending_to_host(link: PtyLink) -> int:
    """Bytes written by the device that the host has not read yet."""
    buf = array("i", [0])
    fcntl.ioctl(link._slave, termios.FIONREAD, buf)
    return buf[0]


def emulator_for(protocol: str, seed: int = 7, **kwargs: Any) -> Emulator:
    """The emulator of `protocol` playing sln-static."""
    return emulator_class(protocol)(Simulation(load("sln-static"), seed), **kwargs)


class Lockstep:
    """One driver and one emulator on a pty; time moves only in `advance_to`."""

    def __init__(self, protocol: str, link: PtyLink | None = None,
                 emulator: Emulator | None = None, collect_events: bool = True,
                 **driver_kwargs: Any) -> None:
        kwargs = {"period_s": 1.0} if protocol == "ascii" else {}
        self.emulator = emulator or emulator_for(protocol, **kwargs)
        self.link = link or PtyLink()
        self.clock = FakeClock()
        self.device: Device = driver_class(protocol)(self.link.url, **driver_kwargs)
        self.device.clock = self.clock
        # The reader's idle turn (on_tick: retries, time-outs) comes every read time-out; a short
        # one keeps lock-step ticks cheap. Each tick waits for two turns of it (count_idle).
        fast = replace(self.device.settings, read_timeout_s=0.002)
        self.device.settings = self.device._transport.settings = fast
        self.idle_turns = 0
        idle = self.device.idle

        def count_idle() -> None:
            self.idle_turns += 1
            idle()

        self.device.idle = count_idle  # type: ignore[method-assign]
        self.events: list[DeviceEvent] = []
        self.collect_events = collect_events  # False: the test polls the device itself
        self.sent_frames = 0  # frames the emulator sent since the driver opened the port

    def __enter__(self) -> Lockstep:
        self.device.open()
        self.link.write(self.emulator.power_on())
        return self

    def __exit__(self, *exc: object) -> None:
        self.device.close()
        self.link.close()

    def accounted(self) -> int:
        """Frames the driver has published or counted as not published."""
        stats = self.device.stats
        return stats.frames + stats.bad_frames + sum(stats.extra.get(k, 0) for k in UNPUBLISHED)

    def pump(self) -> None:
        """Hand the host's bytes to the emulator and its replies to the host."""
        reply = self.emulator.receive(self.link.read())
        if reply:
            self.link.write(reply)

    def advance_to(self, t_s: float, step_s: float = 0.05) -> None:
        """Move device and host time to `t_s` in steps; each frame sent is taken in by the
        driver before time moves on."""
        while self.clock.now_s < t_s - 1e-9:
            self.clock.now_s = min(t_s, self.clock.now_s + step_s)
            self.pump()
            before = self.emulator.frames_sent
            out = self.emulator.advance(self.clock.now_s)
            self.sent_frames += self.emulator.frames_sent - before
            if out:
                self.link.write(out)
            self.settle()

    def settle(self) -> None:
        """Wait until the host has read what was written and accounted for every frame sent."""
        deadline = time.monotonic() + HANG_S
        turns = self.idle_turns + 2  # one whole idle turn after the clock moved
        while (pending_to_host(self.link) or self.accounted() < self.sent_frames
               or self.idle_turns < turns):
            assert time.monotonic() < deadline, (self.accounted(), self.sent_frames, self.events)
            if self.collect_events:
                self.events += self.device.poll(0.002)
            else:
                time.sleep(0.002)
            self.pump()  # a handshake goes on while frames are awaited
        if self.collect_events:
            self.events += self.device.poll(0.0)

    def frames(self) -> list[FrameEvent]:
        """Frame events seen so far."""
        self.events += self.device.poll(0.0)
        return [e for e in self.events if isinstance(e, FrameEvent)]

    def wait_for(self, done: Any, what: str = "") -> list[DeviceEvent]:
        """Poll events (pumping the emulator) until `done(events)`; fail after HANG_S."""
        deadline = time.monotonic() + HANG_S
        while not done(self.events):
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {self.events}"
            self.events += self.device.poll(0.01)
            self.pump()
        return self.events
