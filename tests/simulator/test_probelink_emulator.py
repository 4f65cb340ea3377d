"""The ProbeLink emulator in process: identity, windows, spectra, battery and device faults,
version negotiation and the counter it declares, checked on the decoded bytes it sends."""

from __future__ import annotations

import pytest

from probe_nav.drivers.frames import FaultFlag
from probe_nav.drivers.probelink.codec import StreamDecoder, command, encode
from probe_nav.drivers.probelink.messages import (
    Ack,
    AckResult,
    Cmd,
    Count,
    CounterCode,
    Detector,
    Info,
    SpectrumChunk,
    Status,
    versions_mask,
)
from probe_nav.simulator.emulators.probelink import (
    BATTERY_LIFE_H,
    BATTERY_START_PCT,
    ProbeLinkEmulator,
    ProbeLinkV1Emulator,
)
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.faults import FaultPlan
from probe_nav.simulator.scenario import load


class Host:
    """Sends commands to an emulator and decodes everything it answers or streams."""

    def __init__(self, scenario: str = "sln-static", faults: str | None = None,
                 emulator: type[ProbeLinkEmulator] = ProbeLinkEmulator) -> None:
        self.emu = emulator(Simulation(load(scenario), seed=1))
        self.emu.faults = FaultPlan.from_spec(faults)
        self.decoder = StreamDecoder()
        self.seq = 0
        self.messages = self.decoder.feed(self.emu.power_on())

    def send(self, cmd: Cmd, *args: object, version: int = 1) -> Ack:
        self.seq += 1
        wire = encode(command(cmd, self.seq, *args, version=version))
        out = self.decoder.feed(self.emu.receive(wire))
        self.messages += out[1:]
        assert isinstance(out[0], Ack) and out[0].cmd_seq == self.seq
        return out[0]

    def run(self, until_s: float) -> list:
        out = self.decoder.feed(self.emu.advance(until_s))
        self.messages += out
        assert self.decoder.stats.messages == len(self.messages) + self.seq  # nothing rejected
        return out


def counts(messages: list) -> list[Count]:
    return [m for m in messages if isinstance(m, Count)]


def test_power_on_announces_identity_windows_and_calibration() -> None:
    (info,) = Host("rsl-dual-isotope").messages
    assert isinstance(info, Info)
    assert info.detector == Detector.CDTE and info.frame_period_ms == 50
    assert [w.name for w in info.windows] == ["I-125", "Tc-99m"]
    assert info.n_channels == 256 and tuple(info.energy_cal) == (0.0, 1.0)
    assert Host("psma-node").messages[0].detector == Detector.CSI_TL


def test_set_window_adds_and_redefines_windows() -> None:
    host = Host()
    assert host.send(Cmd.SET_WINDOW, 1, 20.0, 45.0).result == AckResult.OK
    assert host.send(Cmd.SET_WINDOW, 3, 20.0, 45.0).result == AckResult.BAD_ARGUMENT  # a hole
    assert host.send(Cmd.SET_WINDOW, 0, 45.0, 20.0).result == AckResult.BAD_ARGUMENT
    assert host.send(Cmd.SET_WINDOW, 9, 20.0, 45.0).result == AckResult.BAD_ARGUMENT
    frames = counts(host.run(1.0))
    assert frames and all(len(f.counts) == 2 for f in frames)
    host.send(Cmd.GET_INFO)
    assert len([m for m in host.messages if isinstance(m, Info)][-1].windows) == 2


def test_spectra_come_before_their_count_and_agree_with_it() -> None:
    host = Host()
    assert host.send(Cmd.SET_SPECTRUM, 2).result == AckResult.BAD_ARGUMENT
    assert host.send(Cmd.SET_SPECTRUM, 1).result == AckResult.OK
    msgs = host.run(1.0)
    chunks: dict[int, list[int]] = {}
    checked = 0
    for msg in msgs:
        if isinstance(msg, SpectrumChunk):
            bins = chunks.setdefault(msg.frame_seq, [0] * msg.n_channels)
            bins[msg.first_channel:msg.first_channel + len(msg.bins)] = msg.bins
        elif isinstance(msg, Count):
            spectrum = chunks.pop(msg.frame_seq)
            assert len(spectrum) == 256
            assert sum(spectrum[126:155]) == msg.counts[0]  # 1 keV channels, window 126-155
            checked += 1
    assert checked == 20 and not chunks
    host.send(Cmd.SET_SPECTRUM, 0)
    assert not any(isinstance(m, SpectrumChunk) for m in host.run(2.0))


def test_battery_drains_while_streaming() -> None:
    host = Host()
    host.send(Cmd.SET_FRAME_PERIOD, 10000)
    host.run(7200.0)
    statuses = [m for m in host.messages if isinstance(m, Status)]
    first, last = statuses[0], statuses[-1]
    assert first.battery_pct == round(BATTERY_START_PCT)
    drained = BATTERY_START_PCT - 100 * 2 / BATTERY_LIFE_H  # 2 h of a 10 h battery
    assert last.battery_pct == pytest.approx(drained, abs=1)
    assert last.battery_mv < first.battery_mv and last.hv_dv == 5000


def test_device_faults_in_the_stream() -> None:
    host = Host(faults="drop@1x3,drop@2+0.5,lowbat@3:4,hv@4+1:0.6,saturate@5+1,clockjump@6:+3600")
    frames = counts(host.run(7.0))
    seqs = [f.frame_seq for f in frames]
    assert host.emu.frames_dropped == 3 + 10 and len(frames) == 140 - 13
    assert len(seqs) == len(set(seqs)) and seqs[-1] == 139

    def flagged(flag: FaultFlag) -> list[float]:
        return [f.t_end_us / 1e6 for f in frames if f.flags & flag]

    low = flagged(FaultFlag.LOW_BATTERY)
    assert low and min(low) == pytest.approx(3.0, abs=0.06)
    hv = flagged(FaultFlag.HV_FAULT)
    assert len(hv) == 20 and min(hv) == pytest.approx(4.05, abs=0.01)
    over = flagged(FaultFlag.OVER_RANGE)
    assert len(over) == 20 and min(over) == pytest.approx(5.05, abs=0.01)
    (jump,) = [f for f in frames if f.flags & FaultFlag.CLOCK_RESET]
    before = frames[frames.index(jump) - 1]
    assert (jump.t_end_us - before.t_end_us) / 1e6 == pytest.approx(3600.05)
    normal = [f.counts[0] for f in frames if f.t_end_us / 1e6 < 1.0]
    weak = [f.counts[0] for f in frames if f.flags & FaultFlag.HV_FAULT]
    assert sum(weak) < 0.2 * sum(normal)  # the photopeak left the window
    statuses = [m for m in host.messages if isinstance(m, Status)]
    assert statuses[-1].battery_pct == 4 and statuses[-1].faults & FaultFlag.LOW_BATTERY
    assert any(s.faults & FaultFlag.HV_FAULT and s.hv_dv == 3000 for s in statuses)
    sent = [t for t in host.emu.truth]
    assert len(sent) == len(frames)


def test_power_on_speaks_v1_and_hello_moves_everything_to_v2() -> None:
    host = Host("psma-node")
    assert [m.version for m in host.messages] == [1]  # a v1 host must understand it
    assert host.messages[0].counter == CounterCode.UNKNOWN  # v1 has no room for the counter
    ack = host.send(Cmd.HELLO, versions_mask((1, 2)))
    assert (ack.version, ack.result, ack.chosen_version) == (1, AckResult.OK, 2)
    (info,) = host.messages[1:]  # HELLO is answered with an INFO in the chosen version
    assert info.version == 2 and info.counter == CounterCode.PARALYSABLE
    assert info.dead_time_ns == 5000 and info.max_rate_cps == 200_100  # tau 5 us: 1/tau + 100
    sent = host.run(2.0)
    assert sent and all(m.version == 2 for m in sent)
    assert host.send(Cmd.PING, version=2).version == 2


def test_the_version_of_each_command_is_followed() -> None:
    host = Host()
    host.send(Cmd.HELLO, versions_mask((1, 2)))
    assert host.emu.version == 2
    ack = host.send(Cmd.GET_INFO)  # an old host took over the port: answer it in its version
    assert ack.version == 1 and host.messages[-1].version == 1 and host.emu.version == 1
    assert all(m.version == 1 for m in host.run(0.5))
    host.emu.power_on()
    assert host.emu.version == 1


def test_hello_with_no_common_version_changes_nothing() -> None:
    host = Host()
    ack = host.send(Cmd.HELLO, versions_mask((3, 4)))
    assert ack.result == AckResult.BAD_ARGUMENT and ack.chosen_version is None
    assert host.emu.version == 1 and host.emu.negotiations == 0


def test_a_v1_firmware_does_not_know_hello() -> None:
    host = Host(emulator=ProbeLinkV1Emulator)
    ack = host.send(Cmd.HELLO, versions_mask((1, 2)))
    assert (ack.version, ack.result, ack.chosen_version) == (1, AckResult.UNKNOWN_COMMAND, None)
    assert all(m.version == 1 for m in host.run(0.5)) and host.emu.version == 1
    # and it never reads v2 at all: a v2 command is noise to it (no answer)
    assert host.emu.receive(encode(command(Cmd.PING, 99, version=2))) == b""
