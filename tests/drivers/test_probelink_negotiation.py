"""ProbeLink version negotiation: every pairing of a v2 or v1-only host with a v2 or v1-only
device, device restarts and host take-overs, in process on a fake clock; then both directions of
interoperability over a real pty with the served simulator (`sim serve --protocol probelink` and
`--protocol probelink-v1`).

In process, a host (ProbeLinkDevice, never opened) and an emulator are joined by hand: what the
host sends goes to the emulator, what the emulator answers or streams goes to the host, and time
is the emulator's device time (a fake host clock that moves with it). On the pty, waits are for
events, with HANG_S only bounding a hang.
"""

from __future__ import annotations

import math
import time

import pytest

from probe_nav.drivers.device import FrameEvent, InfoEvent
from probe_nav.drivers.frames import CounterModel, CounterSpec
from probe_nav.drivers.probelink.codec import StreamDecoder
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.drivers.probelink.messages import Ack, Cmd, Command, Info
from probe_nav.drivers.registry import open_device
from probe_nav.drivers.transport import SerialSettings, open_port
from probe_nav.simulator.emulators.probelink import ProbeLinkEmulator, ProbeLinkV1Emulator
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.faults import FaultPlan
from probe_nav.simulator.launch import start_server
from probe_nav.simulator.scenario import load
from tests.drivers.test_probelink_vectors import spec_vectors

HANG_S = 30.0  # wall-clock bound on a wait for events over the pty: only a hang gets near it
TICK_S = 0.05  # how far the in-process wire moves device time between two looks at the host


class MuteV1Emulator(ProbeLinkV1Emulator):
    """A v1 firmware that ignores commands it does not know instead of answering them."""

    def _on_command(self, msg: Command) -> bytes:
        return b"" if msg.cmd == Cmd.HELLO else super()._on_command(msg)


class Wire:
    """A host and an emulator joined in process, on the emulator's clock. At the start the device
    has just powered on and the host has just opened the port."""

    def __init__(self, emulator: ProbeLinkEmulator, host_versions: tuple[int, ...] | None = None
                 ) -> None:
        self.emu = emulator
        self.to_host = bytearray(emulator.power_on())
        self.events: list = []
        self.host = self.attach(host_versions)

    def attach(self, versions: tuple[int, ...] | None) -> ProbeLinkDevice:
        """A new host on the same device (the old one, if any, just stops listening)."""
        host = ProbeLinkDevice("fake://probe", versions=versions)
        host.clock = lambda: self.emu.sim.t_s  # device time of the last frame counted
        host.send = self._from_host  # type: ignore[method-assign]
        self.host, self.events = host, []
        host.on_connect()
        self.pump()
        return host

    def _from_host(self, data: bytes) -> bool:
        self.to_host += self.emu.receive(data)
        return True

    def pump(self) -> None:
        """Deliver everything the device sent (answers may make the host send more)."""
        while self.to_host:
            data, self.to_host = bytes(self.to_host), bytearray()
            self.host.on_data(data)
        self.events += self.host.poll(0.0)

    def run(self, seconds: float) -> None:
        """Let the device count and send for `seconds`, the host ticking as its reader would."""
        now = self.emu.sim.t_s
        for _ in range(round(seconds / TICK_S)):
            now += TICK_S
            self.to_host += self.emu.advance(now)
            self.pump()
            self.host.on_tick(now)
            self.pump()

    def power_cycle(self) -> None:
        """The device restarts (the host's port stays open, as on a UART)."""
        self.to_host += self.emu.power_on()

    def frames(self) -> list:
        return [e.frame for e in self.events if isinstance(e, FrameEvent)]

    def infos(self) -> list:
        return [e.info for e in self.events if isinstance(e, InfoEvent)]


def emulator(cls: type[ProbeLinkEmulator] = ProbeLinkEmulator, scenario: str = "sln-static",
             faults: str | None = None) -> ProbeLinkEmulator:
    emu = cls(Simulation(load(scenario), seed=1))
    emu.faults = FaultPlan.from_spec(faults)
    return emu


@pytest.mark.parametrize(
    ("host_versions", "device", "version"),
    [
        (None, ProbeLinkEmulator, 2),  # both speak v2
        (None, ProbeLinkV1Emulator, 1),  # v2 host, v1 device: UNKNOWN_COMMAND, then v1
        ((1,), ProbeLinkEmulator, 1),  # v1 host (never sends HELLO), v2 device
        ((1,), ProbeLinkV1Emulator, 1),
        ((2,), ProbeLinkEmulator, 2),  # a v2-only host: HELLO as v2, answered as v2
    ],
)
def test_host_and_device_settle_on_the_highest_common_version(host_versions, device, version):
    wire = Wire(emulator(device), host_versions)
    wire.run(1.0)
    assert wire.host.version == version and wire.emu.version == version
    frames = wire.frames()
    assert len(frames) >= 18  # 20 frames a second; the first may come before the answer
    assert wire.infos()[-1].protocol == f"probelink {version}.0"
    stats = wire.host.stats
    refused = 1 if host_versions == (2,) else 0  # a v2-only host refuses the power-on v1 INFO
    assert stats.bad_frames == stats.extra.get("other_version", 0) == refused
    assert stats.dropped_frames == 0 and not stats.extra.get("nacks")
    assert wire.emu.negotiations == (1 if version == 2 else 0)


def test_a_v2_only_host_and_a_v1_device_share_nothing_and_say_so() -> None:
    wire = Wire(emulator(ProbeLinkV1Emulator), (2,))
    wire.run(5.0)
    assert wire.host.version is None and wire.frames() == []  # v1 frames are refused, not shown
    assert "HELLO" in (wire.host.problem or "")


def test_a_v1_device_that_ignores_hello_is_spoken_to_in_v1() -> None:
    wire = Wire(emulator(MuteV1Emulator))
    wire.run(1.0)
    assert wire.host.version is None  # still asking; a v1 device streams meanwhile
    wire.run(3.5)  # 3 HELLOs a second apart, unanswered
    assert wire.host.version == 1
    assert wire.infos()[-1].protocol == "probelink 1.0"
    assert wire.host.stats.bad_frames == 0


@pytest.mark.parametrize(
    ("scenario", "model", "dead_time_s", "max_rate_cps"),
    [
        ("sln-static", CounterModel.NONPARALYSABLE, 2e-6, 500_100.0),  # 1/tau + 100
        ("psma-node", CounterModel.PARALYSABLE, 5e-6, 200_100.0),
    ],
)
def test_v2_info_carries_the_simulated_probes_counter(scenario, model, dead_time_s, max_rate_cps):
    probe = load(scenario).probe
    assert (probe.dead_time_kind, probe.dead_time_s) == (model.value, dead_time_s)
    wire = Wire(emulator(scenario=scenario))
    wire.run(0.2)
    counter = wire.infos()[-1].counter
    assert counter == CounterSpec(model, pytest.approx(dead_time_s), max_rate_cps,
                                  "device (ProbeLink v2 INFO)")
    # the same device met by a v1 host cannot say it: the class default stands in
    v1 = Wire(emulator(scenario=scenario), (1,))
    v1.run(0.2)
    assert v1.infos()[-1].counter == ProbeLinkDevice.default_counter
    assert ProbeLinkDevice.default_counter.max_rate_cps == 1e7


@pytest.mark.parametrize(
    ("scenario", "saturate_cps"),
    [("sln-static", 1e9), ("psma-node", 2e5)],  # far past saturation; at the paralysable peak
)
def test_the_declared_ceiling_bounds_every_frame_even_saturated(scenario, saturate_cps) -> None:
    """max_rate_cps is a bound the device never exceeds, whatever the rate: recorded pulses
    are at least one dead time apart in either counter model."""
    wire = Wire(emulator(scenario=scenario, faults=f"saturate@0.2+1:{saturate_cps:g}"))
    wire.run(1.5)
    ceiling = wire.infos()[-1].counter.max_rate_cps
    assert len(wire.frames()) >= 1.4 / load(scenario).frame_period_s
    assert all(max(f.counts) <= ceiling * f.real_s for f in wire.frames())
    # every pulse recorded, in or out of the windows (the simulation's ground truth)
    recorded_cps = [t.total_counts / t.real_s for t in wire.emu.truth]
    assert max(recorded_cps) <= ceiling
    # ... and the bound is tight. Non-paralysable past saturation (n tau ~ 2000): m =
    # n/(1 + n tau) = 0.9995/tau. Paralysable at n tau ~ 1: the mean is the peak 1/(e tau), and
    # 3,700 pulses a frame fluctuate by ~1 %, so 0.95 of it is reached.
    tau = load(scenario).probe.dead_time_s
    assert max(recorded_cps) > (0.99 / tau if scenario == "sln-static" else 0.95 / (math.e * tau))


def test_a_restarted_device_is_negotiated_again() -> None:
    wire = Wire(emulator())
    wire.run(0.5)
    assert wire.host.version == 2
    before = len(wire.frames())
    wire.power_cycle()  # back in v1, streaming: the host refuses those frames ...
    wire.run(0.5)
    assert len(wire.frames()) == before and wire.host.stats.extra["other_version"] > 0
    wire.run(1.5)  # ... sees no COUNT for a second, and asks again
    assert wire.host.version == 2 and wire.emu.version == 2 and wire.emu.negotiations == 2
    assert len(wire.frames()) > before + 5


def test_a_v1_host_taking_over_a_device_left_in_v2_gets_v1() -> None:
    wire = Wire(emulator())
    wire.run(0.3)
    assert wire.emu.version == 2
    wire.attach((1,))  # another host on the same port, the device not reset
    wire.run(1.0)
    assert wire.emu.version == 1 and wire.host.version == 1
    assert len(wire.frames()) >= 15 and wire.infos()[-1].protocol == "probelink 1.0"


# ---------------------------------------------------------------- over a real pty


@pytest.mark.parametrize(
    ("served", "host_versions", "version"),
    [("probelink", None, 2), ("probelink-v1", None, 1), ("probelink", (1,), 1)],
)
def test_interoperability_over_a_pty(served: str, host_versions, version: int) -> None:
    server = start_server(served, "sln-static", "pty", seed=2)
    device = open_device(server.url, "probelink", versions=host_versions)
    try:
        device.open()
        events: list = []
        deadline = time.monotonic() + HANG_S
        while (sum(isinstance(e, FrameEvent) for e in events) < 10
               or not any(isinstance(e, InfoEvent) for e in events)):
            assert time.monotonic() < deadline, f"only {events}"
            events += device.poll(0.05)
        assert device.version == version and server.emulator.version == version
        info = [e.info for e in events if isinstance(e, InfoEvent)][-1]
        assert info.protocol == f"probelink {version}.0" and info.serial == "SIM-0001"
        assert (info.counter.model is CounterModel.NONPARALYSABLE) == (version == 2)
        assert device.stats.bad_frames == 0 and device.stats.dropped_frames == 0
    finally:
        server.stop()
        device.close()


def test_the_served_device_answers_hello_as_the_spec_says() -> None:
    """Bytes written by hand to `sim serve --protocol probelink` (spec section 9's `hello`)."""
    _, hello = spec_vectors("## 9. Test vectors, version 2")["hello"]
    server = start_server("probelink", "sln-static", "pty", seed=2)
    port = open_port(server.url, SerialSettings())
    try:
        port.write(b"\x00" + hello)
        decoder = StreamDecoder()
        got: list = []
        deadline = time.monotonic() + HANG_S
        while not any(isinstance(m, Info) and m.version == 2 for m in got):
            assert time.monotonic() < deadline, f"only {got}"
            got += decoder.feed(port.read(port.in_waiting or 1))
        (ack,) = [m for m in got if isinstance(m, Ack)]
        assert (ack.version, ack.cmd, ack.chosen_version) == (1, Cmd.HELLO, 2)
        at = got.index(ack)
        assert all(m.version == 1 for m in got[:at]) and all(m.version == 2 for m in got[at + 1:])
        assert decoder.stats.rejected() == dict.fromkeys(decoder.stats.rejected(), 0)
    finally:
        port.close()
        server.stop()


def test_a_request_made_while_negotiating_waits_and_travels_in_the_chosen_version() -> None:
    """The console asks for spectra as soon as it opens the session, before the device has
    answered HELLO. Sent then, in v1, the request made a v2 device take it for a v1 host taking
    over and go back to v1, whose frames the host refused (16 frames lost at every start of the
    console's training mode). It waits for the outcome and goes out in v2.

    The 0.2 s pause below only gives a wrong implementation time to send early; a correct one
    never sends before the answer, however long the pause, so the test cannot fail by timing."""
    import threading

    emu = ProbeLinkEmulator(Simulation(load("sln-static"), 1))
    wire = bytearray(emu.power_on())
    host = ProbeLinkDevice("fake://probe")
    sent: list[bytes] = []
    host.send = lambda data: sent.append(bytes(data)) or True  # type: ignore[method-assign]
    host.on_connect()  # HELLO out, no answer delivered yet
    results: list = []
    worker = threading.Thread(target=lambda: results.append(
        host.request(Cmd.SET_SPECTRUM, 1, timeout_s=HANG_S)))
    worker.start()
    time.sleep(0.2)
    early = [m for m in StreamDecoder((1, 2)).feed(b"".join(sent)) if isinstance(m, Command)]
    assert [m.cmd for m in early] == [Cmd.HELLO]  # nothing but the offer before the answer
    delivered = len(sent)
    for data in sent:
        wire += emu.receive(data)
    host.on_data(bytes(wire))  # the device chose v2
    assert host.version == 2
    deadline = time.monotonic() + HANG_S
    while worker.is_alive() and time.monotonic() < deadline:  # the wire, both ways
        fresh, delivered = sent[delivered:], len(sent)
        answer = b"".join(emu.receive(data) for data in fresh)
        if answer:
            host.on_data(answer)
        time.sleep(0.01)
    worker.join(HANG_S)
    assert results and results[0].cmd == Cmd.SET_SPECTRUM
    assert emu.version == 2  # the device still speaks v2: the request did not pull it back
