"""ProbeLink v1 byte layout: message <-> bytes, and a stream decoder that resynchronises.

Wire format of one message: COBS(header || payload || crc16_le) followed by a single 0x00.
Header: version u8, type u8, seq u16 LE. CRC-16/CCITT-FALSE over header || payload.
All integers little-endian; see docs/protocol-probelink.md for every field.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from probe_nav.drivers.cobs import CobsError, cobs_decode, cobs_encode
from probe_nav.drivers.crc import crc16_ccitt
from probe_nav.drivers.framing import DelimitedBuffer
from probe_nav.drivers.probelink.messages import (
    MAX_SPECTRUM_CHUNK,
    MAX_WINDOWS,
    PROTOCOL_VERSION,
    Ack,
    Cmd,
    Command,
    Count,
    DecoderStats,
    Info,
    Message,
    MsgType,
    SpectrumChunk,
    Status,
    WindowDef,
)

HEADER = struct.Struct("<BBH")
MAX_MESSAGE_BYTES = 1100  # header + payload + CRC, before COBS
MAX_PACKET_BYTES = MAX_MESSAGE_BYTES + MAX_MESSAGE_BYTES // 254 + 2  # COBS-encoded, no delimiter
DELIMITER = b"\x00"

_COUNT_HEAD = struct.Struct("<IQIIHB")
_SPECTRUM_HEAD = struct.Struct("<IHHH")
_STATUS = struct.Struct("<QBHhHH")
_INFO_HEAD = struct.Struct("<BBHH")
_ACK = struct.Struct("<HBB")
_WINDOW = struct.Struct("<ff")

_U8_NONE = 0xFF
_U16_NONE = 0xFFFF
_I16_NONE = 0x7FFF


class ProbeLinkError(ValueError):
    """A packet that is not a valid ProbeLink v1 message; `kind` names the DecoderStats counter."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


# ---------------------------------------------------------------- strings and small helpers


def _str8(text: str) -> bytes:
    raw = text.encode("utf-8")[:255]
    return bytes([len(raw)]) + raw


def _read_str8(buf: bytes, pos: int) -> tuple[str, int]:
    if pos >= len(buf):
        raise ProbeLinkError("malformed", "string length past the end of the message")
    n = buf[pos]
    end = pos + 1 + n
    if end > len(buf):
        raise ProbeLinkError("malformed", "string runs past the end of the message")
    return buf[pos + 1 : end].decode("utf-8", errors="replace"), end


def _opt(value: int | None, none: int) -> int:
    return none if value is None else value


def _from_opt(value: int, none: int) -> int | None:
    return None if value == none else value


# ---------------------------------------------------------------- payload encoders


def _enc_count(m: Count) -> bytes:
    if not 1 <= len(m.counts) <= MAX_WINDOWS:
        raise ValueError(f"a COUNT carries 1..{MAX_WINDOWS} windows, not {len(m.counts)}")
    head = _COUNT_HEAD.pack(m.frame_seq, m.t_end_us, m.real_us, m.live_us, m.flags, len(m.counts))
    return head + struct.pack(f"<{len(m.counts)}I", *m.counts)


def _enc_spectrum(m: SpectrumChunk) -> bytes:
    if len(m.bins) > MAX_SPECTRUM_CHUNK:
        raise ValueError(f"a SPECTRUM chunk carries at most {MAX_SPECTRUM_CHUNK} channels")
    head = _SPECTRUM_HEAD.pack(m.frame_seq, m.n_channels, m.first_channel, len(m.bins))
    return head + struct.pack(f"<{len(m.bins)}I", *m.bins)


def _enc_status(m: Status) -> bytes:
    return _STATUS.pack(
        m.t_us,
        _opt(m.battery_pct, _U8_NONE),
        _opt(m.battery_mv, _U16_NONE),
        _opt(m.temperature_cdeg, _I16_NONE),
        _opt(m.hv_dv, _U16_NONE),
        m.faults,
    )


def _enc_info(m: Info) -> bytes:
    if len(m.windows) > MAX_WINDOWS:
        raise ValueError(f"INFO carries at most {MAX_WINDOWS} windows")
    out = bytearray(_INFO_HEAD.pack(m.minor, m.detector, m.frame_period_ms, m.n_channels))
    out += _str8(m.model) + _str8(m.serial) + _str8(m.firmware)
    out.append(len(m.energy_cal))
    out += struct.pack(f"<{len(m.energy_cal)}f", *m.energy_cal)
    out.append(len(m.windows))
    for w in m.windows:
        out += _WINDOW.pack(w.lo_kev, w.hi_kev) + _str8(w.name)
    return bytes(out)


def _enc_command(m: Command) -> bytes:
    return bytes([m.cmd]) + m.args


def _enc_ack(m: Ack) -> bytes:
    return _ACK.pack(m.cmd_seq, m.cmd, m.result)


_ENCODERS: dict[type, tuple[MsgType, Callable[..., bytes]]] = {
    Count: (MsgType.COUNT, _enc_count),
    SpectrumChunk: (MsgType.SPECTRUM, _enc_spectrum),
    Status: (MsgType.STATUS, _enc_status),
    Info: (MsgType.INFO, _enc_info),
    Command: (MsgType.COMMAND, _enc_command),
    Ack: (MsgType.ACK, _enc_ack),
}


# ---------------------------------------------------------------- payload decoders


def _need(payload: bytes, n: int, what: str) -> None:
    if len(payload) < n:
        raise ProbeLinkError("malformed", f"{what} payload is {len(payload)} bytes, needs {n}")


def _dec_count(p: bytes, seq: int) -> Count:
    _need(p, _COUNT_HEAD.size, "COUNT")
    frame_seq, t_end_us, real_us, live_us, flags, n = _COUNT_HEAD.unpack_from(p)
    if not 1 <= n <= MAX_WINDOWS:
        raise ProbeLinkError("malformed", f"COUNT with {n} windows")
    _need(p, _COUNT_HEAD.size + 4 * n, "COUNT")
    counts = struct.unpack_from(f"<{n}I", p, _COUNT_HEAD.size)
    if live_us > real_us:
        raise ProbeLinkError("malformed", "COUNT with live time longer than real time")
    return Count(frame_seq, t_end_us, real_us, live_us, counts, flags, seq)


def _dec_spectrum(p: bytes, seq: int) -> SpectrumChunk:
    _need(p, _SPECTRUM_HEAD.size, "SPECTRUM")
    frame_seq, n_channels, first, n = _SPECTRUM_HEAD.unpack_from(p)
    if n > MAX_SPECTRUM_CHUNK or first + n > n_channels:
        raise ProbeLinkError("malformed", "SPECTRUM chunk outside the spectrum")
    _need(p, _SPECTRUM_HEAD.size + 4 * n, "SPECTRUM")
    bins = struct.unpack_from(f"<{n}I", p, _SPECTRUM_HEAD.size)
    return SpectrumChunk(frame_seq, n_channels, first, bins, seq)


def _dec_status(p: bytes, seq: int) -> Status:
    _need(p, _STATUS.size, "STATUS")
    t_us, pct, mv, cdeg, hv, faults = _STATUS.unpack_from(p)
    return Status(
        t_us,
        _from_opt(pct, _U8_NONE),
        _from_opt(mv, _U16_NONE),
        _from_opt(cdeg, _I16_NONE),
        _from_opt(hv, _U16_NONE),
        faults,
        seq,
    )


def _dec_info(p: bytes, seq: int) -> Info:
    _need(p, _INFO_HEAD.size, "INFO")
    minor, detector, period_ms, n_channels = _INFO_HEAD.unpack_from(p)
    pos = _INFO_HEAD.size
    model, pos = _read_str8(p, pos)
    serial, pos = _read_str8(p, pos)
    firmware, pos = _read_str8(p, pos)
    _need(p, pos + 1, "INFO")
    n_cal = p[pos]
    pos += 1
    _need(p, pos + 4 * n_cal + 1, "INFO")
    cal = struct.unpack_from(f"<{n_cal}f", p, pos)
    pos += 4 * n_cal
    n_win = p[pos]
    pos += 1
    if n_win > MAX_WINDOWS:
        raise ProbeLinkError("malformed", f"INFO with {n_win} windows")
    windows = []
    for _ in range(n_win):
        _need(p, pos + _WINDOW.size, "INFO")
        lo, hi = _WINDOW.unpack_from(p, pos)
        name, pos = _read_str8(p, pos + _WINDOW.size)
        windows.append(WindowDef(lo, hi, name))
    return Info(model, serial, firmware, detector, period_ms, n_channels, cal, tuple(windows),
                minor, seq)


def _dec_command(p: bytes, seq: int) -> Command:
    _need(p, 1, "COMMAND")
    return Command(p[0], bytes(p[1:]), seq)


def _dec_ack(p: bytes, seq: int) -> Ack:
    _need(p, _ACK.size, "ACK")
    cmd_seq, cmd, result = _ACK.unpack_from(p)
    return Ack(cmd_seq, cmd, result, seq)


_DECODERS: dict[int, Callable[[bytes, int], Message]] = {
    MsgType.COUNT: _dec_count,
    MsgType.SPECTRUM: _dec_spectrum,
    MsgType.STATUS: _dec_status,
    MsgType.INFO: _dec_info,
    MsgType.COMMAND: _dec_command,
    MsgType.ACK: _dec_ack,
}


# ---------------------------------------------------------------- whole messages


def encode_message(msg: Message) -> bytes:
    """The raw message (header, payload, CRC) before COBS; `msg.seq` goes in the header."""
    msg_type, encoder = _ENCODERS[type(msg)]
    body = HEADER.pack(PROTOCOL_VERSION, msg_type, msg.seq & 0xFFFF) + encoder(msg)
    if len(body) + 2 > MAX_MESSAGE_BYTES:
        raise ValueError(f"message of {len(body) + 2} bytes exceeds {MAX_MESSAGE_BYTES}")
    return body + struct.pack("<H", crc16_ccitt(body))


def encode(msg: Message) -> bytes:
    """The bytes on the wire for `msg`: COBS-encoded message and the 0x00 delimiter."""
    return cobs_encode(encode_message(msg)) + DELIMITER


def decode_message(raw: bytes) -> Message:
    """Decode a raw message (after COBS); ProbeLinkError says what is wrong with it."""
    if len(raw) < HEADER.size + 2:
        raise ProbeLinkError("too_short", f"message of {len(raw)} bytes is too short")
    body, crc = raw[:-2], struct.unpack("<H", raw[-2:])[0]
    if crc16_ccitt(body) != crc:
        raise ProbeLinkError("crc_errors", "CRC mismatch")
    version, msg_type, seq = HEADER.unpack_from(body)
    if version != PROTOCOL_VERSION:
        raise ProbeLinkError("bad_version", f"protocol version {version} is not supported")
    decoder = _DECODERS.get(msg_type)
    if decoder is None:
        raise ProbeLinkError("unknown_type", f"unknown message type 0x{msg_type:02x}")
    return decoder(body[HEADER.size :], seq)


def decode(packet: bytes) -> Message:
    """Decode one wire packet (COBS bytes, with or without the trailing delimiter)."""
    if packet.endswith(DELIMITER):
        packet = packet[:-1]
    try:
        raw = cobs_decode(packet)
    except CobsError as exc:
        raise ProbeLinkError("cobs_errors", str(exc)) from exc
    return decode_message(raw)


class StreamDecoder:
    """Turns an arbitrary byte stream into messages; bad packets are counted and skipped.

    Resynchronisation is by construction: every 0x00 ends a packet, so after garbage the next
    delimiter starts a clean packet. A run longer than MAX_PACKET_BYTES without a delimiter is
    discarded up to the next delimiter and counted as oversize.
    """

    def __init__(self) -> None:
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
            msg = decode(packet)
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
}


def command(cmd: Cmd, seq: int, *args: object) -> Command:
    """Build a COMMAND with its arguments packed as the spec says."""
    return Command(cmd, struct.pack(_COMMAND_ARGS.get(cmd, "<"), *args), seq)


def command_args(msg: Command) -> tuple[Any, ...]:
    """Unpack a COMMAND's arguments; ProbeLinkError('malformed') when they are the wrong size."""
    try:
        return struct.unpack(_COMMAND_ARGS.get(msg.cmd, "<"), msg.args)
    except struct.error as exc:
        raise ProbeLinkError("malformed", f"bad arguments for command 0x{msg.cmd:02x}") from exc
