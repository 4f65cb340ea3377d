"""The hex test vectors printed in docs/protocol-probelink.md decode and encode exactly."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


def spec_vectors() -> dict[str, tuple[bytes, bytes]]:
    """Rows `| `name` | `raw hex` | `wire hex` |` of the spec's test-vector table."""
    text = SPEC.read_text(encoding="utf-8")
    section = text.split("## 7. Test vectors", 1)[1]
    rows = re.findall(r"^\| `([a-z0-9-]+)` \| `([0-9a-f ]+)` \| `([0-9a-f ]+)` \|$", section, re.M)
    return {name: (bytes.fromhex(raw), bytes.fromhex(wire)) for name, raw, wire in rows}


def test_spec_lists_every_vector() -> None:
    assert set(spec_vectors()) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vector_encodes_exactly(name: str) -> None:
    raw, wire = spec_vectors()[name]
    assert encode_message(EXPECTED[name]) == raw
    assert encode(EXPECTED[name]) == wire


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_vector_decodes_exactly(name: str) -> None:
    raw, wire = spec_vectors()[name]
    assert decode(wire) == EXPECTED[name]
    assert decode_message(raw) == EXPECTED[name]
