"""Delimited framing with a length bound, shared by binary (COBS, 0x00) and text (CR/LF) protocols.

Bytes accumulate until a delimiter; a packet that grows past `max_bytes` is discarded up to the
next delimiter, so one lost delimiter costs one packet and never glues a stream together.
"""

from __future__ import annotations

from collections.abc import Callable

OVERFLOWED = None  # what `split` yields in place of a packet that outgrew the bound


class DelimitedBuffer:
    """Splits a byte stream at delimiters found by `find_end(data, start)` (-1 when none)."""

    def __init__(
        self,
        max_bytes: int,
        find_end: Callable[[bytes, int], int],
        on_skip: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.max_bytes = max_bytes
        self._find_end = find_end
        self._on_skip = on_skip  # told how many bytes an overflow threw away
        self._buf = bytearray()
        self._overflow = False

    @property
    def pending_bytes(self) -> int:
        """Bytes of the packet in progress."""
        return len(self._buf)

    @property
    def in_progress(self) -> bool:
        """True while a packet (or an overflowing one) is unfinished."""
        return bool(self._buf) or self._overflow

    def reset(self) -> None:
        """Forget the packet in progress."""
        self._buf.clear()
        self._overflow = False

    def split(self, data: bytes) -> list[bytes | None]:
        """Packets that `data` completes, in order; None stands for one that overflowed."""
        out: list[bytes | None] = []
        start = 0
        while True:
            end = self._find_end(data, start)
            if end < 0:
                self._append(data[start:])
                return out
            self._append(data[start:end])
            out.append(OVERFLOWED if self._overflow else bytes(self._buf))
            self.reset()
            start = end + 1

    def _append(self, chunk: bytes) -> None:
        if self._overflow:
            self._on_skip(len(chunk))
            return
        self._buf += chunk
        if len(self._buf) > self.max_bytes:
            self._on_skip(len(self._buf))
            self._buf.clear()
            self._overflow = True
