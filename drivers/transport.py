"""Serial transport: pyserial `serial_for_url` (device paths and URLs alike) with a reader thread
that reports connect/disconnect and reconnects automatically, in the spirit of `serial.threaded`."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import serial

from probe_nav.drivers.errors import DeviceNotFound
from probe_nav.drivers.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)
RECONNECT_LOG_INTERVAL_S = 60.0  # failed reopens: the first is logged, then a summary a minute


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


class SerialPort(Protocol):
    """What the drivers use of an open pyserial port.

    `serial_for_url` returns a different class per URL scheme (device path, loop://, socket://,
    rfc2217://), and pyserial's common base class `SerialBase` lacks `in_waiting` and
    `reset_input_buffer`; any of them, or a test double, fits this.
    """

    @property
    def in_waiting(self) -> int: ...

    def read(self, size: int = 1, /) -> bytes: ...

    def write(self, data: bytes, /) -> int | None: ...

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


def open_port(url: str, settings: SerialSettings) -> SerialPort:
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
        opener: Callable[[str, SerialSettings], SerialPort] = open_port,
    ) -> None:
        self.url = url
        self.settings = settings or SerialSettings()
        self._listener = listener
        self._opener = opener
        self._port: SerialPort | None = None
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.connections = 0
        self._reopen_log = RateLimitedLog(log, burst=1, interval_s=RECONNECT_LOG_INTERVAL_S,
                                          clock=lambda: monotonic_s())
        self._failed_reopens = 0
        self._lost_s = 0.0

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def start(self, first_port: SerialPort | None = None) -> None:
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
                except DeviceNotFound as exc:
                    self._failed_reopens += 1
                    self._reopen_log.log(logging.INFO, f"{self.url}: reopen failed",
                                         "%s: reopen failed (%s); retrying every %g s", self.url,
                                         exc, self.settings.reconnect_interval_s)
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
        if self.connections == 1:
            log.info("%s: connected at %d baud", self.url, self.settings.baudrate)
        else:
            self._reopen_log.flush(force=True)
            self._reopen_log.reset(f"{self.url}: reopen failed")
            log.info("%s: reconnected (connection %d) after %d failed attempts in %.1f s",
                     self.url, self.connections, self._failed_reopens, monotonic_s() - self._lost_s)
        self._failed_reopens = 0
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
                log.warning("%s: connection lost: %s (%s: %s); reconnecting", self.url, reason,
                            type(exc).__name__, exc)
                self._lost_s = monotonic_s()
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
