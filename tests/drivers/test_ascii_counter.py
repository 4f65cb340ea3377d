"""Plain ASCII counters: `COUNT` or `T,COUNT` per line."""

from __future__ import annotations

import pytest

from probe_nav.drivers.ascii_counter.codec import encode_line, is_comment, parse_line
from probe_nav.drivers.ascii_counter.device import AsciiCounterDevice
from probe_nav.drivers.frames import FaultFlag
from tests.drivers.expected_protocol import collect, expected_protocol, frames_of


@pytest.mark.parametrize(("line", "parsed"), [
    ("12", (None, 12)), (" 12 ", (None, 12)), ("3.250,12", (3.25, 12)),
    ("3.25;12", (3.25, 12)), ("3.25\t12", (3.25, 12)), ("3.25 , 0", (3.25, 0)),
])
def test_lines(line, parsed) -> None:
    assert parse_line(line) == parsed


@pytest.mark.parametrize("line", ["12.5", "-3", "1,2,3", "nan,4", "3.2,x", "0x10"])
def test_not_count_lines(line) -> None:
    with pytest.raises(ValueError):
        parse_line(line)


def test_comments_headers_and_encoding() -> None:
    assert is_comment("# probe log") and is_comment("t_s,counts") and is_comment("  ")
    assert not is_comment("12") and not is_comment("3.2,12")
    assert encode_line(7) == b"7\r\n" and encode_line(7, 1.5) == b"1.500,7\r\n"


def test_untimed_lines_use_the_configured_period() -> None:
    script = [(None, b"counts\r\n4\r\n5\n6\r")]
    with expected_protocol(AsciiCounterDevice, script, frame_period_s=0.5) as (device, _port):
        frames = frames_of(collect(device, frames=3))
    assert [(f.counts, f.t_s, f.real_s) for f in frames] == [
        ((4,), 0.5, 0.5), ((5,), 1.0, 0.5), ((6,), 1.5, 0.5)]
    assert device.stats.bad_frames == 0


def test_timestamps_are_the_devices_clock() -> None:
    script = [(None, b"# log\r\n10.0,3\r\n10.1,4\r\n10.3,5\r\n2.0,9\r\n2.1,1\r\n")]
    with expected_protocol(AsciiCounterDevice, script) as (device, _port):
        frames = frames_of(collect(device, frames=3))
    assert [f.counts for f in frames] == [(4,), (5,), (1,)]
    # After the reset (10.3 -> 2.0) t_s goes on from 10.3 (drivers/plausibility.py), flagged.
    assert [f.t_s for f in frames] == pytest.approx([10.1, 10.3, 10.4])
    assert [f.real_s for f in frames] == pytest.approx([0.1, 0.2, 0.1])
    assert [bool(f.flags & FaultFlag.CLOCK_RESET) for f in frames] == [False, False, True]
    extra = device.stats.extra
    assert extra["reference_lines"] == 1 and extra["clock_resets"] == 1  # 10.3 -> 2.0
    assert extra["time_rebases"] == 1


def test_garbage_partial_and_overlong_lines() -> None:
    script = [(None, b"2.1.5\r\n5\r\n\x00\xff\r\n12a\r\n" + b"9" * 300 + b"\r\n6\r\n")]
    with expected_protocol(AsciiCounterDevice, script) as (device, _port):
        events = collect(device, frames=2)
        collect(device, until=lambda _ev: device.stats.bad_frames == 3)
    assert [f.counts for f in frames_of(events)] == [(5,), (6,)]
    assert device.stats.extra["partial_first_line"] == 1  # "2.1.5": a fragment, not bad
    assert device.stats.extra["overlong_lines"] == 1


def test_recognise() -> None:
    assert AsciiCounterDevice.recognise(b"3\r\n4\r\n") is not None
    assert AsciiCounterDevice.recognise(b"34\r\n") is None  # the first line may be a fragment
    assert AsciiCounterDevice.recognise(b"x\r\nhello\r\n") is None
