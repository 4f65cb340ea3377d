"""The hex test vectors printed in docs/protocol-probelink.md (v1 in section 7, v2 in section 9)
decode and encode exactly, and every v2 check is a CRC-32C computed here bit by bit."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from probe_nav.drivers.crc import crc16_ccitt
from probe_nav.drivers.probelink.codec import (
    command,
    decode,
    decode_message,
    encode,
    encode_message,
)
from probe_nav.drivers.probelink.messages import (
    Ack,
    AckResult,
    Cmd,
    Count,
    CounterCode,
    Detector,
    Info,
    SpectrumChunk,
    Status,
    WindowDef,
)

SPEC = Path(__file__).resolve().parents[2] / "docs" / "protocol-probelink.md"

# The messages the spec's "Fields of the vectors" list describes, in words there, in code here.
EXPECTED = {
    "count-1window": Count(1, 1_050_000, 50_000, 49_900, (42,), 0, 2),
    "count-3windows-overrange": Count(
        70000, 3_600_000_000, 50_000, 31_250, (65535, 1200, 7), 0x0001, 65535
    ),
    "status": Status(2_000_000, 87, 4083, 3150, None, 0x0004, 9),
    "status-unknowns": Status(0, None, None, None, 8500, 0, 10),
    "info": Info(
        "PN-1", "SN42", "1.2.0", Detector.CDTE, 50, 0, (), (WindowDef(126.0, 155.0, "Tc-99m"),),
        0, 1,
    ),
    "spectrum-chunk": SpectrumChunk(5, 1024, 128, (0, 1, 255, 256, 0, 0, 65536, 3), 11),
    "cmd-ping": command(Cmd.PING, 1),
    "cmd-start": command(Cmd.START_STREAM, 2),
    "cmd-set-period-100ms": command(Cmd.SET_FRAME_PERIOD, 3, 100),
    "cmd-set-window-0": command(Cmd.SET_WINDOW, 4, 0, 20.0, 45.0),
    "ack-ok": Ack(3, Cmd.SET_FRAME_PERIOD, AckResult.OK, 12),
    "ack-bad-argument": Ack(4, Cmd.SET_WINDOW, AckResult.BAD_ARGUMENT, 13),
}


# Section 9's vectors: what v2 adds (HELLO and its answers travel as v1 on purpose).
EXPECTED_V2 = {
    "hello": command(Cmd.HELLO, 1, 0x0006),
    "ack-hello-v2": Ack(1, Cmd.HELLO, AckResult.OK, 1, chosen_version=2),
    "ack-hello-v1-device": Ack(1, Cmd.HELLO, AckResult.UNKNOWN_COMMAND, 1),
    "info-v2": Info(
        "PN-2", "SN43", "2.0.0", Detector.CDTE, 50, 0, (), (WindowDef(126.0, 155.0, "Tc-99m"),),
        0, 2, 2, CounterCode.NONPARALYSABLE, 2000, 500_100,
    ),
    "info-v2-counter-unknown": Info("PN-2", "", "", Detector.UNKNOWN, 50, 0, (), (), 0, 3, 2,
                                    CounterCode.UNKNOWN, None, None),
    "count-1window-v2": Count(1, 1_050_000, 50_000, 49_900, (42,), 0, 4, 2),
    "count-3windows-overrange-v2": Count(
        70000, 3_600_000_000, 50_000, 31_250, (65535, 1200, 7), 0x0001, 65535, 2
    ),
    "status-v2": Status(2_000_000, 87, 4083, 3150, None, 0x0004, 9, 2),
    "cmd-start-v2": command(Cmd.START_STREAM, 2, version=2),
    "ack-ok-v2": Ack(2, Cmd.START_STREAM, AckResult.OK, 5, 2),
}
SECTIONS = {"## 7. Test vectors": EXPECTED, "## 9. Test vectors, version 2": EXPECTED_V2}
ALL = [(heading, name) for heading, table in SECTIONS.items() for name in sorted(table)]


def spec_vectors(heading: str = "## 7. Test vectors") -> dict[str, tuple[bytes, bytes]]:
    """Rows `| `name` | `raw hex` | `wire hex` |` of the spec's table under `heading` (up to the
    next section)."""
    text = SPEC.read_text(encoding="utf-8")
    section = text.split(f"\n{heading}\n", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| `([0-9a-f ]+)` \| `([0-9a-f ]+)` \|$", section, re.M)
    return {name: (bytes.fromhex(raw), bytes.fromhex(wire)) for name, raw, wire in rows}


def crc32c_bitwise(data: bytes) -> int:
    """CRC-32C straight from its definition (reflected poly 0x82F63B78), independent of the
    driver's table: the spec's v2 checks must agree with it."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


@pytest.mark.parametrize("heading", sorted(SECTIONS))
def test_spec_lists_every_vector(heading: str) -> None:
    assert set(spec_vectors(heading)) == set(SECTIONS[heading])


@pytest.mark.parametrize(("heading", "name"), ALL)
def test_vector_encodes_exactly(heading: str, name: str) -> None:
    raw, wire = spec_vectors(heading)[name]
    assert encode_message(SECTIONS[heading][name]) == raw
    assert encode(SECTIONS[heading][name]) == wire


@pytest.mark.parametrize(("heading", "name"), ALL)
def test_vector_decodes_exactly(heading: str, name: str) -> None:
    raw, wire = spec_vectors(heading)[name]
    assert decode(wire) == SECTIONS[heading][name]
    assert decode_message(raw) == SECTIONS[heading][name]


def test_v2_checks_are_crc32c_and_v1_checks_stay_crc16() -> None:
    assert crc32c_bitwise(b"123456789") == 0xE3069283  # the catalogue check value
    for heading in SECTIONS:
        for name, (raw, _) in spec_vectors(heading).items():
            if raw[0] == 2:
                assert int.from_bytes(raw[-4:], "little") == crc32c_bitwise(raw[:-4]), name
            else:
                assert raw[0] == 1, name
                assert int.from_bytes(raw[-2:], "little") == crc16_ccitt(raw[:-2]), name
