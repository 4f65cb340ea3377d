"""GMC device classes, byte for byte against scripted counters (replies recorded from real GMC-320,
GMC-500+ and GMC-300S counters by pygmc, github.com/Wikilicious/pygmc tests/data)."""

from __future__ import annotations

import threading

import pytest

from probe_nav.drivers.device import InfoEvent, LinkEvent, StatusEvent
from probe_nav.drivers.errors import DeviceTimeout
from probe_nav.drivers.frames import FaultFlag, LinkState
from probe_nav.drivers.gmc.device import Gmc300Device, Gmc320Device, Gmc500Device, GmcDevice
from tests.drivers.expected_protocol import collect, expected_protocol, frames_of
from tests.drivers.test_gmc_codec import GMC300S, GMC320, GMC500P

HB0, HB1 = b"<HEARTBEAT0>>", b"<HEARTBEAT1>>"
FAST = {"settle_s": 0.05, "reply_timeout_s": 0.3, "retry_s": 60.0}


def handshake(fixture: dict[str, bytes], first_heartbeats: bytes) -> list:
    return [
        (HB0, b""),
        (b"<GETVER>>", fixture["GETVER"]),
        (b"<GETSERIAL>>", fixture["GETSERIAL"]),
        (b"<GETVOLT>>", fixture["GETVOLT"]),
        (HB1, first_heartbeats),
    ]


def test_gmc320_identifies_then_streams_1s_frames() -> None:
    # Two heartbeats: 438 counts, then 28 counts with the reserved bit 14 set by the firmware.
    script = [*handshake(GMC320, b"\x01\xb6\x40\x1c"), (HB0, None)]
    with expected_protocol(Gmc320Device, script, **FAST) as (device, _port):
        events = collect(device, frames=2)
    frames = frames_of(events)
    assert [f.counts for f in frames] == [(438,), (28,)]
    assert [(f.seq, f.t_s, f.real_s, f.live_s) for f in frames] == [(0, 1.0, 1.0, 1.0),
                                                                      (1, 2.0, 1.0, 1.0)]
    info = next(e.info for e in events if isinstance(e, InfoEvent))
    assert (info.model, info.firmware, info.serial) == ("GMC-320", "4.26", "f48800671c42c2")
    assert info.protocol == "gmc RFC1201" and info.detector == "GM tube"
    status = next(e.status for e in events if isinstance(e, StatusEvent))
    assert status.battery_v == pytest.approx(4.2)
    assert any(isinstance(e, LinkEvent) and e.state is LinkState.CONNECTED for e in events)


def test_gmc500_reads_4_byte_heartbeats_and_ascii_voltage() -> None:
    # 20000 needs more than RFC1201's 14 bits; 65536 (3 bytes) is more than the M4011 can count
    # in a second (1/50 us, counters.py): the plausibility gate rejects it.
    words = b"\x00\x00\x00\x13\x00\x01\x00\x00\x00\x00\x4e\x20"
    script = [*handshake(GMC500P, words), (HB0, None)]
    with expected_protocol(Gmc500Device, script, **FAST) as (device, _port):
        events = collect(device, frames=2)
    assert [f.counts for f in frames_of(events)] == [(19,), (20000,)]
    assert device.stats.extra["implausible"] == 1
    status = next(e.status for e in events if isinstance(e, StatusEvent))
    assert status.battery_v == pytest.approx(4.0)


@pytest.mark.parametrize(("fixture", "words", "counts"), [
    (GMC500P, b"\x00\x00\x00\x13", (19,)),
    (GMC320, b"\x00\x17", (23,)),
])
def test_auto_revision_from_the_version_string(fixture, words, counts) -> None:
    script = [*handshake(fixture, words), (HB0, None)]
    with expected_protocol(GmcDevice, script, **FAST) as (device, _port):
        events = collect(device, frames=1)
    assert frames_of(events)[0].counts == counts


def test_heartbeat_already_running_is_stopped_and_flushed() -> None:
    # A previous program left the GMC-300S streaming: words arrive before and just after
    # <HEARTBEAT0>>; none of them may become a frame or be read as the version.
    script = [
        (None, b"\x00\x17\x00\x18\x00"),
        (HB0, b"\x19"),
        (b"<GETVER>>", GMC300S["GETVER"]),
        (b"<GETSERIAL>>", GMC300S["GETSERIAL"]),
        (b"<GETVOLT>>", GMC300S["GETVOLT"]),
        (HB1, b"\x00\x1a"),
        (HB0, None),
    ]
    with expected_protocol(Gmc300Device, script, **FAST) as (device, _port):
        events = collect(device, frames=1)
        assert device.version is not None and device.version.model == "GMC-300S"
    assert [f.counts for f in frames_of(events)] == [(26,)]
    assert device.stats.extra["flushed_bytes"] == 6
    assert device.settings.baudrate == 57600  # the old GMC-300 default


def test_query_while_streaming_stops_and_restarts_the_heartbeat() -> None:
    script = [
        *handshake(GMC320, b"\x00\x05"),
        (HB0, b""),
        (b"<GETCPM>>", GMC320["GETCPM"]),
        (HB1, b"\x00\x06"),
        (HB0, None),
    ]
    with expected_protocol(Gmc320Device, script, **FAST) as (device, _port):
        events = collect(device, frames=1)
        assert device.query_cpm() == 438
        events += collect(device, frames=1)
    assert [f.counts for f in frames_of(events)] == [(5,), (6,)]
    assert [f.t_s for f in frames_of(events)] == [1.0, 2.0]


def test_wrong_model_for_the_protocol_is_reported_not_streamed() -> None:
    script = [(HB0, b""), (b"<GETVER>>", GMC500P["GETVER"]), (HB0, None)]
    with expected_protocol(Gmc320Device, script, stale_after_s=0.3, **FAST) as (device, _port):
        events = collect(device, until=lambda ev: any(
            isinstance(e, LinkEvent) and "RFC1801" in e.reason for e in ev))
        reason = next(e.reason for e in events
                      if isinstance(e, LinkEvent) and "RFC1801" in e.reason)
        assert "GMC-500+Re 2.22" in reason and "--protocol gmc" in reason
        collect(device, until=lambda ev: device.link_state is LinkState.STALE)
    assert not frames_of(events)


def test_counter_that_never_answers_ends_stale_with_the_reason() -> None:
    script = [(HB0, b""), (b"<GETVER>>", b""), (HB0, None)]
    with expected_protocol(Gmc320Device, script, stale_after_s=0.5, **FAST) as (device, _port):
        events = collect(device, until=lambda ev: any(
            isinstance(e, LinkEvent) and e.state is LinkState.STALE for e in ev))
    stale = next(e for e in events if isinstance(e, LinkEvent) and e.state is LinkState.STALE)
    assert "no answer to <GETVER>> within 0.3 s" in stale.reason
    assert "115200 baud" in stale.reason


def test_switched_off_mid_reply_is_a_short_reply() -> None:
    script = [(HB0, b""), (b"<GETVER>>", b"GMC-3"), (HB0, None)]
    with expected_protocol(Gmc320Device, script, **FAST) as (device, _port):
        events = collect(device, until=lambda ev: any(
            isinstance(e, LinkEvent) and "short reply" in e.reason for e in ev))
    reason = next(e.reason for e in events if isinstance(e, LinkEvent) and "short" in e.reason)
    assert "short reply to <GETVER>>: 5 of 7 bytes (b'GMC-3')" in reason


def test_garbage_instead_of_a_version_is_reported() -> None:
    script = [(HB0, b""), (b"<GETVER>>", b"\xff\xfe\x00garbage\x13"), (HB0, None)]
    with expected_protocol(Gmc320Device, script, **FAST) as (device, _port):
        events = collect(device, until=lambda ev: any(
            isinstance(e, LinkEvent) and "not a GQ GMC version" in e.reason for e in ev))
    assert not frames_of(events)


def test_heartbeat_word_cut_short_is_dropped_and_counted() -> None:
    script = [*handshake(GMC320, b"\x00\x10\x00"), (HB0, None)]
    with expected_protocol(Gmc320Device, script, **FAST) as (device, _port):
        events = collect(device, frames=1)
        collect(device, until=lambda ev: device.stats.bad_frames == 1)
    assert [f.counts for f in frames_of(events)] == [(16,)]
    assert device.stats.extra["short_words"] == 1


def test_saturated_rfc1201_word_is_flagged_over_range() -> None:
    script = [*handshake(GMC320, b"\x3f\xff"), (HB0, None)]
    with expected_protocol(Gmc320Device, script, **FAST) as (device, _port):
        events = collect(device, frames=1)
    assert frames_of(events)[0].flags & FaultFlag.OVER_RANGE


def test_counter_unplugged_fails_a_waiting_query_instead_of_hanging() -> None:
    # The cable is pulled right after the query's <HEARTBEAT0>> went out.
    script = [*handshake(GMC320, b"\x00\x05"), (HB0, b"")]
    with expected_protocol(Gmc320Device, script, hang_up_at_end=True, **FAST) as (device, _port):
        collect(device, frames=1)
        result: list = []

        def ask() -> None:
            try:
                result.append(device.query_cpm())
            except DeviceTimeout as exc:
                result.append(exc)

        worker = threading.Thread(target=ask)
        worker.start()
        worker.join(2.0)  # well before the query's own time-out
        assert not worker.is_alive()
        assert isinstance(result[0], DeviceTimeout) and "disconnected" in str(result[0])
        collect(device, until=lambda ev: device.link_state is LinkState.DISCONNECTED)
        with pytest.raises(DeviceTimeout, match="not connected"):
            device.query_cpm()
