"""ProbeLink messages (v1 and v2) as plain dataclasses, one per message type, apart from the byte
layout. `version` is the major version a message travels in (its first byte on the wire)."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

VERSION_1 = 1  # CRC-16/CCITT-FALSE; INFO without the counter
VERSION_2 = 2  # CRC-32C; version negotiation (HELLO); INFO carries the counter
SUPPORTED_VERSIONS = (VERSION_1, VERSION_2)  # major versions this implementation speaks
PROTOCOL_VERSION = VERSION_2  # the newest major version
PROTOCOL_MINOR = 0  # reported in INFO; minors only append fields or add message types
UNKNOWN_U32 = 0xFFFF_FFFF  # "not stated" in the v2 INFO counter fields
MAX_WINDOWS = 8
MAX_SPECTRUM_CHUNK = 256  # channels per SPECTRUM message


class MsgType(enum.IntEnum):
    """Message type byte (second byte of every message)."""

    COUNT = 0x01
    SPECTRUM = 0x02
    STATUS = 0x03
    INFO = 0x04
    COMMAND = 0x10
    ACK = 0x11


class Cmd(enum.IntEnum):
    """Host command codes (first payload byte of a COMMAND)."""

    PING = 0x01
    START_STREAM = 0x02
    STOP_STREAM = 0x03
    SET_FRAME_PERIOD = 0x04
    SET_WINDOW = 0x05
    GET_INFO = 0x06
    GET_STATUS = 0x07
    SET_SPECTRUM = 0x08
    HELLO = 0x09  # v2: u16 bit mask of the major versions the host speaks; see negotiation


def versions_mask(versions: Iterable[int]) -> int:
    """The HELLO argument for `versions`: bit v set for every major version v (1..15)."""
    mask = 0
    for v in versions:
        if not 1 <= v <= 15:
            raise ValueError(f"major version {v} does not fit the HELLO mask")
        mask |= 1 << v
    return mask


def mask_versions(mask: int) -> frozenset[int]:
    """The major versions a HELLO mask names."""
    return frozenset(v for v in range(1, 16) if mask >> v & 1)


class AckResult(enum.IntEnum):
    """Result code of an ACK."""

    OK = 0
    UNKNOWN_COMMAND = 1
    BAD_ARGUMENT = 2
    NOT_SUPPORTED = 3
    BUSY = 4


class CounterCode(enum.IntEnum):
    """Dead-time model code carried in the v2 INFO."""

    UNKNOWN = 0
    NONPARALYSABLE = 1
    PARALYSABLE = 2


class Detector(enum.IntEnum):
    """Detector material code carried in INFO."""

    UNKNOWN = 0
    CDTE = 1
    CZT = 2
    CSI_TL = 3
    NAI_TL = 4
    GM_TUBE = 5
    SIPM_SCINTILLATOR = 6
    LABR3 = 7


@dataclass(frozen=True, slots=True)
class Count:
    """Counts of one counting interval; `t_end_us` is the device clock at the interval's end."""

    frame_seq: int
    t_end_us: int
    real_us: int
    live_us: int
    counts: tuple[int, ...]
    flags: int = 0
    seq: int = 0
    version: int = VERSION_1


@dataclass(frozen=True, slots=True)
class SpectrumChunk:
    """Channels [first_channel, first_channel + len(bins)) of frame `frame_seq`'s spectrum."""

    frame_seq: int
    n_channels: int
    first_channel: int
    bins: tuple[int, ...]
    seq: int = 0
    version: int = VERSION_1


@dataclass(frozen=True, slots=True)
class Status:
    """Housekeeping; None marks a value the device does not measure."""

    t_us: int
    battery_pct: int | None = None
    battery_mv: int | None = None
    temperature_cdeg: int | None = None  # hundredths of a degree Celsius
    hv_dv: int | None = None  # tenths of a volt
    faults: int = 0
    seq: int = 0
    version: int = VERSION_1


@dataclass(frozen=True, slots=True)
class WindowDef:
    """An energy window definition in keV."""

    lo_kev: float
    hi_kev: float
    name: str = ""


@dataclass(frozen=True, slots=True)
class Info:
    """Device identity and configuration; from v2 on also the counter (v1 has no room for it:
    encoding an Info as v1 leaves the counter fields out, decoding a v1 INFO gives the defaults).
    """

    model: str
    serial: str
    firmware: str
    detector: int = Detector.UNKNOWN
    frame_period_ms: int = 50
    n_channels: int = 0
    energy_cal: tuple[float, ...] = ()
    windows: tuple[WindowDef, ...] = ()
    minor: int = PROTOCOL_MINOR
    seq: int = 0
    version: int = VERSION_1
    counter: int = CounterCode.UNKNOWN  # v2: dead-time model (CounterCode)
    dead_time_ns: int | None = None  # v2: counter dead time in ns; None = not stated
    max_rate_cps: int | None = None  # v2: highest rate it can report; None = not stated


@dataclass(frozen=True, slots=True)
class Command:
    """A host command; `args` is the raw argument bytes (see the helpers in
    `probe_nav.drivers.probelink.codec`)."""

    cmd: int
    args: bytes = b""
    seq: int = 0
    version: int = VERSION_1


@dataclass(frozen=True, slots=True)
class Ack:
    """The device's answer to the command whose header seq was `cmd_seq`; the answer to a HELLO
    also carries the major version the device chose (`chosen_version`)."""

    cmd_seq: int
    cmd: int
    result: int = AckResult.OK
    seq: int = 0
    version: int = VERSION_1
    chosen_version: int | None = None


Message = Count | SpectrumChunk | Status | Info | Command | Ack


@dataclass
class DecoderStats:
    """What a stream decoder saw: good messages and each kind of rejected packet."""

    messages: int = 0
    crc_errors: int = 0
    cobs_errors: int = 0
    oversize: int = 0
    too_short: int = 0
    bad_version: int = 0  # a major version this implementation does not know
    other_version: int = 0  # a valid message of a known version the receiver does not accept now
    unknown_type: int = 0
    malformed: int = 0
    skipped_bytes: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    def rejected(self) -> dict[str, int]:
        """Rejected packets by reason (unknown types included: they are skipped)."""
        return {kind: getattr(self, kind) for kind in REJECT_KINDS}


REJECT_KINDS = (
    "crc_errors",
    "cobs_errors",
    "oversize",
    "too_short",
    "bad_version",
    "other_version",
    "unknown_type",
    "malformed",
)
