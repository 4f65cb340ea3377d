"""Runs an emulator on a link at the protocol's real pacing, in real time or faster, and plays
the link faults of its fault plan: unplug, stall, garbage, bitflip (docs/faults.md)."""

from __future__ import annotations

import select
import threading
import time

import numpy as np

from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.faults import Fault, FaultPlan, make_fault
from probe_nav.simulator.links import Link


class DeviceServer:
    """Pumps bytes between a link and an emulator; device time = host time x `speed`."""

    def __init__(self, emulator: Emulator, link: Link, speed: float = 1.0,
                 faults: FaultPlan | None = None, seed: int = 0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.emulator = emulator
        self.link = link
        self.speed = speed
        self._url = link.url
        if faults is not None:
            emulator.faults = faults
        self._noise = np.random.default_rng([seed, 0x5EED])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_host_s = time.monotonic()
        # Device time the loop has played up to: it stands still while the server thread is not
        # scheduled, so a host in a test can judge link state by it instead of the wall clock.
        self.played_t_s = 0.0
        self._fired: set[Fault] = set()
        self._unplugged = False
        self._unplug: Fault | None = None
        self._stall: Fault | None = None
        self.garbage_bytes = 0
        self.dropped_bytes = 0  # written while the host's buffer was full: lost, as on a UART
        self.flipped_bits = 0

    @property
    def url(self) -> str:
        """Where the host connects (the same across unplug and replug with a link path)."""
        return self._url

    @property
    def faults(self) -> FaultPlan:
        """The fault plan being played; add to it from any thread."""
        return self.emulator.faults

    @property
    def device_t_s(self) -> float:
        """Device time now: seconds since the server started, times the speed."""
        return (time.monotonic() - self._start_host_s) * self.speed

    def inject(self, kind: str, duration_s: float | None = None, count: int | None = None,
               param: float | None = None, delay_s: float = 0.0) -> Fault:
        """Schedule a fault `delay_s` device seconds from now (FaultSpecError if malformed)."""
        fault = make_fault(kind, self.device_t_s + delay_s, duration_s, count, param)
        return self.faults.add(fault)

    # ------------------------------------------------------------ the loop

    def run(self) -> None:
        """Serve until `stop()` (or KeyboardInterrupt in the calling thread)."""
        self._start_host_s = time.monotonic()
        while not self._stop.is_set():
            now = self.device_t_s
            self._play_unplug(now)
            if self._play_stall(now):
                self.played_t_s = now
                self._wait(0.01)
                continue
            if not self._unplugged and self.link.poll_connected():
                self._send(self.emulator.power_on(), now)
            data = b"" if self._unplugged else self.link.read()
            if data:
                self._send(self.emulator.receive(data), now)
            self._play_garbage(now)
            out = self.emulator.advance(now)
            if out:
                self._send(out, now)
            self.played_t_s = now
            next_due = self.emulator.sim.t_s + self.emulator.period_s
            wait = min(max(0.0, (next_due - self.device_t_s) / self.speed),
                       self.emulator.period_s / self.speed, 0.05)
            self._wait(wait)

    def _wait(self, seconds: float) -> None:
        if seconds <= 0:
            return
        if self._unplugged:
            self._stop.wait(seconds)
        else:
            select.select([self.link.fileno()], [], [], seconds)

    def _send(self, data: bytes, now: float) -> None:
        if not data or self._unplugged:
            return
        fault = self.faults.active("bitflip", now)
        if fault is not None:
            data = self._flip_bits(data, float(fault.param or 0.0))
        before = self.link.dropped_bytes
        self.link.write(data)
        self.dropped_bytes += self.link.dropped_bytes - before

    def _flip_bits(self, data: bytes, ber: float) -> bytes:
        """Flip each bit with probability `ber` (positions drawn without bias)."""
        n_bits = 8 * len(data)
        n_flips = int(self._noise.binomial(n_bits, ber))
        if n_flips == 0:
            return data
        buf = np.frombuffer(data, dtype=np.uint8).copy()
        positions = self._noise.choice(n_bits, size=n_flips, replace=False)
        np.bitwise_xor.at(buf, positions // 8, (1 << (positions % 8)).astype(np.uint8))
        self.flipped_bits += n_flips
        return buf.tobytes()

    def _play_unplug(self, now: float) -> None:
        """Off the link from the fault's start to its end, exactly in device time however late
        this loop wakes: what was counted before the start still goes out, and what was
        counted while unplugged (up to the end) is lost."""
        fault = self.faults.active("unplug", now)
        if fault is not None and not self._unplugged:
            self._send(self.emulator.advance(fault.start_s), now)
            self.link.close()
            self._unplugged, self._unplug = True, fault
        elif fault is None and self._unplugged:
            if self._unplug is not None:
                self.emulator.advance(min(self._unplug.end_s, now))
            self.link = self.link.reopen()
            self._unplugged, self._unplug = False, None

    def _play_stall(self, now: float) -> bool:
        """True while the device is frozen; it freezes at the fault's start (what it counted
        before goes out, the interval in progress is lost) and restarts counting at its end."""
        fault = self.faults.active("stall", now)
        if fault is not None:
            if self._stall is None:
                self._stall = fault
                self._send(self.emulator.advance(fault.start_s), now)
            if not self._unplugged:
                self.link.read()  # a frozen device does not listen: host bytes are lost
            return True
        if self._stall is not None:
            self.emulator.skip_to(self._stall.end_s)
            self._stall = None
        return False

    def _play_garbage(self, now: float) -> None:
        for fault in self.faults.of_kind("garbage"):
            if fault.start_s <= now and fault not in self._fired:
                self._fired.add(fault)
                noise = self._noise.integers(0, 256, fault.count, dtype=np.uint8).tobytes()
                self.garbage_bytes += len(noise)
                self._send(noise, now)

    # ------------------------------------------------------------ thread control

    def start(self) -> DeviceServer:
        """Serve on a background thread. The simulation's physics (the probe head's response
        tables, the scatter model: ~1 s) is built first, before the device's clock starts: built
        at the first frame it stalled the clock, and a fast server then sent the backlog in one
        burst, as no real device does."""
        self.emulator.sim.model  # noqa: B018 - builds and caches it
        self._thread = threading.Thread(target=self.run, name="device server", daemon=True)
        self._thread.start()
        return self

    def stop(self, close_link: bool = True) -> None:
        """Stop serving; by default the link closes too (the host sees the device vanish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if close_link and not self._unplugged:
            self.link.close()
