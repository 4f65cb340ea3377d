"""CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor.
CRC-32C (Castagnoli; iSCSI, SCTP, ext4): poly 0x1EDC6F41 (reflected 0x82F63B78), init
0xFFFFFFFF, input and output reflected, final xor 0xFFFFFFFF.

Check values: crc16_ccitt(b"123456789") == 0x29B1, crc32c(b"123456789") == 0xE3069283.
"""

from __future__ import annotations


def _make_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_TABLE = _make_table()


def crc16_ccitt(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE of `data`, optionally continuing from a previous `crc` value."""
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ _TABLE[((crc >> 8) ^ byte) & 0xFF]
    return crc


def _make_table_32c() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE_32C = _make_table_32c()


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C of `data`; pass a previous result as `crc` to continue it over more data."""
    crc ^= 0xFFFFFFFF
    table = _TABLE_32C
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFFFFFF
