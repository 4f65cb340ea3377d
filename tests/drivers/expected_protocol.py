"""A byte-level fake port in the style of PyMeasure's `expected_protocol`.

A script is a list of `(write, reply)` pairs: the driver must write exactly `write` next (one
write call), and then the device answers `reply`; `write=None` means the device speaks unasked
(a heartbeat already running, a line a second). Only bytes are faked: the real transport, reader
thread and device class run on top, as they would on a serial port.

    with expected_protocol(Gmc320Device, [(b"<HEARTBEAT0>>", b""), ...]) as (device, port):
        events = collect(device, frames=2)

On leaving the block the device is closed and the test fails if the driver wrote anything that
was not expected, or if the script was not played to the end.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import serial

from probe_nav.drivers.device import Device, DeviceEvent, FrameEvent

Script = Sequence[tuple[bytes | None, bytes | None]]
HANG_S = 30.0  # wall-clock bound on a wait for events or bytes: only a hang gets near it


class ScriptedPort:
    """Quacks like the part of `serial.Serial` that SerialTransport uses."""

    def __init__(self, script: Script, *, read_timeout_s: float = 0.02,
                 hang_up_at_end: bool = False) -> None:
        self.remaining: list[tuple[bytes | None, bytes | None]] = list(script)
        self.written: list[bytes] = []
        self.mismatches: list[str] = []
        self.timeout = read_timeout_s
        self.hang_up_at_end = hang_up_at_end
        self.is_open = True
        self.baudrate = 115200
        self._pending = bytearray()
        self._lock = threading.Lock()
        self._released_unasked = False

    # ------------------------------------------------------------ script

    def _release_unasked(self) -> None:
        while self.remaining and self.remaining[0][0] is None:
            self._pending += self.remaining.pop(0)[1] or b""

    def done(self) -> bool:
        """True once every scripted write has happened and every reply has been read."""
        with self._lock:
            return not self.remaining and not self._pending

    def wait_done(self, timeout_s: float = HANG_S) -> bool:
        """Wait until the script has been played to the end."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.done():
                return True
            time.sleep(0.01)
        return self.done()

    # ------------------------------------------------------------ serial.Serial API

    def write(self, data: bytes) -> int:
        with self._lock:
            self.written.append(bytes(data))
            self._released_unasked = True
            self._release_unasked()  # what the device said unasked came before this write
            if not self.remaining or self.remaining[0][0] is None:
                self.mismatches.append(f"unexpected write {bytes(data)!r}")
                return len(data)
            expected, reply = self.remaining[0]
            if bytes(data) != expected:
                self.mismatches.append(f"expected write {expected!r}, got {bytes(data)!r}")
                return len(data)
            self.remaining.pop(0)
            self._pending += reply or b""
            self._release_unasked()
        return len(data)

    def read(self, size: int = 1) -> bytes:
        deadline = time.monotonic() + self.timeout
        while True:
            with self._lock:
                if not self._released_unasked:
                    self._released_unasked = True  # after the transport's reset_input_buffer
                    self._release_unasked()
                if self._pending:
                    out = bytes(self._pending[:size])
                    del self._pending[:size]
                    return out
                if self.hang_up_at_end and not self.remaining:
                    raise serial.SerialException("device reports readiness to read but returned "
                                                 "no data (device disconnected?)")
            if time.monotonic() >= deadline:
                return b""
            time.sleep(0.002)

    @property
    def in_waiting(self) -> int:
        with self._lock:
            return len(self._pending)

    def reset_input_buffer(self) -> None:
        with self._lock:
            self._pending.clear()

    def reset_output_buffer(self) -> None:
        """Nothing is buffered on the way out."""

    def flush(self) -> None:
        """Writes are immediate."""

    def close(self) -> None:
        self.is_open = False


@contextmanager
def expected_protocol(device_cls: type[Device], script: Script, *,
                      hang_up_at_end: bool = False, **kwargs: Any
                      ) -> Iterator[tuple[Device, ScriptedPort]]:
    """Run `device_cls` on a ScriptedPort; assert the exchange happened exactly as scripted."""
    port = ScriptedPort(script, hang_up_at_end=hang_up_at_end)
    device = device_cls("scripted://", **kwargs)
    device.open(port=port)  # type: ignore[arg-type]
    try:
        yield device, port
    finally:
        device.close()
    assert not port.mismatches, port.mismatches
    assert not port.remaining, f"not played: {port.remaining}"


def collect(device: Device, frames: int = 0, timeout_s: float = HANG_S,
            until: Any = None) -> list[DeviceEvent]:
    """Poll events until `frames` FrameEvents (or `until(events)` is true) or fail after timeout."""
    events: list[DeviceEvent] = []
    deadline = time.monotonic() + timeout_s
    while True:
        done = until(events) if until is not None else (
            sum(isinstance(e, FrameEvent) for e in events) >= frames)
        if done:
            return events
        assert time.monotonic() < deadline, f"timed out; got {events}"
        events += device.poll(0.02)


def frames_of(events: Sequence[DeviceEvent]) -> list:
    """The CountFrames among events, in order."""
    return [e.frame for e in events if isinstance(e, FrameEvent)]
