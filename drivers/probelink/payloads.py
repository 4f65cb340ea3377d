"""ProbeLink payload layouts: one encoder and one decoder per message type
(docs/protocol-probelink.md section 4). The header and the check around a payload are the codec's
business (codec.py); the only version-dependent payload is INFO, whose v2 form appends the
counter fields."""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from probe_nav.drivers.probelink.messages import (
    MAX_SPECTRUM_CHUNK,
    MAX_WINDOWS,
    UNKNOWN_U32,
    VERSION_1,
    Ack,
    Cmd,
    Command,
    Count,
    Info,
    Message,
    MsgType,
    SpectrumChunk,
    Status,
    WindowDef,
)

_COUNT_HEAD = struct.Struct("<IQIIHB")
_SPECTRUM_HEAD = struct.Struct("<IHHH")
_STATUS = struct.Struct("<QBHhHH")
_INFO_HEAD = struct.Struct("<BBHH")
_INFO_COUNTER = struct.Struct("<BII")  # v2: model code, dead time ns, highest rate cps
_ACK = struct.Struct("<HBB")
_WINDOW = struct.Struct("<ff")

_U8_NONE = 0xFF
_U16_NONE = 0xFFFF
_I16_NONE = 0x7FFF


class ProbeLinkError(ValueError):
    """A packet that is not a valid ProbeLink message; `kind` names the DecoderStats counter."""

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


def _need(payload: bytes, n: int, what: str) -> None:
    if len(payload) < n:
        raise ProbeLinkError("malformed", f"{what} payload is {len(payload)} bytes, needs {n}")


# ---------------------------------------------------------------- encoders


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
    if m.version > VERSION_1:
        out += _INFO_COUNTER.pack(m.counter, _opt(m.dead_time_ns, UNKNOWN_U32),
                                  _opt(m.max_rate_cps, UNKNOWN_U32))
    return bytes(out)


def _enc_command(m: Command) -> bytes:
    return bytes([m.cmd]) + m.args


def _enc_ack(m: Ack) -> bytes:
    head = _ACK.pack(m.cmd_seq, m.cmd, m.result)
    if m.chosen_version is None:
        return head
    if m.cmd != Cmd.HELLO:
        raise ValueError("only the answer to a HELLO carries a chosen version")
    return head + bytes([m.chosen_version])


ENCODERS: dict[type, tuple[MsgType, Callable[[Any], bytes]]] = {
    Count: (MsgType.COUNT, _enc_count),
    SpectrumChunk: (MsgType.SPECTRUM, _enc_spectrum),
    Status: (MsgType.STATUS, _enc_status),
    Info: (MsgType.INFO, _enc_info),
    Command: (MsgType.COMMAND, _enc_command),
    Ack: (MsgType.ACK, _enc_ack),
}


# ---------------------------------------------------------------- decoders
# Each takes (payload, header seq, major version). Bytes after the fields a decoder knows are
# ignored: minor versions append fields there.


def _dec_count(p: bytes, seq: int, version: int) -> Count:
    _need(p, _COUNT_HEAD.size, "COUNT")
    frame_seq, t_end_us, real_us, live_us, flags, n = _COUNT_HEAD.unpack_from(p)
    if not 1 <= n <= MAX_WINDOWS:
        raise ProbeLinkError("malformed", f"COUNT with {n} windows")
    _need(p, _COUNT_HEAD.size + 4 * n, "COUNT")
    counts = struct.unpack_from(f"<{n}I", p, _COUNT_HEAD.size)
    if live_us > real_us:
        raise ProbeLinkError("malformed", "COUNT with live time longer than real time")
    return Count(frame_seq, t_end_us, real_us, live_us, counts, flags, seq, version)


def _dec_spectrum(p: bytes, seq: int, version: int) -> SpectrumChunk:
    _need(p, _SPECTRUM_HEAD.size, "SPECTRUM")
    frame_seq, n_channels, first, n = _SPECTRUM_HEAD.unpack_from(p)
    if n > MAX_SPECTRUM_CHUNK or first + n > n_channels:
        raise ProbeLinkError("malformed", "SPECTRUM chunk outside the spectrum")
    _need(p, _SPECTRUM_HEAD.size + 4 * n, "SPECTRUM")
    bins = struct.unpack_from(f"<{n}I", p, _SPECTRUM_HEAD.size)
    return SpectrumChunk(frame_seq, n_channels, first, bins, seq, version)


def _dec_status(p: bytes, seq: int, version: int) -> Status:
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
        version,
    )


def _dec_info(p: bytes, seq: int, version: int) -> Info:
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
    info = Info(model, serial, firmware, detector, period_ms, n_channels, cal, tuple(windows),
                minor, seq, version)
    if version == VERSION_1:
        return info
    _need(p, pos + _INFO_COUNTER.size, "INFO")
    counter, dead_ns, max_cps = _INFO_COUNTER.unpack_from(p, pos)
    return Info(model, serial, firmware, detector, period_ms, n_channels, cal, tuple(windows),
                minor, seq, version, counter, _from_opt(dead_ns, UNKNOWN_U32),
                _from_opt(max_cps, UNKNOWN_U32))


def _dec_command(p: bytes, seq: int, version: int) -> Command:
    _need(p, 1, "COMMAND")
    return Command(p[0], bytes(p[1:]), seq, version)


def _dec_ack(p: bytes, seq: int, version: int) -> Ack:
    _need(p, _ACK.size, "ACK")
    cmd_seq, cmd, result = _ACK.unpack_from(p)
    # Only the answer to a HELLO has the chosen version; other ACKs may grow other fields there.
    chosen = p[_ACK.size] if cmd == Cmd.HELLO and len(p) > _ACK.size else None
    return Ack(cmd_seq, cmd, result, seq, version, chosen)


DECODERS: dict[int, Callable[[bytes, int, int], Message]] = {
    MsgType.COUNT: _dec_count,
    MsgType.SPECTRUM: _dec_spectrum,
    MsgType.STATUS: _dec_status,
    MsgType.INFO: _dec_info,
    MsgType.COMMAND: _dec_command,
    MsgType.ACK: _dec_ack,
}
