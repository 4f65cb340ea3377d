"""Serial transport: pyserial `serial_for_url` (device paths and URLs alike) with a reader thread
that reports connect/disconnect and reconnects automatically, in the spirit of `serial.threaded`.

The reader thread survives its listener: an exception from protocol code closes the port, is
reported as the reason of the loss (logged with its traceback, rate-limited) and the port is
reopened. A listener may also ask for the port to be closed and reopened (`request_reopen`: a
silent port, a different device answering). A symlink to a pty that was created after the link
(a left-over link whose pty number another process has taken) is never opened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import serial

from probe_nav.drivers.errors import DeviceNotFound
from probe_nav.drivers.ratelimit import RateLimitedLog

log = logging.getLogger(__name__)
RECONNECT_LOG_INTERVAL_S = 60.0  # failed reopens: the first is logged, then a summary a minute
DRIVER_ERROR_LOG_INTERVAL_S = 60.0  # exceptions from protocol code: 3 tracebacks, then a summary
DRIVER_ERROR_MAX_PAUSE_S = 30.0  # a driver failing on every connection: the longest wait
PTY_DIR = "/dev/pts/"


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

    def open_failed(self, reason: str) -> None: ...


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
    leftover = leftover_link(url)
    if leftover:
        raise DeviceNotFound(leftover)
    try:
        port = serial.serial_for_url(
            url, baudrate=settings.baudrate, timeout=settings.read_timeout_s, exclusive=None
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise DeviceNotFound(f"cannot open {url}: {_reason(exc)}") from exc
    return port


def leftover_link(url: str) -> str:
    """Why `url` must not be opened, or "": a symlink to a pty created after the link itself.

    A program that serves a device on a pty (the simulator's `--link-path`, socat) opens the pty
    and then makes the link. If it dies, the link stays, and the pty number is free for the next
    process that opens a pty: the link then names someone else's terminal. Its pty is younger
    than the link, which a live link's never is. Only ptys are judged (devpts nodes are made when
    opened and never touched later); other device nodes may be chmod'ed after their links.
    """
    try:
        if not os.path.islink(url):
            return ""
        target = os.path.realpath(url)
        if not target.startswith(PTY_DIR):
            return ""
        link_ns = os.lstat(url).st_ctime_ns
        target_ns = os.stat(target).st_ctime_ns
    except (OSError, ValueError):
        return ""
    if target_ns <= link_ns:
        return ""
    return (f"{url} is a left-over link: {target} was created after it, by another program "
            "(the one that made the link has gone); not opened, waiting for the device")


def resolved_path(url: str) -> str:
    """The file `url` names now (symlinks followed), or "" for a URL that is not a path."""
    if "://" in url:
        return ""
    try:
        return os.path.realpath(url)
    except (OSError, ValueError):
        return ""


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
        self._error_log = RateLimitedLog(log, burst=3, interval_s=DRIVER_ERROR_LOG_INTERVAL_S,
                                         clock=lambda: monotonic_s())
        self._reopen_lock = threading.Lock()
        # (reason, seconds to wait, void if bytes are waiting) when asked
        self._reopen: tuple[str, float, bool] | None = None
        self.opened_path = ""  # what the URL named when the port was opened (symlinks followed)
        self.driver_errors = 0  # exceptions caught from the listener (protocol code)
        self._error_streak = 0  # connections in a row ended by a driver error

    @property
    def is_open(self) -> bool:
        """True while the port is open."""
        return self._port is not None

    def request_reopen(self, reason: str, delay_s: float = 0.0, *,
                       unless_bytes: bool = False) -> None:
        """Close the port, report `reason` as the loss, wait `delay_s` and reopen (any thread;
        takes effect at the reader's next turn). `unless_bytes`: the request is void if bytes
        came in that turn or are waiting (a port judged silent by a host that was itself not
        scheduled is not silent; closing it would throw away what the device sent)."""
        with self._reopen_lock:
            if self._reopen is None:
                self._reopen = (reason, max(0.0, delay_s), unless_bytes)

    def bytes_waiting(self) -> int:
        """Bytes the device sent that the reader has not taken yet (any thread; 0 if unknown)."""
        return _waiting(self._port)

    def url_moved(self) -> str:
        """Where the URL points now if that is no longer the file that was opened, else ""."""
        now = resolved_path(self.url)
        if not self.opened_path or not now or now == self.opened_path:
            return ""
        return now

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
                    self._call("open_failed", str(exc))
                    self._call("idle")
                    self._stop.wait(self.settings.reconnect_interval_s)
                    continue
                with self._write_lock:
                    self._port = port
            self._serve_connection()

    def _call(self, hook: str, *args: object) -> str:
        """Call a listener hook; an exception from it is logged with its traceback (rate-limited)
        and returned as a reason ("" when none)."""
        try:
            getattr(self._listener, hook)(*args)
        except Exception as exc:  # protocol code must never kill the reader thread
            reason = f"driver error in {hook}: {type(exc).__name__}: {exc}"
            self.driver_errors += 1
            self._error_streak += 1
            self._error_log.log(logging.ERROR, f"{self.url}: driver error",
                                "%s: %s; closing and reopening the port\n%s", self.url, reason,
                                traceback.format_exc().rstrip())
            return reason
        return ""

    def _driver_error_pause_s(self) -> float:
        """Wait before reopening after a driver error: the reconnect interval, doubling for each
        connection in a row that ended the same way (no busy loop of reopens and tracebacks)."""
        doublings = min(self._error_streak - 1, 16)
        return min(DRIVER_ERROR_MAX_PAUSE_S, self.settings.reconnect_interval_s * 2.0 ** doublings)

    def _take_reopen(self, port: SerialPort | None = None, got_bytes: bool = False
                     ) -> tuple[str, float] | None:
        with self._reopen_lock:
            asked, self._reopen = self._reopen, None
        if asked is None:
            return None
        reason, delay_s, unless_bytes = asked
        if unless_bytes and (got_bytes or _waiting(port)):
            log.debug("%s: not reopening (%s): bytes are arriving", self.url, reason)
            return None
        return reason, delay_s

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
        self.opened_path = resolved_path(self.url)
        self._take_reopen()  # a request about an earlier connection is void
        with contextlib.suppress(Exception):
            port.reset_input_buffer()  # bytes queued while nobody listened are stale
        reason = self._call("connection_made")
        pause_s = min(0.05, self.settings.reconnect_interval_s)
        while not reason and not self._stop.is_set():
            try:
                data = port.read(1)  # blocks up to read_timeout_s
                waiting = port.in_waiting if data else 0
                if waiting:
                    data += port.read(min(waiting, self.settings.read_size))
            except (serial.SerialException, OSError, TypeError, AttributeError) as exc:
                reason = _reason(exc)
                log.warning("%s: connection lost: %s (%s: %s); reconnecting", self.url, reason,
                            type(exc).__name__, exc)
                break
            if data:
                streak = self._error_streak
                reason = self._call("data_received", data)
                if not reason and streak:
                    self._error_streak = 0  # the driver copes with this connection
            reason = reason or self._call("idle")
            asked = self._take_reopen(port, bool(data))
            if asked is not None:
                reason, delay_s = asked
                pause_s = max(pause_s, delay_s)
                log.info("%s: closing the port: %s; reopening in %.2g s", self.url, reason,
                         pause_s)
        if self._error_streak and reason.startswith("driver error"):
            pause_s = max(pause_s, self._driver_error_pause_s())
        self._lost_s = monotonic_s()
        self._close_port()
        self._call("connection_lost", reason or "closed")
        if not self._stop.is_set():
            self._stop.wait(pause_s)


def _waiting(port: SerialPort | None) -> int:
    """Bytes waiting in the port's input buffer (0 if it cannot tell)."""
    if port is None:
        return 0
    try:
        return int(port.in_waiting)
    except (serial.SerialException, OSError, TypeError, AttributeError, ValueError):
        return 0


def monotonic_s() -> float:
    """The host clock used for link time-outs."""
    return time.monotonic()
