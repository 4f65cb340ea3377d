"""OpenIGTLink on a byte stream: pyigtl's message codec behind a parser that checks what pyigtl
does not (the header's plausibility, the body's CRC-64) and finds its way back into step after
garbage, so one bad message costs that message only.

pyigtl's own client and server threads are not used (drivers/tracking/igtl_client.py says why).
OpenIGTLink has no start-of-message marker: after bytes that do not make a plausible header the
parser drops one byte at a time until one does (version 1 or 2, a type of upper-case letters,
digits and '_', a printable device name, a body not absurdly long), and a message only counts
when its CRC-64 matches, so a false header inside garbage is rejected and scanning resumes one
byte after it.
"""

from __future__ import annotations

import re
import struct
import time
from dataclasses import dataclass, field
from typing import Any

import pyigtl  # type: ignore[import-untyped]
from pyigtl.messages import CRC64  # type: ignore[import-untyped]

HEADER_SIZE = 58  # bytes: version, type[12], device[20], timestamp (2 x uint32), body size, crc
MAX_BODY_BYTES = 256 * 1024 * 1024  # an IMAGE of 64 M float32 voxels; beyond is not a header
MAX_BODY_UNSYNCED = 64 * 1024  # while scanning for a header after garbage, trust less
_HEADER = struct.Struct("> H 12s 20s I I Q Q")
_TYPE = re.compile(rb"[A-Z0-9_]+\x00*")
_NAME = re.compile(rb"[\x20-\x7e]*\x00*")
_FRACTION = 2.0 ** 32


@dataclass
class Header:
    """The fields of an OpenIGTLink header."""

    version: int
    message_type: str
    device_name: str
    timestamp_s: float  # seconds since 1970 (the sender's clock); 0 when unset
    body_size: int
    crc: int

    def as_pyigtl(self) -> dict[str, Any]:
        """The header dict that pyigtl's MessageBase.unpack takes."""
        return {"header_version": self.version, "message_type": self.message_type,
                "device_name": self.device_name, "timestamp": self.timestamp_s,
                "body_size": self.body_size}


@dataclass
class WireEvent:
    """One thing the parser found: a message, or a reason it was dropped.

    kind: "message" (message set), "unknown_type" (a well-formed message pyigtl cannot decode;
    header and body kept), "bad_crc", "bad_body" (detail says why) or "garbage" (n_bytes
    skipped while looking for a header)."""

    kind: str
    header: Header | None = None
    message: Any = None
    body: bytes = b""
    detail: str = ""
    n_bytes: int = 0


def parse_header(raw: bytes, max_body: int = MAX_BODY_BYTES) -> Header | None:
    """The header in the first HEADER_SIZE bytes, or None when they cannot be one."""
    version, mtype, name, seconds, fraction, body_size, crc = _HEADER.unpack(raw[:HEADER_SIZE])
    if version not in (1, 2) or body_size > max_body:
        return None
    if not _TYPE.fullmatch(mtype) or not _NAME.fullmatch(name):
        return None
    return Header(version, mtype.rstrip(b"\x00").decode("ascii"),
                  name.rstrip(b"\x00").decode("ascii"), seconds + fraction / _FRACTION,
                  body_size, crc)


def pack_header(message_type: str, device_name: str, timestamp_s: float, body: bytes,
                version: int = 1) -> bytes:
    """A header for `body` (for messages pyigtl has no class for, and for tests)."""
    seconds = int(timestamp_s)
    fraction = min(int((timestamp_s - seconds) * _FRACTION), 2 ** 32 - 1)
    return _HEADER.pack(version, message_type.encode("ascii"), device_name.encode("ascii"),
                        seconds, fraction, len(body), CRC64(body))


def pack(message: Any) -> bytes:
    """A pyigtl message as bytes (header and body, CRC-64 set)."""
    return bytes(message.pack())


def transform_message(matrix: Any, device_name: str, timestamp_s: float | None = None) -> Any:
    """A pyigtl TRANSFORM message (timestamp: seconds since 1970; default now)."""
    return pyigtl.TransformMessage(matrix, timestamp=time.time() if timestamp_s is None
                                   else timestamp_s, device_name=device_name)


def status_code(body: bytes) -> int | None:
    """The status code of a STATUS body (1 = OK), None if the body is too short."""
    if len(body) < 30:
        return None
    return int(struct.unpack(">H", body[:2])[0])


@dataclass
class StreamParser:
    """Feed it bytes as they arrive; it returns what they completed, oldest first."""

    _buffer: bytearray = field(default_factory=bytearray)
    _in_sync: bool = True  # the stream started, or the last message was whole: trust lengths

    def reset(self) -> None:
        """A new connection: forget a half message."""
        self._buffer.clear()
        self._in_sync = True

    @property
    def pending_bytes(self) -> int:
        """Bytes held for a message not yet complete."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[WireEvent]:
        """Add received bytes; the events of every message they complete."""
        self._buffer += data
        events: list[WireEvent] = []
        skipped = 0
        buf = self._buffer
        while len(buf) >= HEADER_SIZE:
            limit = MAX_BODY_BYTES if self._in_sync else MAX_BODY_UNSYNCED
            header = parse_header(bytes(buf[:HEADER_SIZE]), limit)
            if header is None:
                step = _next_candidate(buf)
                del buf[:step]
                skipped += step
                self._in_sync = False
                continue
            if skipped:
                events.append(WireEvent("garbage", n_bytes=skipped))
                skipped = 0
            end = HEADER_SIZE + header.body_size
            if len(buf) < end:
                break  # a half message: wait for the rest
            body = bytes(buf[HEADER_SIZE:end])
            if CRC64(body) != header.crc:
                events.append(WireEvent("bad_crc", header, detail=f"{header.message_type} "
                                        f"'{header.device_name}': CRC mismatch"))
                # In step, the length is right: skip the message. After garbage the "header"
                # may be garbage too: look again one byte on.
                del buf[:end if self._in_sync else 1]
                continue
            del buf[:end]
            self._in_sync = True
            events.append(_decode(header, body))
        if skipped:
            events.append(WireEvent("garbage", n_bytes=skipped))
        return events


def _next_candidate(buf: bytearray) -> int:
    """How many bytes to drop before the next place a header could start (version 1 or 2)."""
    found = [i for i in (buf.find(b"\x00\x01", 1), buf.find(b"\x00\x02", 1)) if i > 0]
    return min(found) if found else max(1, len(buf) - 1)


def _decode(header: Header, body: bytes) -> WireEvent:
    """A CRC-checked message through pyigtl's codec."""
    message = pyigtl.MessageBase.create_message(header.message_type)
    if message is None:
        return WireEvent("unknown_type", header, body=body)
    try:
        message.unpack(header.as_pyigtl(), body)
    except Exception as exc:  # pyigtl raises anything on a malformed body
        return WireEvent("bad_body", header, body=body,
                         detail=f"{header.message_type} '{header.device_name}': "
                                f"{type(exc).__name__}: {exc}")
    return WireEvent("message", header, message=message, body=body)
