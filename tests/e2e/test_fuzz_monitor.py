"""Fuzz over a real pty into a running `probe-nav monitor --json`, one test per protocol family.

A protocol's emulator serves a static scenario through a pty; the monitor runs as a subprocess on
that pty. Once it shows a live reading, this test writes bursts of fuzz into the same pty
between the emulator's frames (random bytes, bit-flipped, truncated and oversize frames of the
protocol, from tests/drivers/fuzz_targets.py), then stops and waits for the monitor to show the
device again. The monitor must survive (exit 0 on Ctrl-C, no traceback), never print a rate above
what the device can count, count the rejected frames, and show the device's frames again after
the garbage: a live reading, or, on a GM counter, OVER RANGE (a garbled frame that is plausible
for the tube, e.g. a bit error making CPS 15 of 95, is a jump no source makes at surgical speeds:
the over-range latch, probe_nav/core/overrange.py, takes it for paralysis and holds). The waits are
for what the monitor prints; HANG_S only bounds a hang.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.registry import emulator_class
from probe_nav.simulator.scenario import load
from probe_nav.simulator.server import DeviceServer
from tests.conftest import ROOT, cli
from tests.drivers.fuzz_targets import TARGETS
from tests.drivers.fuzzing import KINDS
from tests.served import HANG_S, WRITE_WAIT_S

SPEED = 10.0  # device seconds per host second
GARBAGE_BYTES = 40_000  # per test: bursts of 500-2000 bytes, 30 ms apart
# The most a device of each family can count (counts per second of live time): the emulated
# probe's counter saturates at 1/tau = 5e5 cps (sln-static: tau 2 us); the GMC-500's M4011 and the
# MightyOhm's tube at 2e4 cps (drivers/counters.py); the OGD's firmware at 1e6 cps; an ASCII
# counter that says nothing at the text protocols' bound, 1e7 cps. The scenario's true rate is
# far below all of them, so a reading above is a garbled frame that was let through.
FAMILIES = {  # protocol: (fuzz target, most countable cps, a GM tube's over-range latch)
    "probelink": ("probelink", 5e5, False),
    "gmc-500": ("gmc-500", 2e4, True),
    "mightyohm": ("mightyohm", 2e4, True),
    "ogd": ("ogd", 1e6, False),
    "ascii": ("ascii", 1e7, False),
}


class Monitor:
    """`probe-nav monitor --json` as a subprocess; its JSON lines collected by a thread."""

    def __init__(self, url: str, protocol: str) -> None:
        self.proc = subprocess.Popen(
            cli("monitor", "--device", url, "--protocol", protocol, "--json", "--interval", "0.2",
                "--meter", "1"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
            env=os.environ | {"PYTHONUNBUFFERED": "1"})
        self.lines: list[dict[str, Any]] = []
        self._new: queue.Queue[dict[str, Any]] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            snap = json.loads(raw)
            self.lines.append(snap)
            self._new.put(snap)

    def wait_for(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        deadline = time.monotonic() + HANG_S
        while True:
            assert self.proc.poll() is None, f"the monitor exited: {self.stop()[1][-2000:]}"
            try:
                snap = self._new.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"monitor stuck or hung: {self.lines[-3:]}") from None
            if done(snap):
                return snap

    def stop(self) -> tuple[int, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C: the monitor stops cleanly
        try:
            _out, err = self.proc.communicate(timeout=HANG_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _out, err = self.proc.communicate()
        self._reader.join(timeout=HANG_S)
        return self.proc.returncode, err


def live(snap: dict[str, Any]) -> bool:
    return snap["link"] == "connected" and snap["rate_cps"] is not None


def shown(snap: dict[str, Any], latches: bool) -> bool:
    """The device is shown: a live reading, or (a GM tube's latch) OVER RANGE and no number."""
    return live(snap) or (latches and snap["link"] == "connected" and snap["over_range"]
                          and snap["rate_cps"] is None)


@dataclass
class MonitorFuzz:
    """What one fuzz run against the monitor fed and saw."""

    protocol: str
    bytes_sent: int = 0
    bursts: int = 0
    dropped_bytes: int = 0  # what the pty could not take within WRITE_WAIT_S (any writer's)
    exit_code: int | None = None
    stderr: str = ""
    snapshots: list[dict[str, Any]] = field(default_factory=list)
    last: dict[str, Any] = field(default_factory=dict)  # the snapshot showing the device again
    fuzz_s: float = 0.0  # wall time spent writing garbage
    recover_s: float = 0.0  # wall time from the end of the garbage to the device shown again

    @property
    def rates(self) -> list[float]:
        return [s["rate_cps"] for s in self.snapshots if s["rate_cps"] is not None]


def fuzz_monitor(protocol: str, garbage_bytes: int, seed: int = 14) -> MonitorFuzz:
    """Serve `protocol` on a pty, run the monitor on it, write `garbage_bytes` of fuzz into the
    pty between the emulator's frames (the kinds in turn), and wait for the device to be shown
    again with 10 more frames. Also run at 10^6 bytes by benchmarks/fuzz_drivers.py --pty."""
    target_name, _max_cps, latches = FAMILIES[protocol]
    emulator = emulator_class(protocol)(Simulation(load("sln-static"), 3))
    link = PtyLink(write_wait_s=WRITE_WAIT_S)
    server = DeviceServer(emulator, link, speed=SPEED, seed=3).start()
    monitor = Monitor(server.url, protocol)
    fuzz = TARGETS[target_name](seed)  # makes the protocol's garbage (its own device is not used)
    result = MonitorFuzz(protocol)
    try:
        monitor.wait_for(live)
        started = time.monotonic()
        while result.bytes_sent < garbage_bytes:  # garbage between the emulator's frames
            kind = KINDS[result.bursts % len(KINDS)]
            burst, _periods = fuzz.fuzz_bytes(kind, fuzz.rng.randint(500, 2000))
            link.write(burst[:4000])  # (an OGD oversize line is 300 KB: its start is enough)
            result.bytes_sent += len(burst[:4000])
            result.bursts += 1
            time.sleep(0.03)
        ended = time.monotonic()
        result.fuzz_s = ended - started
        after_garbage = monitor.lines[-1]["frames"] if monitor.lines else 0
        result.last = monitor.wait_for(
            lambda s: shown(s, latches) and s["frames"] >= after_garbage + 10)
        result.recover_s = time.monotonic() - ended
    finally:
        result.exit_code, result.stderr = monitor.stop()
        server.stop()
        result.snapshots = list(monitor.lines)
        result.dropped_bytes = link.dropped_bytes
    return result


@pytest.mark.timeout(300)
@pytest.mark.parametrize("protocol", sorted(FAMILIES))
def test_monitor_survives_fuzz_and_shows_the_device_again(protocol: str) -> None:
    result = fuzz_monitor(protocol, GARBAGE_BYTES)
    max_cps = FAMILIES[protocol][1]
    assert result.exit_code == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.bytes_sent >= GARBAGE_BYTES
    assert result.rates and max(result.rates) <= max_cps, max(result.rates)
    assert result.last["bad_frames"] > 0  # the garbage was seen, counted and dropped
