"""ProbeLink framing: message <-> bytes for each major version, and a stream decoder that
resynchronises and accepts only the versions it is told to.

Wire format of one message: COBS(header || payload || check) followed by a single 0x00.
Header: version u8, type u8, seq u16 LE. The check covers header || payload and depends on the
version: v1 CRC-16/CCITT-FALSE (2 bytes LE), v2 CRC-32C (4 bytes LE). Payload layouts are in
payloads.py; see docs/protocol-probelink.md for every field.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from typing import Any

from probe_nav.drivers.cobs import CobsError, cobs_decode, cobs_encode
from probe_nav.drivers.crc import crc16_ccitt, crc32c
from probe_nav.drivers.framing import DelimitedBuffer
from probe_nav.drivers.probelink.messages import (
    SUPPORTED_VERSIONS,
    VERSION_1,
    VERSION_2,
    Cmd,
    Command,
    DecoderStats,
    Message,
)
from probe_nav.drivers.probelink.payloads import DECODERS, ENCODERS, ProbeLinkError

__all__ = [
    "CHECKS", "DELIMITER", "HEADER", "MAX_MESSAGE_BYTES", "MAX_PACKET_BYTES", "ProbeLinkError",
    "StreamDecoder", "command", "command_args", "decode", "decode_message", "encode",
    "encode_message",
]

HEADER = struct.Struct("<BBH")
MAX_MESSAGE_BYTES = 1100  # header + payload + check, before COBS
MAX_PACKET_BYTES = MAX_MESSAGE_BYTES + MAX_MESSAGE_BYTES // 254 + 2  # COBS-encoded, no delimiter
DELIMITER = b"\x00"

# major version -> (check size in bytes, check function over header || payload)
CHECKS: dict[int, tuple[int, Callable[[bytes], int]]] = {
    VERSION_1: (2, crc16_ccitt),
    VERSION_2: (4, crc32c),
}


# ---------------------------------------------------------------- whole messages


def encode_message(msg: Message) -> bytes:
    """The raw message (header, payload, check) before COBS, in major version `msg.version`;
    `msg.seq` goes in the header."""
    if msg.version not in CHECKS:
        raise ValueError(f"ProbeLink has no major version {msg.version}")
    size, check = CHECKS[msg.version]
    msg_type, encoder = ENCODERS[type(msg)]
    body = HEADER.pack(msg.version, msg_type, msg.seq & 0xFFFF) + encoder(msg)
    if len(body) + size > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {len(body) + size} bytes exceeds {MAX_MESSAGE_BYTES}")
    return body + check(body).to_bytes(size, "little")


def encode(msg: Message) -> bytes:
    """The bytes on the wire for `msg`: COBS-encoded message and the 0x00 delimiter."""
    return cobs_encode(encode_message(msg)) + DELIMITER


def decode_message(raw: bytes, accept: Iterable[int] = SUPPORTED_VERSIONS) -> Message:
    """Decode a raw message (after COBS); ProbeLinkError says what is wrong with it.

    The first byte names the major version and so the check to verify; a message whose check
    holds but whose version is not in `accept` is refused as `other_version` (a host that has
    negotiated v2 never takes a v1 message: its CRC-16 is the weaker check).
    """
    if len(raw) < HEADER.size + min(size for size, _ in CHECKS.values()):
        raise ProbeLinkError("too_short", f"message of {len(raw)} bytes is too short")
    version = raw[0]
    if version not in CHECKS:
        # Nothing can verify it. It is another protocol version only if a check we know holds
        # (a later version may keep one); otherwise it is just as likely noise.
        if any(_check_holds(raw, size, check) for size, check in CHECKS.values()):
            raise ProbeLinkError("bad_version", f"protocol version {version} is not supported")
        raise ProbeLinkError("crc_errors", f"CRC mismatch (unknown version {version})")
    size, check = CHECKS[version]
    if len(raw) < HEADER.size + size:
        raise ProbeLinkError("too_short", f"message of {len(raw)} bytes is too short")
    if not _check_holds(raw, size, check):
        raise ProbeLinkError("crc_errors", f"CRC mismatch (v{version} check)")
    if version not in accept:
        raise ProbeLinkError("other_version", f"a valid v{version} message where only "
                             f"v{'/v'.join(map(str, sorted(accept)))} is accepted")
    _, msg_type, seq = HEADER.unpack_from(raw)
    decoder = DECODERS.get(msg_type)
    if decoder is None:
        raise ProbeLinkError("unknown_type", f"unknown message type 0x{msg_type:02x}")
    return decoder(raw[HEADER.size : -size], seq, version)


def _check_holds(raw: bytes, size: int, check: Callable[[bytes], int]) -> bool:
    """Whether the last `size` bytes of `raw` are the check of the bytes before them."""
    return check(raw[:-size]) == int.from_bytes(raw[-size:], "little")


def decode(packet: bytes, accept: Iterable[int] = SUPPORTED_VERSIONS) -> Message:
    """Decode one wire packet (COBS bytes, with or without the trailing delimiter)."""
    if packet.endswith(DELIMITER):
        packet = packet[:-1]
    try:
        raw = cobs_decode(packet)
    except CobsError as exc:
        raise ProbeLinkError("cobs_errors", str(exc)) from exc
    return decode_message(raw, accept)


class StreamDecoder:
    """Turns an arbitrary byte stream into messages; bad packets are counted and skipped.

    Resynchronisation is by construction: every 0x00 ends a packet, so after garbage the next
    delimiter starts a clean packet. A run longer than MAX_PACKET_BYTES without a delimiter is
    discarded up to the next delimiter and counted as oversize. `accept` is the set of major
    versions taken now (a host narrows it to the negotiated one); valid messages of other known
    versions are counted as `other_version`.
    """

    def __init__(self, accept: Iterable[int] = SUPPORTED_VERSIONS) -> None:
        self.accept: frozenset[int] = frozenset(accept)
        self.stats = DecoderStats()
        self.last_errors: dict[str, str] = {}  # DecoderStats counter -> what its last reject was
        self._packets = DelimitedBuffer(
            MAX_PACKET_BYTES, lambda data, start: data.find(0, start), self._skipped
        )

    def _skipped(self, n: int) -> None:
        self.stats.skipped_bytes += n

    def feed(self, data: bytes) -> list[Message]:
        """Consume `data`; return the complete messages it finished, in order."""
        out: list[Message] = []
        for packet in self._packets.split(data):
            if packet is None:
                self.stats.oversize += 1
                self.last_errors["oversize"] = f"no delimiter within {MAX_PACKET_BYTES} bytes"
            elif packet:  # back-to-back delimiters are idle fill, not errors
                msg = self._decode(packet)
                if msg is not None:
                    out.append(msg)
        return out

    def _decode(self, packet: bytes) -> Message | None:
        try:
            msg = decode(packet, self.accept)
        except ProbeLinkError as exc:
            setattr(self.stats, exc.kind, getattr(self.stats, exc.kind) + 1)
            self.last_errors[exc.kind] = str(exc)
            self.stats.skipped_bytes += len(packet) + 1
            return None
        self.stats.messages += 1
        kind = type(msg).__name__
        self.stats.by_kind[kind] = self.stats.by_kind.get(kind, 0) + 1
        return msg


# ---------------------------------------------------------------- command argument helpers


# struct formats of the arguments of the commands that take any (docs/protocol-probelink.md 4.5)
_COMMAND_ARGS: dict[int, str] = {
    Cmd.SET_FRAME_PERIOD: "<H",
    Cmd.SET_WINDOW: "<Bff",
    Cmd.SET_SPECTRUM: "<B",
    Cmd.HELLO: "<H",
}


def command(cmd: Cmd, seq: int, *args: object, version: int = VERSION_1) -> Command:
    """Build a COMMAND with its arguments packed as the spec says, to travel as `version`."""
    return Command(cmd, struct.pack(_COMMAND_ARGS.get(cmd, "<"), *args), seq, version)


def command_args(msg: Command) -> tuple[Any, ...]:
    """Unpack a COMMAND's arguments; ProbeLinkError('malformed') when they are the wrong size."""
    try:
        return struct.unpack(_COMMAND_ARGS.get(msg.cmd, "<"), msg.args)
    except struct.error as exc:
        raise ProbeLinkError("malformed", f"bad arguments for command 0x{msg.cmd:02x}") from exc
