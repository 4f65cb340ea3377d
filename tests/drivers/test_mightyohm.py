"""MightyOhm Geiger kit: its report lines, its averaging arithmetic, and the device class.

Format and arithmetic: the kit's firmware 1.00 (J. Keyzer, mightyohm.com/geiger, GPLv3):
`CPS, n, CPM, n, uSv/hr, x.xx, SLOW|FAST|INST` CR LF, uSv/hr = CPM x 57 / 10000 truncated.
Real lines as logged from kits and quoted in users' logging scripts, e.g.
`b'CPS, 0, CPM, 13, uSv/hr, 0.07, SLOW\\r\\n'` (an FT232R cable at 9600 baud).
"""

from __future__ import annotations

import pytest

from probe_nav.drivers.device import InfoEvent
from probe_nav.drivers.mightyohm.codec import (
    CpmAverager,
    banner_version,
    encode_line,
    format_usv,
    parse_line,
)
from probe_nav.drivers.mightyohm.device import MightyOhmDevice
from tests.drivers.expected_protocol import collect, expected_protocol, frames_of

REAL_LINES = [  # (line, cps, cpm, uSv/hr)
    ("CPS, 0, CPM, 13, uSv/hr, 0.07, SLOW", 0, 13, 0.07),
    ("CPS, 0, CPM, 16, uSv/hr, 0.09, SLOW", 0, 16, 0.09),
    ("CPS, 1, CPM, 21, uSv/hr, 0.11, SLOW", 1, 21, 0.11),
]


@pytest.mark.parametrize(("line", "cps", "cpm", "usv"), REAL_LINES)
def test_real_lines_parse_and_their_dose_is_the_firmware_arithmetic(line, cps, cpm, usv) -> None:
    report = parse_line(line)
    assert (report.cps, report.cpm, report.usv_per_h, report.mode) == (cps, cpm, usv, "SLOW")
    assert format_usv(cpm) == line.split(", ")[5]
    assert encode_line(cps, cpm, "SLOW") == line.encode() + b"\r\n"


@pytest.mark.parametrize("line", ["", "CPS, 1, CPM, 21", "CPS, x, CPM, 21, uSv/hr, 0.11, SLOW",
                                  "CPS, 1, CPM, 21, uSv/hr, 0.11, SLOWLY", "5, uSv/hr, 0.07, SLOW",
                                  "CPS, 70000, CPM, 21, uSv/hr, 0.11, INST"])
def test_not_report_lines(line) -> None:
    with pytest.raises(ValueError):
        parse_line(line)


def test_banner() -> None:
    assert banner_version("mightyohm.com Geiger Counter 1.00") == "1.00"
    assert banner_version("mightyohm.com Geiger Counter") == ""
    assert banner_version("CPS, 1, CPM, 21, uSv/hr, 0.11, SLOW") is None


def test_averager_slow_fast_and_inst_modes() -> None:
    avg = CpmAverager()
    first = avg.tick(13)
    assert (first.cps, first.cpm, first.mode) == (13, 13, "SLOW")  # the 60 s sum so far
    for _ in range(4):
        report = avg.tick(10)
    assert (report.cpm, report.mode) == (13 + 4 * 10, "SLOW")  # last 5 s x 12 = 636 <= 1000
    report = avg.tick(90)  # last five: 10, 10, 10, 10, 90 -> 130 x 12 = 1560 > 1000
    assert (report.cpm, report.mode) == (1560, "FAST")
    report = avg.tick(300)  # more than the 8-bit buffer holds
    assert (report.cps, report.cpm, report.mode) == (300, 18000, "INST")
    assert report.usv_per_h == pytest.approx(102.60)


def test_device_frames_from_report_lines() -> None:
    stream = (b"mightyohm.com Geiger Counter 1.00\r\nhttp://mightyohm.com/geiger\r\n"
              + b"".join(line.encode() + b"\r\n" for line, *_ in REAL_LINES)
              + b"CPS, 65535, CPM, 3932100, uSv/hr, 22412.97, INST\r\n")
    with expected_protocol(MightyOhmDevice, [(None, stream)]) as (device, _port):
        events = collect(device, frames=3)
        collect(device, until=lambda _ev: device.stats.bad_frames == 1)
    frames = frames_of(events)
    assert [f.counts for f in frames] == [(0,), (0,), (1,)]
    assert [f.t_s for f in frames] == [1.0, 2.0, 3.0]
    assert all(f.real_s == f.live_s == 1.0 for f in frames)
    # The firmware's capped 65535 CPS is more than its GM tube can count (1/50 us, counters.py):
    # the plausibility gate rejects it (a garbled line, not a reading).
    assert device.stats.extra["implausible"] == 1
    infos = [e.info for e in events if isinstance(e, InfoEvent)]
    assert infos[-1].firmware == "1.00" and infos[-1].protocol == "mightyohm"


def test_connecting_mid_line_and_garbage() -> None:
    stream = (b"5, uSv/hr, 0.07, SLOW\r\n"  # the tail of a line we connected into
              b"CPS, 2, CPM, 14, uSv/hr, 0.07, SLOW\r\n"
              b"CPS, 2, C\x00\xff\xfe garbage\r\n"
              + b"x" * 200 + b"\r\n"  # longer than any report line
              b"CPS, 3, CPM, 17, uSv/hr, 0.09, SLOW\r\n")
    with expected_protocol(MightyOhmDevice, [(None, stream)]) as (device, _port):
        events = collect(device, frames=2)
        collect(device, until=lambda _ev: device.stats.bad_frames == 2)
    assert [f.counts for f in frames_of(events)] == [(2,), (3,)]
    extra = device.stats.extra
    assert extra["partial_first_line"] == 1 and extra["bad_lines"] == 1
    assert extra["overlong_lines"] == 1


def test_the_kit_is_never_written_to() -> None:
    with expected_protocol(MightyOhmDevice, [(None, b"CPS, 2, CPM, 14, uSv/hr, 0.07, SLOW\r\n")]
                           ) as (device, port):
        collect(device, frames=1)
    assert port.written == []
    assert device.settings.baudrate == 9600


def test_recognise_needs_a_whole_report_line() -> None:
    assert MightyOhmDevice.recognise(b"LOW\r\nCPS, 2, CPM, 14, uSv/hr, 0.07, SLOW\r\n") is not None
    assert MightyOhmDevice.recognise(b"CPS, 2, CPM, 14, uSv/hr, 0.") is None
    assert MightyOhmDevice.recognise(b"12\r\n13\r\n") is None
