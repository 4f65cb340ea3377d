"""Each driver on a real pty against bytes written by hand, with real timing: silence, a device
switched off mid-line, garbage - each ends in a clear link state or counter, never a hang.

The drivers' own time-outs run on the host clock here; the tests wait for their outcome (an
event, a counter, bytes on the line), never for a fixed time, and HANG_S only bounds a hang."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from probe_nav.drivers.device import Device, InfoEvent, LinkEvent
from probe_nav.drivers.frames import LinkState
from probe_nav.drivers.registry import driver_class
from probe_nav.simulator.links import PtyLink
from tests.drivers.expected_protocol import HANG_S, collect, frames_of

GOOD_LINE = {
    "mightyohm": b"CPS, 4, CPM, 60, uSv/hr, 0.34, SLOW\r\n",
    "ascii": b"4\r\n",
    "ogd": b"187;187;500;500;\r\n",  # events mode: four pulses
}


@pytest.fixture
def on_pty() -> Iterator:
    opened: list[tuple[Device, PtyLink]] = []

    def make(protocol: str, **kwargs) -> tuple[Device, PtyLink]:
        if protocol == "ogd":  # in auto mode the first data line may be a fragment: discarded
            kwargs.setdefault("mode", "events")
        link = PtyLink()
        device = driver_class(protocol)(link.url, stale_after_s=0.6, **kwargs)
        device.open()
        opened.append((device, link))
        if protocol in GOOD_LINE:  # bytes written before the port is serviced would be flushed
            collect(device, until=lambda ev: any(isinstance(e, InfoEvent) for e in ev))
        return device, link

    yield make
    for device, link in opened:
        started = time.monotonic()
        device.close()
        # close() joins the reader for at most 2 s; 10 s leaves room for a loaded machine.
        assert time.monotonic() - started < 10.0, "close() hung"
        link.close()


def stale_reason(device: Device, timeout_s: float = HANG_S) -> str:
    events = collect(device, timeout_s=timeout_s, until=lambda ev: any(
        isinstance(e, LinkEvent) and e.state is LinkState.STALE for e in ev))
    return next(e.reason for e in events if isinstance(e, LinkEvent) and e.state is LinkState.STALE)


@pytest.mark.parametrize("protocol", sorted(GOOD_LINE))
def test_silent_device_goes_stale(on_pty, protocol) -> None:
    device, _link = on_pty(protocol)
    assert "no frame for" in stale_reason(device)
    assert device.link_state is LinkState.STALE


@pytest.mark.parametrize("protocol", sorted(GOOD_LINE))
def test_switched_off_mid_line_then_back(on_pty, protocol) -> None:
    device, link = on_pty(protocol)
    good = GOOD_LINE[protocol]
    link.write(good + good[: len(good) // 2])  # ... and the device loses power mid-line
    collect(device, frames=1)
    # Left unfinished for 0.5 s (partial_line_s), the fragment is a short read.
    collect(device, until=lambda _ev: device.stats.extra.get("short_lines") == 1)
    link.write(good)  # powered again
    collect(device, frames=1)
    assert device.stats.bad_frames == 1


@pytest.mark.parametrize("protocol", sorted(GOOD_LINE))
def test_garbage_between_good_lines(on_pty, protocol) -> None:
    device, link = on_pty(protocol)
    good = GOOD_LINE[protocol]
    noise = os.urandom(400).replace(b"\r", b"").replace(b"\n", b"")
    link.write(good + noise[:200] + b"\r\n" + noise[200:] + b"\r\n" + good)
    events = collect(device, frames=2)
    assert len(frames_of(events)) == 2
    collect(device, until=lambda _ev: device.stats.bad_frames >= 2)
    assert device.link_state is LinkState.CONNECTED


def test_gmc_that_never_answers_is_asked_again_and_stays_stale(on_pty) -> None:
    device, link = on_pty("gmc-320", settle_s=0.05, reply_timeout_s=0.2, retry_s=0.3)
    reason = stale_reason(device)
    assert "no answer to <GETVER>> within 0.2 s; is this a GQ GMC counter at 115200 baud?" in reason
    written, deadline = b"", time.monotonic() + HANG_S
    while written.count(b"<HEARTBEAT0>><GETVER>>") < 2:  # the handshake is retried (0.3 s)
        assert time.monotonic() < deadline, written
        time.sleep(0.02)
        written += link.read()
    assert b"<HEARTBEAT1>>" not in written


def test_gmc_switched_off_mid_heartbeat_word(on_pty) -> None:
    device, link = on_pty("gmc-320", settle_s=0.05, reply_timeout_s=0.5)
    deadline = time.monotonic() + HANG_S
    seen = b""
    while b"<HEARTBEAT1>>" not in seen:  # answer the handshake until the counter streams
        assert time.monotonic() < deadline, seen
        time.sleep(0.02)
        seen += link.read()
        if seen.endswith(b"<GETVER>>"):
            link.write(b"GMC-320Re 4.26")
        elif seen.endswith(b"<GETSERIAL>>"):
            link.write(b"\xf4\x88\x00g\x1cB\xc2")
        elif seen.endswith(b"<GETVOLT>>"):
            link.write(b"*")
    link.write(b"\x00\x21\x00")  # one word, then half of the next
    frames = frames_of(collect(device, frames=1))
    assert frames[0].counts == (33,)
    collect(device, until=lambda _ev: device.stats.extra.get("short_words") == 1)
    link.write(b"\x00\x22")  # framing recovered: the next whole word is read correctly
    assert frames_of(collect(device, frames=1))[0].counts == (34,)
