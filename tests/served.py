"""A simulated device served in this process on a real pty, with the host driver's clock tied to
the device time the server has played.

The driver judges link state (STALE after `stale_after_s` without a frame) on its `clock`. On the
wall clock, a server thread that a loaded machine leaves unscheduled for half a second looks like
a silent device, and the test sees a STALE the device never caused. On `served_clock` that pause
is a pause of the device's own time too, so link states follow what the simulated device did.

The pty holds only ~14 KB: a simulated device at 10-40x real time fills it in a fraction of a
second if the host thread is scheduled late, and the rest would be dropped (as on a UART nobody
reads). Links made here wait up to WRITE_WAIT_S for the host to make room instead.
"""

from __future__ import annotations

import select
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from probe_nav.drivers.device import Device
from probe_nav.drivers.registry import open_device
from probe_nav.simulator.emulators.probelink import ProbeLinkEmulator
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.faults import FaultPlan
from probe_nav.simulator.links import Link, PtyLink
from probe_nav.simulator.scenario import load
from probe_nav.simulator.server import DeviceServer

# How long a served device's write may wait for the host to read: well past any scheduling delay
# of a loaded machine, and under the 2 s DeviceServer.stop() waits for its thread.
WRITE_WAIT_S = 1.0
HANG_S = 30.0  # wall-clock bound on a wait: only a hang gets near it


def served_clock(server: DeviceServer) -> Callable[[], float]:
    """A host clock for a driver of `server`: the device time played so far, in host seconds."""
    return lambda: server.played_t_s / server.speed


@contextmanager
def served_probelink(scenario: str, seed: int = 0, speed: float = 1.0, faults: str = "",
                     link_path: str | None = None) -> Iterator[tuple[Device, DeviceServer]]:
    """A ProbeLink emulator playing `scenario`, and an opened driver on `served_clock`.

    The driver opens the port before the server starts, so it hears the device from its first
    byte however late this thread runs (bytes sent before a host opens the port are flushed
    when it does). Both are stopped on leaving the block.
    """
    emulator = ProbeLinkEmulator(Simulation(load(scenario), seed))
    server = DeviceServer(emulator, PtyLink(link_path, write_wait_s=WRITE_WAIT_S), speed=speed,
                          faults=FaultPlan.from_spec(faults or None), seed=seed)
    device = open_device(server.url, "probelink")
    device.clock = served_clock(server)
    try:
        device.open()
        server.start()
        yield device, server
    finally:
        server.stop()  # first, while the host still reads: no write waits on a closed host
        device.close()


def wait_until_read(link: Link) -> None:
    """Wait until the device side has read every byte the host wrote (a driver's last words on
    closing reach the emulator before its server is stopped)."""
    deadline = time.monotonic() + HANG_S
    while select.select([link.fileno()], [], [], 0)[0]:
        assert time.monotonic() < deadline, "the device never read the host's last bytes"
        time.sleep(0.01)
