"""Blocking helpers for asking a port who it is (autodetection, `probe-nav ports --probe`).

These run on the caller's thread against a freshly opened pyserial port, never on a device's reader
thread, and always with short time-outs: a port that says nothing costs at most `timeout_s`.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from probe_nav.drivers.transport import SerialPort


@dataclass(frozen=True, slots=True)
class Identification:
    """What a probe learnt: the protocol name to open the port with, and who answered."""

    protocol: str
    description: str
    baudrate: int | None = None


def read_for(
    port: SerialPort,
    timeout_s: float,
    done: Callable[[bytes], bool] | None = None,
    quiet_s: float = 0.0,
    max_bytes: int = 65536,
) -> bytes:
    """Read until `done(buffer)` (then `quiet_s` of silence), `max_bytes`, or `timeout_s` elapse."""
    deadline = time.monotonic() + timeout_s
    buf = bytearray()
    finished = False
    last_rx = time.monotonic()
    while time.monotonic() < deadline and len(buf) < max_bytes:
        try:
            chunk = port.read(max(1, port.in_waiting or 1))
        except (serial.SerialException, OSError):
            break
        now = time.monotonic()
        if chunk:
            buf += chunk
            last_rx = now
            finished = finished or (done is not None and done(bytes(buf)))
        if finished and now - last_rx >= quiet_s:
            break
    if not finished and len(buf) < max_bytes:
        # A reply that arrived while this process was not scheduled still counts: take what is
        # waiting without blocking, so a loaded host does not judge a device silent.
        with contextlib.suppress(serial.SerialException, OSError):
            waiting = port.in_waiting
            if waiting:
                buf += port.read(min(waiting, max_bytes - len(buf)))
    return bytes(buf)


def settle(port: SerialPort, settle_s: float) -> int:
    """Wait `settle_s` and drop whatever arrived meanwhile; returns how many bytes were dropped."""
    dropped = len(read_for(port, settle_s))
    with contextlib.suppress(serial.SerialException, OSError):
        port.reset_input_buffer()
    return dropped
