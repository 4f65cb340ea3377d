"""Consistent Overhead Byte Stuffing (Cheshire & Baker, 1999).

COBS removes every 0x00 from a packet so that 0x00 can delimit packets and a receiver can
resynchronise on the next delimiter after garbage.
"""

from __future__ import annotations


class CobsError(ValueError):
    """Raised for a byte string that is not valid COBS."""


def cobs_encode(data: bytes) -> bytes:
    """Encode `data` (any bytes) into COBS, without the trailing 0x00 delimiter."""
    out = bytearray([0])  # placeholder for the first code byte
    code_index = 0
    code = 1
    last = len(data) - 1
    for i, byte in enumerate(data):
        if byte == 0:
            out[code_index] = code
            code_index = len(out)
            out.append(0)
            code = 1
            continue
        out.append(byte)
        code += 1
        if code == 0xFF and i != last:
            # A full block of 254 bytes; a block ending exactly at the end needs no new code.
            out[code_index] = code
            code_index = len(out)
            out.append(0)
            code = 1
    out[code_index] = code
    return bytes(out)


def cobs_decode(data: bytes) -> bytes:
    """Decode one COBS packet (without its delimiter); CobsError if it is malformed."""
    out = bytearray()
    i = 0
    n = len(data)
    while i < n:
        code = data[i]
        if code == 0:
            raise CobsError("zero byte inside a COBS packet")
        end = i + code
        block = data[i + 1 : end]
        if len(block) != code - 1:
            raise CobsError("COBS code runs past the end of the packet")
        if 0 in block:
            raise CobsError("zero byte inside a COBS packet")
        out += block
        i = end
        if code != 0xFF and i < n:
            out.append(0)
    return bytes(out)
