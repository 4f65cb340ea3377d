"""An independent client, pygmc (github.com/Wikilicious/pygmc), unchanged, against our GMC
emulators over a pty: if pygmc can read version, serial, CPM, voltage and the heartbeat, the
emulator speaks the protocol as real counters do, not just as our own driver expects."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from probe_nav.simulator.emulators.gmc import Gmc320Emulator, Gmc500Emulator, GmcEmulator
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.scenario import load
from probe_nav.simulator.server import DeviceServer

pygmc = pytest.importorskip("pygmc")


@pytest.fixture
def served() -> Iterator:
    servers: list[DeviceServer] = []

    def start(emulator_cls: type[GmcEmulator]) -> tuple[GmcEmulator, DeviceServer]:
        emulator = emulator_cls(Simulation(load("sln-static"), 5))
        server = DeviceServer(emulator, PtyLink(), speed=10).start()
        servers.append(server)
        return emulator, server

    yield start
    for server in servers:
        server.stop()


def cpm_now(emulator: GmcEmulator) -> int:
    """The emulator's own CPM, waiting until it has counted a few seconds."""
    deadline = time.monotonic() + 60  # only bounds a hang (3 device s take 0.3 s at x10)
    while emulator.sim.t_s < 3:
        assert time.monotonic() < deadline, "the emulator did not count 3 s"
        time.sleep(0.02)
    return emulator.cpm


def test_pygmc_reads_a_gmc320(served) -> None:
    emulator, server = served(Gmc320Emulator)
    counter = pygmc.GMC320(port=server.url, timeout=2)
    try:
        assert counter.get_version() == "GMC-320Re 4.26"
        assert counter.get_serial() == "f48800671c42c2"
        before = cpm_now(emulator)
        cpm = counter.get_cpm()
        assert cpm in (before, cpm_now(emulator)) and cpm > 0
        assert counter.get_voltage() == pytest.approx(4.2)
        heartbeats = list(counter.heartbeat_live(count=5))
    finally:
        counter.connection.close_connection()
    # Every heartbeat pygmc read is a second the simulator counted, reserved bits masked off.
    assert heartbeats == [f.counts[0] for f in emulator.truth[:5]]
    assert emulator.writes == []


def test_pygmc_reads_a_gmc500_plus(served) -> None:
    emulator, server = served(Gmc500Emulator)
    counter = pygmc.GMC500Plus(port=server.url, timeout=2)
    try:
        assert counter.get_version() == "GMC-500+Re 2.22"
        assert counter.get_serial() == "303021572157f6"
        before = cpm_now(emulator)
        assert counter.get_cpm() in (before, cpm_now(emulator))
        assert counter.get_voltage() == pytest.approx(4.0)
        assert counter.get_cps() >= 0
        heartbeats = list(counter.heartbeat_live(count=4))
    finally:
        counter.connection.close_connection()
    assert heartbeats == [f.counts[0] for f in emulator.truth[:4]]


def test_pygmc_discovery_picks_the_model_class(served) -> None:
    _emulator, server = served(Gmc320Emulator)
    counter = pygmc.connect(port=server.url, timeout=2)
    try:
        assert isinstance(counter, pygmc.GMC320)
    finally:
        counter.connection.close_connection()
