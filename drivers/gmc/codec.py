"""GQ GMC serial protocol (GQ-RFC1201 for GMC-280/300/320/SE, GQ-RFC1801 for GMC-500/600): pure.

Commands are ASCII `<NAME>>`; replies are raw bytes without any framing, so the reply length must
be known in advance (exact sizes below) or ended by silence (`<GETVER>>`). Every value is
big-endian. One codec class per protocol revision, as in pygmc; the device classes choose one.

Only read-only commands can be built here (`command()` refuses anything else): probe-nav never
writes a counter's configuration, date or Wi-Fi settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

READ_ONLY_COMMANDS = frozenset({
    "GETVER", "GETSERIAL", "GETVOLT", "GETCPM", "GETCPS", "GETMAXCPS", "GETCPMH", "GETCPML",
    "GETTEMP", "GETGYRO", "GETDATETIME", "GETCFG", "HEARTBEAT0", "HEARTBEAT1",
})
SERIAL_BYTES = 7  # <GETSERIAL>> answers 7 raw bytes on every model
VERSION_MIN_BYTES = 7  # "GMC-300Re 2.10" is 14 bytes on RFC1201; others vary ("GMC-300SRe 1.14")
VERSION_MAX_BYTES = 64


class GmcError(ValueError):
    """A reply that does not make sense for a GQ GMC counter."""


def command(name: str) -> bytes:
    """The bytes of a read-only command, e.g. `command("GETVER") == b"<GETVER>>"`."""
    if name not in READ_ONLY_COMMANDS:
        raise ValueError(f"{name!r} is not a read-only GMC command; probe-nav never sends it")
    return b"<" + name.encode("ascii") + b">>"


HEARTBEAT_ON = command("HEARTBEAT1")
HEARTBEAT_OFF = command("HEARTBEAT0")
GETVER = command("GETVER")
GETSERIAL = command("GETSERIAL")
GETVOLT = command("GETVOLT")
GETCPM = command("GETCPM")


@dataclass(frozen=True, slots=True)
class GmcVersion:
    """The `<GETVER>>` answer split into model and firmware revision."""

    model: str
    firmware: str
    raw: str


_VERSION = re.compile(r"(GMC[- ]?[^ ]*?) ?Re ?([0-9][0-9A-Za-z.]*)")


def parse_version(reply: bytes) -> GmcVersion:
    """Parse e.g. b"GMC-320Re 4.26" -> model 'GMC-320', firmware '4.26'; GmcError otherwise.

    Leading bytes before "GMC" (a heartbeat word still in flight) and trailing NULs are ignored.
    """
    start = reply.find(b"GMC")
    if start < 0:
        raise GmcError(f"not a GQ GMC version string: {reply[:32]!r}")
    text = reply[start:].rstrip(b"\x00\r\n ").decode("ascii", errors="replace")
    match = _VERSION.match(text)
    if match is None:
        raise GmcError(f"not a GQ GMC version string: {text!r}")
    return GmcVersion(model=match.group(1), firmware=match.group(2), raw=text)


def decode_serial(reply: bytes) -> str:
    """The 7 serial-number bytes as hex, as GQ's own software shows them."""
    if len(reply) != SERIAL_BYTES:
        raise GmcError(f"serial number of {len(reply)} bytes, expected {SERIAL_BYTES}")
    return reply.hex()


def decode_voltage_v(reply: bytes) -> float:
    """Battery voltage: one byte in tenths of a volt (RFC1201, b"*" = 4.2 V) or ASCII "4.0v\\0"."""
    if len(reply) == 1:
        return reply[0] / 10.0
    match = re.match(rb"\s*([0-9]{1,3}(?:\.[0-9]{0,3})?)\s*[vV]?", reply)  # bounded: no 1e400
    if match is None:
        raise GmcError(f"unreadable battery voltage {reply!r}")
    return float(match.group(1))


def encode_voltage(volts: float, ascii_reply: bool) -> bytes:
    """The `<GETVOLT>>` answer for `volts` (for emulators)."""
    if ascii_reply:
        return f"{volts:.1f}v".encode("ascii") + b"\x00"
    return bytes([max(0, min(255, round(volts * 10)))])


class GmcCodec:
    """Value sizes and quirks of one protocol revision."""

    name: ClassVar[str] = ""
    value_bytes: ClassVar[int] = 2
    cps_mask: ClassVar[int] = 0xFFFF
    ascii_voltage: ClassVar[bool] = False

    @classmethod
    def cps_max(cls) -> int:
        """The largest count a heartbeat word can carry; reaching it means saturated."""
        return cls.cps_mask

    @classmethod
    def decode_cps(cls, word: bytes) -> int:
        """One heartbeat word -> counts in that second."""
        if len(word) != cls.value_bytes:
            raise GmcError(f"{cls.name} heartbeat words are {cls.value_bytes} bytes, got {word!r}")
        return int.from_bytes(word, "big") & cls.cps_mask

    @classmethod
    def decode_cpm(cls, reply: bytes) -> int:
        """The `<GETCPM>>` answer -> counts per minute."""
        if len(reply) != cls.value_bytes:
            raise GmcError(f"{cls.name} CPM is {cls.value_bytes} bytes, got {reply!r}")
        return int.from_bytes(reply, "big")

    @classmethod
    def encode_cps(cls, counts: int, reserved_bits: int = 0) -> bytes:
        """A heartbeat word for `counts` (saturating), for emulators."""
        return min(counts, cls.cps_max()).to_bytes(cls.value_bytes, "big")

    @classmethod
    def encode_cpm(cls, cpm: int) -> bytes:
        """The `<GETCPM>>` answer for `cpm` (saturating), for emulators."""
        return min(cpm, (1 << (8 * cls.value_bytes)) - 1).to_bytes(cls.value_bytes, "big")


class Rfc1201(GmcCodec):
    """GQ-RFC1201: 2-byte values; heartbeat CPS valid in the low 14 bits only (bits 14-15 are
    reserved and some firmware sets them, so they must be masked); 1-byte voltage."""

    name = "RFC1201"
    value_bytes = 2
    cps_mask = 0x3FFF

    @classmethod
    def encode_cps(cls, counts: int, reserved_bits: int = 0) -> bytes:
        word = ((reserved_bits & 0b11) << 14) | min(counts, cls.cps_max())
        return word.to_bytes(2, "big")


class Rfc1801(GmcCodec):
    """GQ-RFC1801: 4-byte values everywhere; ASCII voltage ("4.0v\\0")."""

    name = "RFC1801"
    value_bytes = 4
    cps_mask = 0xFFFFFFFF
    ascii_voltage = True


_RFC1201_MODELS = re.compile(r"GMC-(280|300|320)|GMC-?SE")
_RFC1801_MODELS = re.compile(r"GMC-(500|600|800)")


def codec_for_model(model: str) -> type[GmcCodec] | None:
    """The protocol revision a model speaks, None for a model we do not know.

    GMC-800 is documented as RFC1201 but answers with 4-byte values (pygmc's "spec404"), so its
    counts are read the RFC1801 way.
    """
    if _RFC1201_MODELS.match(model):
        return Rfc1201
    if _RFC1801_MODELS.match(model):
        return Rfc1801
    return None


class HeartbeatDecoder:
    """Cuts the heartbeat stream into fixed-size words; a word left incomplete for `gap_s` is a
    short read (device switched off mid-word, lost byte) and is dropped so framing recovers."""

    def __init__(self, word_bytes: int, gap_s: float = 0.1) -> None:
        self.word_bytes = word_bytes
        self.gap_s = gap_s
        self._buf = bytearray()
        self._last_rx_s = 0.0
        self.dropped_bytes = 0

    def reset(self, word_bytes: int | None = None) -> None:
        """Forget a partial word (and change the word size)."""
        self._buf.clear()
        if word_bytes is not None:
            self.word_bytes = word_bytes

    def feed(self, data: bytes, now_s: float) -> list[bytes]:
        """Bytes received at host time `now_s` -> complete words."""
        self.expire(now_s)
        if data:
            self._last_rx_s = now_s
        self._buf += data
        n = len(self._buf) - len(self._buf) % self.word_bytes
        words = [bytes(self._buf[i : i + self.word_bytes]) for i in range(0, n, self.word_bytes)]
        del self._buf[:n]
        return words

    def expire(self, now_s: float) -> int:
        """Drop a partial word older than `gap_s`; returns the bytes dropped."""
        if self._buf and now_s - self._last_rx_s > self.gap_s:
            dropped = len(self._buf)
            self.dropped_bytes += dropped
            self._buf.clear()
            return dropped
        return 0
