"""GQ GMC counter emulators (GQ-RFC1201 GMC-300/320, GQ-RFC1801 GMC-500/600), byte for byte.

The counter counts in 1 s ticks of its own clock from power-on, whatever the host does; with the
heartbeat on it sends each tick's count as one big-endian word (2 bytes with the reserved top bits
set on every other word on RFC1201, 4 bytes on RFC1801). Replies are raw bytes with no framing,
sent at once. It reports the scenario's window-0 counts (the simulator models the probe's
detector, not a GM tube), so every protocol shows the same numbers for the same seed. Identity
strings and serial numbers are those recorded from real counters in pygmc's
test fixtures (github.com/Wikilicious/pygmc, tests/data). Commands that would write the counter
(configuration, date, keys, power) are answered as the firmware does but also recorded in
`writes`, so tests can prove a host never sends them. Unknown commands get no answer.
"""

from __future__ import annotations

from collections import deque
from typing import ClassVar

from probe_nav.drivers.gmc.codec import GmcCodec, Rfc1201, Rfc1801, encode_voltage
from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.engine import Simulation

_MAX_COMMAND_BYTES = 64
_WRITE_PREFIXES = (b"WCFG", b"ECFG", b"SET", b"KEY", b"POWER", b"REBOOT", b"FACTORYRESET",
                   b"CFGUPDATE", b"SPEAKER", b"ALARM", b"WiFi", b"Echo", b"AT")
_ACK = b"\xaa"


class GmcEmulator(Emulator):
    """A GQ GMC counter on its USB serial bridge."""

    protocol: ClassVar[str] = "gmc"
    codec: ClassVar[type[GmcCodec]] = Rfc1201
    version: ClassVar[bytes] = b"GMC-320Re 4.26"
    serial_number: ClassVar[bytes] = bytes.fromhex("f48800671c42c2")
    battery_v: ClassVar[float] = 4.2

    def __init__(self, simulation: Simulation, heartbeat: bool = False) -> None:
        super().__init__(simulation)
        self.heartbeat = heartbeat  # a counter left streaming by a previous program
        self.commands: list[bytes] = []  # every command received, in order
        self.writes: list[bytes] = []  # commands that would change the counter's state
        self._rx = bytearray()
        self._last_minute: deque[int] = deque(maxlen=60)
        self._ticks = 0

    @property
    def period_s(self) -> float:
        """One tick a second, whatever the scenario's frame period."""
        return 1.0

    @property
    def cpm(self) -> int:
        """Counts of the last 60 ticks, as <GETCPM>> reports them."""
        return sum(self._last_minute)

    def receive(self, data: bytes) -> bytes:
        self._rx += data
        out = bytearray()
        while True:
            start = self._rx.find(b"<")
            if start < 0:
                self._rx.clear()
                break
            end = self._rx.find(b">>", start + 1)
            if end < 0:
                del self._rx[:start]
                if len(self._rx) > _MAX_COMMAND_BYTES:
                    self._rx.clear()
                break
            name = bytes(self._rx[start + 1 : end])
            del self._rx[: end + 2]
            self.commands.append(name)
            out += self._answer(name)
        return bytes(out)

    def _answer(self, name: bytes) -> bytes:
        codec = self.codec
        if name == b"GETVER":
            return self.version
        if name == b"GETSERIAL":
            return self.serial_number
        if name == b"GETCPM":
            return codec.encode_cpm(self.cpm)
        if name == b"GETCPS" and codec is Rfc1801:
            return codec.encode_cpm(self._last_minute[-1] if self._last_minute else 0)
        if name == b"GETVOLT":
            return encode_voltage(self.battery_v, codec.ascii_voltage)
        if name == b"HEARTBEAT1":
            self.heartbeat = True
            return b""
        if name == b"HEARTBEAT0":
            self.heartbeat = False
            return b""
        if name.startswith(_WRITE_PREFIXES):
            self.writes.append(name)
            return b"" if name.startswith((b"KEY", b"POWER", b"REBOOT")) else _ACK
        return b""

    def advance(self, device_t_s: float) -> bytes:
        out = bytearray()
        while self.sim.t_s + 1.0 <= device_t_s + 1e-9:
            frame = self.sim.step(1.0)
            counts = frame.counts[0]
            self._last_minute.append(counts)
            self._ticks += 1
            if self.heartbeat:
                out += self.codec.encode_cps(counts, reserved_bits=self._ticks % 2)
            self.record(frame, sent=self.heartbeat)
        return bytes(out)


class Gmc300Emulator(GmcEmulator):
    """GMC-300S (RFC1201, a 15-byte version string)."""

    protocol = "gmc-300"
    version = b"GMC-300SRe 1.14"
    serial_number = bytes.fromhex("f7f4c578139d08")


class Gmc320Emulator(GmcEmulator):
    """GMC-320 (RFC1201)."""

    protocol = "gmc-320"


class Gmc500Emulator(GmcEmulator):
    """GMC-500+ (RFC1801)."""

    protocol = "gmc-500"
    codec = Rfc1801
    version = b"GMC-500+Re 2.22"
    serial_number = b"00!W!W\xf6"
    battery_v = 4.0


class Gmc600Emulator(Gmc500Emulator):
    """GMC-600+ (RFC1801)."""

    protocol = "gmc-600"
    version = b"GMC-600+Re 2.52"
