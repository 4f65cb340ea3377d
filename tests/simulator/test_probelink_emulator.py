"""The ProbeLink emulator in process: identity, windows, spectra, battery and device faults,
checked on the decoded bytes it sends."""

from __future__ import annotations

import pytest

from probe_nav.drivers.frames import FaultFlag
from probe_nav.drivers.probelink.codec import StreamDecoder, command, encode
from probe_nav.drivers.probelink.messages import (
    Ack,
    AckResult,
    Cmd,
    Count,
    Detector,
    Info,
    SpectrumChunk,
    Status,
)
from probe_nav.simulator.emulators.probelink import (
    BATTERY_LIFE_H,
    BATTERY_START_PCT,
    ProbeLinkEmulator,
)
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.faults import FaultPlan
from probe_nav.simulator.scenario import load


class Host:
    """Sends commands to an emulator and decodes everything it answers or streams."""

    def __init__(self, scenario: str = "sln-static", faults: str | None = None) -> None:
        self.emu = ProbeLinkEmulator(Simulation(load(scenario), seed=1))
        self.emu.faults = FaultPlan.from_spec(faults)
        self.decoder = StreamDecoder()
        self.seq = 0
        self.messages = self.decoder.feed(self.emu.power_on())

    def send(self, cmd: Cmd, *args: object) -> Ack:
        self.seq += 1
        out = self.decoder.feed(self.emu.receive(encode(command(cmd, self.seq, *args))))
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
