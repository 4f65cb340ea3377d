"""The fuzz targets of tests/drivers/fuzzing.py: every protocol, connected and making valid frames.

Valid frames are built with each protocol's own encoder; queries are answered by its emulator.
Counts are drawn well inside every counter's range (the fuzz is about bytes, not rates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from probe_nav.drivers.ascii_counter.codec import encode_line as ascii_line
from probe_nav.drivers.gmc.codec import HEARTBEAT_ON, GmcCodec, Rfc1201, Rfc1801
from probe_nav.drivers.mightyohm.codec import encode_line as mightyohm_line
from probe_nav.drivers.ogd.codec import (
    DEFAULT_CALIBRATION,
    DEFAULT_WINDOWS,
    N_CHANNELS,
    WindowMap,
    encode_values,
    histogram,
)
from probe_nav.drivers.probelink.codec import DELIMITER, encode
from probe_nav.drivers.probelink.messages import Count
from tests.drivers.fuzzing import Target, make_emulator

HUGE_NUMBERS = ("999999999999", "1000000000000", "10000000000000000000000000", "9" * 40, "9" * 400,
                "18446744073709551616", "9223372036854775808")


class ProbeLinkTarget(Target):
    """ProbeLink: COBS packets with a CRC; negotiated with the emulator as a real host would."""

    protocol = "probelink"

    def make_emulator(self) -> object:
        return make_emulator("probelink")

    def handshake(self) -> None:
        self.pump(steps=40)  # HELLO, ACK, INFO, START_STREAM (and v1 fallbacks if any)
        assert self.device.info is not None, "the ProbeLink handshake did not complete"
        self.frame_seq = 0
        self.t_us = 10_000_000
        self.real_us = round(self.period_s * 1e6)

    def _count(self, counts: tuple[int, ...], real_us: int | None = None,
               live_us: int | None = None, t_end_us: int | None = None) -> bytes:
        self.frame_seq += 1
        self.t_us += self.real_us
        version = getattr(self.device, "version", None) or 1
        real = self.real_us if real_us is None else real_us
        msg = Count(frame_seq=self.frame_seq, t_end_us=self.t_us if t_end_us is None else t_end_us,
                    real_us=real, live_us=real - 50 if live_us is None else live_us,
                    counts=counts, version=version)
        return DELIMITER + encode(msg)

    def valid(self) -> tuple[bytes, tuple[int, ...]]:
        counts = (self.rng.randint(0, 400), self.rng.randint(0, 900))
        return self._count(counts), counts

    def expected_real_s(self) -> float:
        return self.real_us * 1e-6

    def oversize(self) -> bytes:
        big = (1 << 32) - 1
        choice = self.rng.randrange(5)
        if choice == 0:  # a packet longer than any message, then its delimiter
            return DELIMITER + bytes(self.rng.randint(1, 255) for _ in range(1500)) + DELIMITER
        if choice == 1:  # CRC-valid, counts beyond any probe
            return self._count((big, self.rng.randint(0, big)))
        if choice == 2:  # CRC-valid, live time above real time / zero real time
            return self._count((5, 5), real_us=self.rng.choice((0, 50_000)), live_us=10**9)
        if choice == 3:  # CRC-valid, a clock 10^4 years ahead, without CLOCK_RESET
            return self._count((5, 5), t_end_us=(1 << 64) - 1 - self.rng.randrange(10**9))
        return self._count((5, 5), real_us=big)  # CRC-valid, an interval of 71 minutes


class GmcTarget(Target):
    """GQ GMC: unframed big-endian heartbeat words, one a second."""

    codec: type[GmcCodec] = Rfc1201
    device_kwargs: ClassVar[dict[str, object]] = {
        "settle_s": 0.05, "reply_timeout_s": 0.3, "retry_s": 60.0}

    def make_emulator(self) -> object:
        return make_emulator(self.protocol)

    def _host_wrote(self, data: bytes) -> bool:
        super()._host_wrote(data)
        if data == HEARTBEAT_ON:
            self.streaming = True
        return True

    def handshake(self) -> None:
        self.streaming = False
        for _ in range(100):
            if self.streaming:
                return
            self.pump()
        raise AssertionError("the GMC handshake did not complete")

    def valid(self) -> tuple[bytes, tuple[int, ...]]:
        count = self.rng.randint(0, 3000)
        return self.codec.encode_cps(count, reserved_bits=self.rng.randrange(4)), (count,)

    def oversize(self) -> bytes:
        n = self.codec.value_bytes
        ones = bytes([0xFF] * n * self.rng.randint(1, 8))
        return ones + self.rng.randbytes(self.rng.randint(1, 7))


def gmc_target(name: str, codec: type[GmcCodec]) -> type[GmcTarget]:
    return type(f"Gmc{name}Target", (GmcTarget,), {"protocol": name, "codec": codec})


class LineTarget(Target):
    """Text protocols: oversize lines and numbers far beyond any counter."""

    def oversize(self) -> bytes:
        limit = type(self.device).max_line_bytes  # type: ignore[attr-defined]
        if self.rng.randrange(2):
            n = self.rng.randint(limit + 1, 2 * limit)
            return bytes(self.rng.choice(b"0123456789;, .") for _ in range(n)) + b"\r\n"
        return self.huge_line(self.rng.choice(HUGE_NUMBERS)) + b"\r\n"

    def huge_line(self, number: str) -> bytes:
        raise NotImplementedError


class MightyOhmTarget(LineTarget):
    protocol = "mightyohm"

    def valid(self) -> tuple[bytes, tuple[int, ...]]:
        cps = self.rng.randint(0, 300)
        return mightyohm_line(cps, cps * 60, "INST" if cps > 255 else "SLOW"), (cps,)

    def huge_line(self, number: str) -> bytes:
        return f"CPS, {number}, CPM, {number}, uSv/hr, {number}.00, INST".encode()


class AsciiTarget(LineTarget):
    """A plain ASCII counter printing `T,COUNT`. Lag 3. The first good line's interval is measured
    from the last line that parsed, which may be a garbled one (a bit error turns 6655 into 6635 or
    6675) or one before a lost line: the gate rejects it when that interval cannot be (it overlaps
    the previous frame, or is longer than the host time allows). And a garbled timestamp far ahead
    that the driver flagged CLOCK_RESET (after an earlier garbled one went back) is taken by the
    gate as a new time base; the good lines after it are then out of line with the gate's time
    until it takes them as a new time base at the REBASE_AFTER (3)-th (seed 14: once in 10^6
    bit-flipped bytes). See docs/safety.md, "Plausibility gate and fuzzing", for what remains."""

    protocol = "ascii"
    lag = 3

    def __init__(self, seed: int) -> None:
        self.t_s = 100.0
        super().__init__(seed)

    def valid(self) -> tuple[bytes, tuple[int, ...]]:
        count = self.rng.randint(0, 5000)
        self.t_s += 1.0
        return ascii_line(count, self.t_s), (count,)

    def huge_line(self, number: str) -> bytes:
        return self.rng.choice((f"5.000,{number}", f"{number}.000,{number}", f"{number}",
                                "1e400,5", "nan,5", "-5.0,5", f"{self.t_s:.3f},-5")).encode()


class AsciiUntimedTarget(AsciiTarget):
    """A plain ASCII counter printing `COUNT` once a period."""

    lag = 0

    def valid(self) -> tuple[bytes, tuple[int, ...]]:
        count = self.rng.randint(0, 5000)
        return ascii_line(count), (count,)


class OgdTarget(LineTarget):
    """Open Gamma Detector in auto mode (it answers no query), printing cumulative spectra (lag
    1: after a lost line the first good one only sets the new zero)."""

    protocol = "ogd"
    lag = 1

    def __init__(self, seed: int) -> None:
        self.cumulative = [0] * N_CHANNELS
        self.windows = WindowMap(DEFAULT_CALIBRATION, DEFAULT_WINDOWS)
        super().__init__(seed)

    def valid(self) -> tuple[bytes, tuple[int, ...]]:
        delta = [0] * N_CHANNELS
        for _ in range(self.rng.randint(0, 300)):
            delta[self.rng.randrange(N_CHANNELS)] += 1
        self.cumulative = [a + b for a, b in zip(self.cumulative, delta, strict=True)]
        return encode_values(self.cumulative), self.windows.counts(delta)

    def huge_line(self, number: str) -> bytes:
        values = [str(v) for v in self.cumulative]
        values[self.rng.randrange(N_CHANNELS)] = number
        return "".join(f"{v};" for v in values).encode()


class OgdEventsTarget(OgdTarget):
    """Open Gamma Detector in events mode: the ADC value of each pulse."""

    device_kwargs: ClassVar[dict[str, object]] = {"mode": "events"}
    lag = 0
    real_lag = 1  # a silence is seconds without pulses: the first line after it stands for them

    def valid(self) -> tuple[bytes, tuple[int, ...]]:
        events = [self.rng.randrange(N_CHANNELS) for _ in range(self.rng.randint(1, 300))]
        return encode_values(events), self.windows.counts(histogram(events))

    def huge_line(self, number: str) -> bytes:
        return f"187;{number};500;".encode()


TARGETS: dict[str, Callable[[int], Target]] = {
    "probelink": ProbeLinkTarget,
    "gmc": gmc_target("gmc", Rfc1201),  # the gmc emulator is a GMC-320: RFC1201 words
    "gmc-300": gmc_target("gmc-300", Rfc1201),
    "gmc-320": gmc_target("gmc-320", Rfc1201),
    "gmc-500": gmc_target("gmc-500", Rfc1801),
    "gmc-600": gmc_target("gmc-600", Rfc1801),
    "mightyohm": MightyOhmTarget,
    "ogd": OgdTarget,
    "ogd-events": OgdEventsTarget,
    "ascii": AsciiTarget,
    "ascii-untimed": AsciiUntimedTarget,
}
