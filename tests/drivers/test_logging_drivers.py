"""Driver logging: rejected frames are logged with their reasons, and a garbage stream, a lost
frame or a dead port cannot flood the log (drivers/ratelimit.py caps the lines per reason).

Devices are driven through their hooks (`on_data`) or fake ports; the rate limiter runs on a fake
clock, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import logging
import random
import time

import pytest
import serial

from probe_nav.drivers.ascii_counter.device import AsciiCounterDevice
from probe_nav.drivers.device import FrameEvent
from probe_nav.drivers.errors import DeviceNotFound
from probe_nav.drivers.probelink.codec import encode
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.drivers.probelink.messages import Count
from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.transport import SerialSettings

DEVICE_LOGGER = "probe_nav.drivers.device"
TRANSPORT_LOGGER = "probe_nav.drivers.transport"


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.t_s = 1000.0

    def __call__(self) -> float:
        return self.t_s


def frame(i: int, counts: int = 10) -> bytes:
    return encode(Count(i, 50_000 * (i + 1), 50_000, 49_500, (counts,), 0, i))


def messages(caplog: pytest.LogCaptureFixture, logger: str, text: str = "") -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger and text in r.getMessage()]


# ---------------------------------------------------------------- the rate limiter itself


def test_rate_limiter_logs_a_burst_then_one_summary_per_interval(caplog) -> None:
    clock = FakeClock()
    limiter = RateLimitedLog(logging.getLogger("t.rl"), burst=3, interval_s=60.0, clock=clock)
    caplog.set_level(logging.INFO, logger="t.rl")
    # 10 minutes of one event every 50 ms: 12 000 events
    for _ in range(12_000):
        limiter.log(logging.WARNING, "crc", "bad CRC on %s", "port")
        clock.t_s += 0.05
        limiter.flush()
    limiter.flush(force=True)
    lines = [r.getMessage() for r in caplog.records]
    full = [m for m in lines if m.startswith("bad CRC")]
    summaries = [m for m in lines if " more in " in m]
    assert len(full) == 3 and "summarised every 60 s" in full[-1]
    # one summary per 60 s of the 600 s (+ the forced final one at most)
    assert 10 <= len(summaries) <= 11
    held_back = sum(int(m.split(" ", 1)[0]) for m in summaries)
    assert held_back == 12_000 - 3  # nothing is lost from the count
    assert summaries[-1].endswith("(12000 in all), the last: bad CRC on port")
    assert all(r.levelno == logging.WARNING for r in caplog.records)


def test_rate_limiter_keys_are_independent_and_a_quiet_key_starts_afresh(caplog) -> None:
    clock = FakeClock()
    limiter = RateLimitedLog(logging.getLogger("t.rl2"), burst=2, interval_s=60.0, clock=clock)
    caplog.set_level(logging.INFO, logger="t.rl2")
    for _ in range(5):
        limiter.log(logging.WARNING, "a", "event a")
        limiter.log(logging.INFO, "b", "event b")
    assert [r.getMessage()[:7] for r in caplog.records] == ["event a", "event b"] * 2
    clock.t_s += 61.0
    assert limiter.flush() == 2  # one summary for each key: 3 held back
    assert sorted(r.getMessage()[:6] for r in caplog.records[-2:]) == ["3 more", "3 more"]
    caplog.clear()
    clock.t_s += 61.0  # a whole interval with nothing: the next event is news again
    limiter.log(logging.WARNING, "a", "event a")
    assert [r.getMessage() for r in caplog.records] == ["event a"]
    limiter.reset("b")
    limiter.log(logging.INFO, "b", "event b")
    assert caplog.records[-1].getMessage() == "event b"


# ---------------------------------------------------------------- rejected frames


@pytest.fixture
def probelink() -> ProbeLinkDevice:
    """A ProbeLink device fed by hand (no port), its log limiter on a fake clock."""
    device = ProbeLinkDevice("fake://probe")
    device.log_limiter.clock = FakeClock()
    device.on_connect()
    return device


def garbage_packets(n: int, seed: int = 13) -> list[bytes]:
    """n delimiter-terminated packets of random non-zero bytes: each one a rejected packet."""
    rng = random.Random(seed)
    return [bytes(rng.randrange(1, 256) for _ in range(rng.randrange(1, 40))) + b"\x00"
            for _ in range(n)]


def test_a_garbage_stream_logs_each_reason_a_few_times_then_counts(probelink, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="probe_nav.drivers")
    corrupted = bytearray(frame(1))
    corrupted[6] ^= 0x04
    stream = [frame(0)] + garbage_packets(400) + [bytes(corrupted)] * 100 + [b"\x01\x00"] * 50
    for chunk in stream:  # one read per packet: the worst case for a per-read log line
        probelink.on_data(chunk)
    stats = probelink.stats
    assert stats.frames == 1 and stats.bad_frames == 550
    reasons = {k: v for k, v in stats.extra.items() if v}
    assert {"crc_errors", "too_short"} <= set(reasons)
    burst = probelink.log_limiter.burst
    lines = messages(caplog, DEVICE_LOGGER, "rejected")
    assert len(lines) == burst * len(reasons) < 20  # 550 rejects, a handful of lines
    for reason in reasons:
        mine = [m for m in lines if f"rejected {reason} x" in m]
        assert len(mine) == burst and all(m.startswith("fake://probe") for m in mine)
    assert any("rejected crc_errors x1: CRC mismatch" in m for m in lines)
    assert any("rejected too_short x1: message of 0 bytes is too short" in m for m in lines)
    # a minute later the limiter owes one summary per reason, with the exact counts
    caplog.clear()
    probelink.log_limiter.clock.t_s += 61.0
    probelink.log_limiter.flush()
    summaries = messages(caplog, DEVICE_LOGGER)
    assert len(summaries) == len(reasons)
    for reason, n in reasons.items():
        (line,) = [m for m in summaries if f"rejected {reason} x" in m]
        assert line.startswith(f"{n - burst} more in 61 s ({n} in all), the last: ")


def test_a_sequence_gap_is_logged_with_the_frames_lost(probelink, caplog) -> None:
    caplog.set_level(logging.INFO, logger="probe_nav.drivers")
    probelink.on_data(frame(0) + frame(1) + frame(5))
    (line,) = messages(caplog, DEVICE_LOGGER, "lost")
    assert line == "fake://probe: 3 frame(s) lost before frame 5 (sequence gap)"
    assert probelink.stats.dropped_frames == 3


def test_rejected_text_lines_are_logged_with_the_line_and_why(caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="probe_nav.drivers")
    device = AsciiCounterDevice("fake://counter")
    device.on_connect()
    device.on_data(b"2.1.5\r\n5\r\n12a\r\n" + b"9" * 300 + b"\r\n")
    records = [r for r in caplog.records
               if r.name == DEVICE_LOGGER and "rejected" in r.getMessage()]
    by_reason = {r.getMessage().split("rejected ")[1].split(" x")[0]: r for r in records}
    # the first line may be a fragment of one sent before we listened: routine, DEBUG
    assert by_reason["partial_first_line"].levelno == logging.DEBUG
    assert "'2.1.5'" in by_reason["partial_first_line"].getMessage()
    assert by_reason["bad_lines"].levelno == logging.WARNING
    assert by_reason["bad_lines"].getMessage().endswith("'12a'")
    assert "no line end within 256 bytes" in by_reason["overlong_lines"].getMessage()


# ---------------------------------------------------------------- connects and reconnects


class FakePort:
    """A port that fails on its first read (`lost`), or plays `chunks` and then stays quiet."""

    def __init__(self, chunks: tuple[bytes, ...] = (), lost: bool = False) -> None:
        self.chunks = list(chunks)
        self.lost = lost
        self.in_waiting = 0

    def read(self, size: int = 1) -> bytes:
        if self.lost:
            raise serial.SerialException("device reports readiness to read but returned no "
                                         "data (device disconnected?)")
        if self.chunks:
            return self.chunks.pop(0)
        time.sleep(0.01)
        return b""

    def write(self, data: bytes) -> int:
        return len(data)

    def reset_input_buffer(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_disconnect_reconnect_attempts_and_success_are_logged_once_each(caplog) -> None:
    caplog.set_level(logging.INFO, logger="probe_nav.drivers")
    failures = 25
    calls: list[int] = []

    def opener(url: str, settings: SerialSettings) -> FakePort:
        calls.append(1)
        if len(calls) <= failures:
            raise DeviceNotFound(f"cannot open {url}: No such file or directory")
        return FakePort((frame(0) + frame(1),))

    device = ProbeLinkDevice("fake://probe")
    transport = device._transport
    transport._opener = opener
    transport.settings = SerialSettings(reconnect_interval_s=0.001)
    transport._reopen_log.clock = FakeClock()  # however long the retries take: one interval
    device.open(FakePort(lost=True))
    try:
        deadline = time.monotonic() + 20.0
        while not any(isinstance(e, FrameEvent) for e in device.poll(0.05)):
            assert time.monotonic() < deadline, "never reconnected"
    finally:
        device.close()
    transport_lines = messages(caplog, TRANSPORT_LOGGER)
    assert transport_lines[0] == "fake://probe: connected at 115200 baud"
    lost = [r for r in caplog.records if "connection lost" in r.getMessage()]
    assert len(lost) == 1 and lost[0].levelno == logging.WARNING
    assert "device disconnected (SerialException: device reports" in lost[0].getMessage()
    reopen = [m for m in transport_lines if "reopen failed" in m]
    assert len(reopen) == 2  # the first failure, and the summary of the rest on success
    assert "No such file or directory" in reopen[0]
    assert reopen[1].startswith(f"{failures - 1} more in 0 s ({failures} in all)")
    assert any(m.startswith(f"fake://probe: reconnected (connection 2) after {failures} failed")
               for m in transport_lines)
    links = messages(caplog, DEVICE_LOGGER, "link")
    assert any("-> DISCONNECTED: device disconnected" in m for m in links)
    assert any("DISCONNECTED -> CONNECTED: frames arriving" in m for m in links)
    closed = messages(caplog, DEVICE_LOGGER, "closed after")
    assert len(closed) == 1 and "1 reconnects" in closed[0]
