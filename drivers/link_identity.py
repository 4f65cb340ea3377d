"""Who is at the other end of a reconnected port: the same device as before, or someone else.

After a reconnection a device path may name another device (a USB port reused, a pty number
taken by another program). Until the device has proved it is the one seen before, nothing it says
is shown: query protocols prove it by answering their identity query with the same model and
serial; listen-only protocols by a valid frame, and their writes wait until then (a foreign
terminal gets nothing). The first connection has nothing to compare with and is trusted, as is a
reconnection of a device that never said who it is.
"""

from __future__ import annotations

import threading
from enum import Enum

from probe_nav.drivers.frames import DeviceInfo

MAX_HELD_WRITES = 64  # writes held back for an unproved listen-only device; older ones dropped


class Verdict(Enum):
    """What an identity heard on a connection means."""

    SAME = "same"  # the device seen before (or the first one)
    DIFFERENT = "different"


def who(info: DeviceInfo) -> str:
    """`model #serial`, or the model alone."""
    return f"{info.model} #{info.serial}" if info.serial else info.model


class IdentityGate:
    """One device object's identity across connections (thread-safe)."""

    def __init__(self, by_query: bool) -> None:
        self.by_query = by_query
        self.reference: DeviceInfo | None = None  # the last identity accepted
        self._proved = True
        self._rejected = False
        self._held: list[bytes] = []
        self._lock = threading.Lock()

    @property
    def proved(self) -> bool:
        """True once the device on this connection may be shown (always on a first connection)."""
        return self._proved

    @property
    def rejected(self) -> bool:
        """True when this connection was found to lead to a different device."""
        return self._rejected

    def new_connection(self) -> None:
        """The port has just (re)opened: trust nothing it says until proved, if there is a
        reference to prove against."""
        with self._lock:
            self._proved = self.reference is None
            self._rejected = False
            self._held = []

    def judge(self, info: DeviceInfo) -> Verdict:
        """An identity heard on this connection; SAME ones become the reference."""
        with self._lock:
            ref = self.reference
            if ref is not None and (info.model, info.serial) != (ref.model, ref.serial):
                self._rejected = True
                self._proved = False
                self._held = []
                return Verdict.DIFFERENT
            self.reference = info
            return Verdict.SAME

    def hold(self, data: bytes) -> bool:
        """Whether a write must wait (a listen-only device not yet proved); it is kept if so."""
        with self._lock:
            if self._proved or self.by_query:
                return False
            self._held.append(data)
            del self._held[:-MAX_HELD_WRITES]
            return True

    def prove(self) -> list[bytes] | None:
        """The device proved itself: the writes held back for it, or None if it already had."""
        with self._lock:
            if self._proved or self._rejected:
                return None
            self._proved = True
            held, self._held = self._held, []
            return held
