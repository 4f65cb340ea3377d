"""Serial transport: pyserial `serial_for_url` (device paths and URLs alike) with a reader thread
that reports connect/disconnect and reconnects automatically, in the spirit of `serial.threaded`."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import serial

from probe_nav.drivers.errors import DeviceNotFound


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """How to open a port: baud rate, read time-out and reconnection pacing."""

    baudrate: int = 115200
    read_timeout_s: float = 0.05
    reconnect_interval_s: float = 0.25
    read_size: int = 4096


class LinkListener(Protocol):
    """What a transport calls back, always on its reader thread."""

    def connection_made(self) -> None: ...

    def data_received(self, data: bytes) -> None: ...

    def connection_lost(self, reason: str) -> None: ...

    def idle(self) -> None: ...


def open_port(url: str, settings: SerialSettings) -> serial.SerialBase:
    """Open `url` (a device path or a pyserial URL); DeviceNotFound with a readable reason."""
    try:
        port = serial.serial_for_url(
            url, baudrate=settings.baudrate, timeout=settings.read_timeout_s, exclusive=None
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceNotFound(f"cannot open {url}: {_reason(exc)}") from exc
    return port


def _reason(exc: BaseException) -> str:
    text = str(exc)
    if isinstance(exc.__context__, OSError) and exc.__context__.strerror:
        return exc.__context__.strerror
    if "returned no data" in text or "socket disconnected" in text:
        return "device disconnected"
    for marker in ("No such file or directory", "Connection refused", "Permission denied"):
        if marker in text:
            return marker
    return text or type(exc).__name__


class SerialTransport:
    """Owns one port and a reader thread; writes are thread-safe; reconnects until closed."""

    def __init__(
        self,
        url: str,
        listener: LinkListener,
        settings: SerialSettings | None = None,
        opener: Callable[[str, SerialSettings], serial.SerialBase] = open_port,
    ) -> None:
        self.url = url
        self.settings = settings or SerialSettings()
        self._listener = listener
        self._opener = opener
        self._port: serial.SerialBase | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connections = 0

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def start(self, first_port: serial.SerialBase | None = None) -> None:
        """Start the reader thread; `first_port` is an already opened port to use first."""
        self._port = first_port
        self._thread = threading.Thread(target=self._run, name=f"reader {self.url}", daemon=True)
        self._thread.start()

    def close(self, timeout_s: float = 2.0) -> None:
        """Stop the reader thread and close the port."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
        self._close_port()

    def write(self, data: bytes) -> bool:
        """Write `data`; False (not an exception) when the port is not open or the write fails."""
        with self._write_lock:
            port = self._port
            if port is None:
                return False
            try:
                port.write(data)
                return True
            except (serial.SerialException, OSError):
                return False

    def _close_port(self) -> None:
        with self._write_lock:
            port, self._port = self._port, None
        if port is not None:
            with contextlib.suppress(Exception):
                port.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._port is None:
                try:
                    port = self._opener(self.url, self.settings)
                except DeviceNotFound:
                    self._listener.idle()
                    self._stop.wait(self.settings.reconnect_interval_s)
                    continue
                with self._write_lock:
                    self._port = port
            self._serve_connection()

    def _serve_connection(self) -> None:
        port = self._port
        assert port is not None
        self.connections += 1
        with contextlib.suppress(Exception):
            port.reset_input_buffer()  # bytes queued while nobody listened are stale
        self._listener.connection_made()
        reason = "closed"
        while not self._stop.is_set():
            try:
                data = port.read(1)  # blocks up to read_timeout_s
                waiting = port.in_waiting if data else 0
                if waiting:
                    data += port.read(min(waiting, self.settings.read_size))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                reason = _reason(exc)
                break
            if data:
                self._listener.data_received(data)
            self._listener.idle()
        self._close_port()
        self._listener.connection_lost(reason)
        if not self._stop.is_set():
            self._stop.wait(min(0.05, self.settings.reconnect_interval_s))


def monotonic_s() -> float:
    """The host clock used for link time-outs."""
    return time.monotonic()
