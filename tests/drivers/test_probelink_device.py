"""The ProbeLink device class on a real pty: bytes written by hand on the device side, including
garbage, corrupted and missing frames, reach the host as counted, accounted frames.

Waits here are for bytes and events, with HANG_S only bounding a hang; link-state time-outs are
driven by a fake clock (the device's `clock`), not by sleeping."""

from __future__ import annotations

import random
import time

import pytest

from probe_nav.drivers.device import FrameEvent, InfoEvent, LinkEvent
from probe_nav.drivers.frames import CounterModel, CounterSpec, FaultFlag, LinkState
from probe_nav.drivers.probelink.codec import StreamDecoder, command_args, encode
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.drivers.probelink.messages import (
    Ack,
    AckResult,
    Cmd,
    Command,
    Count,
    CounterCode,
    Info,
    mask_versions,
)
from probe_nav.simulator.links import PtyLink

HANG_S = 30.0  # wall-clock bound on a wait for bytes or events: only a hang gets near it


class FakeClock:
    """A host clock that moves only when the test moves it."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def collect(device: ProbeLinkDevice, n_frames: int, timeout_s: float = HANG_S,
            until=None) -> list:
    """Events until `n_frames` frames came (and `until(events)` holds, if given)."""
    events: list = []
    deadline = time.monotonic() + timeout_s
    while (sum(isinstance(e, FrameEvent) for e in events) < n_frames
           or (until is not None and not until(events))):
        assert time.monotonic() < deadline, f"only {events}"
        events += device.poll(0.05)
    return events


def frame(i: int, counts: int = 10, flags: int = 0) -> bytes:
    return encode(Count(i, 50_000 * (i + 1), 50_000, 49_500, (counts,), flags, i))


@pytest.fixture
def link_and_device():
    link = PtyLink()
    device = ProbeLinkDevice(link.url)
    device.clock = FakeClock()  # no retries on a timer: the commands the host sends are exact
    device.open()
    yield link, device
    device.close()
    link.close()


def host_commands(link: PtyLink, count: int = 2, timeout_s: float = HANG_S) -> list[Command]:
    """The next `count` commands the host sends (fewer if it falls silent)."""
    decoder = StreamDecoder()
    out: list = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(out) < count:
        out += decoder.feed(link.read())
        time.sleep(0.01)
    return out


def test_host_offers_v2_then_asks_a_v1_device_for_identity_and_stream(link_and_device) -> None:
    link, device = link_and_device
    (hello,) = host_commands(link, 1)
    assert hello.cmd == Cmd.HELLO and hello.version == 1  # as v1: every device understands it
    assert mask_versions(command_args(hello)[0]) == {1, 2}
    link.write(encode(Ack(hello.seq, Cmd.HELLO, AckResult.UNKNOWN_COMMAND)))  # a v1 device
    cmds = host_commands(link)
    assert [(c.cmd, c.version) for c in cmds] == [(Cmd.GET_INFO, 1), (Cmd.START_STREAM, 1)]
    link.write(encode(Ack(cmds[0].seq, Cmd.GET_INFO)) + encode(Info("M", "S1", "F")))
    link.write(frame(0))
    events = collect(device, 1)
    (info,) = [e.info for e in events if isinstance(e, InfoEvent)]
    assert info.serial == "S1" and info.protocol == "probelink 1.0"
    assert info.counter == ProbeLinkDevice.default_counter  # a v1 INFO has no counter
    assert any(isinstance(e, LinkEvent) and e.state is LinkState.CONNECTED for e in events)
    assert device.version == 1 and device.stats.extra.get("nacks", 0) == 0


def test_host_and_v2_device_settle_on_v2_and_refuse_v1_afterwards(link_and_device) -> None:
    link, device = link_and_device
    (hello,) = host_commands(link, 1)
    link.write(encode(Ack(hello.seq, Cmd.HELLO, chosen_version=2))
               + encode(Info("M", "S2", "F", version=2, counter=CounterCode.PARALYSABLE,
                             dead_time_ns=5000, max_rate_cps=200_100)))
    (start,) = host_commands(link, 1)
    assert (start.cmd, start.version) == (Cmd.START_STREAM, 2)
    # A v1 frame after the device chose v2 is refused (its CRC-16 is the weaker check); the v2
    # frames around it pass.
    link.write(encode(Count(0, 50_000, 50_000, 49_500, (10,), version=2)) + frame(1)
               + encode(Count(2, 150_000, 50_000, 49_500, (12,), version=2)))
    events = collect(device, 2)
    (info,) = [e.info for e in events if isinstance(e, InfoEvent)]
    assert info.protocol == "probelink 2.0" and device.version == 2
    assert info.counter == CounterSpec(CounterModel.PARALYSABLE, 5e-6, 200_100.0,
                                       "device (ProbeLink v2 INFO)")
    assert [e.frame.seq for e in events if isinstance(e, FrameEvent)] == [0, 2]
    collect(device, 0, until=lambda _ev: device.stats.bad_frames >= 1)
    assert device.stats.extra["other_version"] == 1


@pytest.mark.parametrize("version", [1, 2])
def test_a_count_above_the_counters_ceiling_never_reaches_the_processor(link_and_device,
                                                                         version: int) -> None:
    """The 6.9e8 cps that a CRC-16 false accept once showed as live (issue 14), from a v1 device
    (ceiling: the 1e7 cps default) and 1e6 cps from a v2 device that states 500,100 cps."""
    link, device = link_and_device
    (hello,) = host_commands(link, 1)
    if version == 1:
        link.write(encode(Ack(hello.seq, Cmd.HELLO, AckResult.UNKNOWN_COMMAND)))
        (get_info, _start) = host_commands(link)
        link.write(encode(Ack(get_info.seq, Cmd.GET_INFO)) + encode(Info("M", "S1", "F")))
        too_many = round(6.9e8 * 0.05)
    else:
        link.write(encode(Ack(hello.seq, Cmd.HELLO, chosen_version=2))
                   + encode(Info("M", "S2", "F", version=2, counter=CounterCode.NONPARALYSABLE,
                                 dead_time_ns=2000, max_rate_cps=500_100)))
        host_commands(link, 1)  # START_STREAM
        too_many = round(1e6 * 0.05)
    counts = (10, too_many, 12, 500_100 // 20)  # the last one: exactly at the ceiling, taken
    link.write(b"".join(
        encode(Count(i, 50_000 * (i + 1), 50_000, 49_500, (c,), 0, i, version))
        for i, c in enumerate(counts)))
    events = collect(device, 3)
    assert [e.frame.counts for e in events if isinstance(e, FrameEvent)] == [
        (10,), (12,), (500_100 // 20,)]
    collect(device, 0, until=lambda _ev: device.stats.extra.get("implausible", 0) >= 1)
    assert device.stats.extra["implausible"] == 1 and device.stats.bad_frames == 1


def test_garbage_bitflips_and_drops_are_counted_and_skipped(link_and_device) -> None:
    link, device = link_and_device
    host_commands(link, 1)  # HELLO, left unanswered: v1 frames are taken while negotiating
    corrupted = bytearray(frame(3))
    corrupted[5] ^= 0x10
    stream = (
        frame(0) + random.Random(14).randbytes(300).replace(b"\x00", b"") + b"\x00"
        + frame(1) + frame(2)
        + bytes(corrupted) + frame(4) + frame(7, counts=3, flags=FaultFlag.OVER_RANGE)
    )
    link.write(stream)
    frames = [e.frame for e in collect(device, 5) if isinstance(e, FrameEvent)]
    assert [f.seq for f in frames] == [0, 1, 2, 4, 7]
    assert frames[-1].flags & FaultFlag.OVER_RANGE
    assert frames[0].t_s == pytest.approx(0.05) and frames[0].live_s == pytest.approx(0.0495)
    # The reader thread accounts a chunk's rejects just after publishing its frames: wait for it.
    collect(device, 0, until=lambda _ev: device.stats.bad_frames >= 2)
    stats = device.stats
    assert stats.frames == 5
    assert stats.dropped_frames == 3  # 3 (corrupted), 5 and 6 (never sent)
    assert stats.bad_frames == 2  # the garbage packet and the corrupted frame
    assert stats.skipped_bytes > 0


def test_silence_makes_the_link_stale() -> None:
    clock = FakeClock()
    link = PtyLink()
    device = ProbeLinkDevice(link.url)
    device.clock = clock
    device.open()
    try:
        host_commands(link, 1)  # HELLO
        link.write(frame(0))
        collect(device, 1)
        assert device.link_state is LinkState.CONNECTED
        clock.now_s += device.stale_after_s - 0.01  # silent, but not for long enough
        assert device.link_state is LinkState.CONNECTED
        clock.now_s += 0.02
        assert device.link_state is LinkState.STALE
        stale = [e for e in collect_events(device) if isinstance(e, LinkEvent)]
        assert stale[-1].state is LinkState.STALE and stale[-1].host_s == clock.now_s
        link.write(frame(1))
        collect(device, 1)
        assert device.link_state is LinkState.CONNECTED
    finally:
        device.close()
        link.close()


def collect_events(device: ProbeLinkDevice) -> list:
    """The events queued now."""
    return device.poll(0.0)


def test_request_gets_its_ack(link_and_device) -> None:
    import threading

    link, device = link_and_device
    (hello,) = host_commands(link, 1)
    # the device chooses v2 (a request waits for the outcome of the negotiation)
    link.write(encode(Ack(hello.seq, Cmd.HELLO, AckResult.OK, chosen_version=2)))
    result: list = []
    worker = threading.Thread(target=lambda: result.append(device.request(Cmd.PING)))
    worker.start()
    ping = next_command(link, Cmd.PING)
    assert ping.version == 2  # in the chosen version
    link.write(encode(Ack(ping.seq, Cmd.PING, version=2)))
    worker.join(HANG_S)
    assert result and result[0].cmd_seq == ping.seq


def next_command(link: PtyLink, cmd: Cmd) -> Command:
    """The next command `cmd` the host sends (others are skipped)."""
    decoder = StreamDecoder()
    deadline = time.monotonic() + HANG_S
    while time.monotonic() < deadline:
        for command_ in decoder.feed(link.read()):
            if command_.cmd == cmd:
                return command_
        time.sleep(0.01)
    raise AssertionError(f"the host never sent {cmd!r}")
