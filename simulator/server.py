"""Runs an emulator on a link at the protocol's real pacing, in real time or faster."""

from __future__ import annotations

import select
import threading
import time

from simulator.emulators.base import Emulator
from simulator.links import Link


class DeviceServer:
    """Pumps bytes between a link and an emulator; device time = host time x `speed`."""

    def __init__(self, emulator: Emulator, link: Link, speed: float = 1.0) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self.emulator = emulator
        self.link = link
        self.speed = speed
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Where the host connects."""
        return self.link.url

    def run(self) -> None:
        """Serve until `stop()` (or KeyboardInterrupt in the calling thread)."""
        start = time.monotonic()
        period_host_s = self.emulator.period_s / self.speed
        while not self._stop.is_set():
            if self.link.poll_connected():
                self.link.write(self.emulator.power_on())
            data = self.link.read()
            if data:
                self.link.write(self.emulator.receive(data))
            device_t_s = (time.monotonic() - start) * self.speed
            out = self.emulator.advance(device_t_s)
            if out:
                self.link.write(out)
            # Sleep until the next frame is due or host bytes arrive, whichever is first.
            next_due = (self.emulator.sim.t_s + self.emulator.period_s) / self.speed + start
            wait = min(max(0.0, next_due - time.monotonic()), period_host_s, 0.05)
            if wait > 0:
                select.select([self.link.fileno()], [], [], wait)

    def start(self) -> DeviceServer:
        """Serve on a background thread."""
        self._thread = threading.Thread(target=self.run, name="device server", daemon=True)
        self._thread.start()
        return self

    def stop(self, close_link: bool = True) -> None:
        """Stop serving; by default the link closes too (the host sees the device vanish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        if close_link:
            self.link.close()
