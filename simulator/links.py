"""Links that carry an emulator's bytes to a host: a pseudo-terminal (a real serial device to the
host) or a TCP loopback socket (`socket://127.0.0.1:PORT` for pyserial)."""

from __future__ import annotations

import contextlib
import errno
import os
import select
import selectors
import socket
import time
import tty
from abc import ABC, abstractmethod
from pathlib import Path


class Link(ABC):
    """The device side of a connection: non-blocking reads and writes, one URL for the host."""

    url: str
    dropped_bytes: int = 0

    @abstractmethod
    def read(self) -> bytes:
        """Bytes from the host, b'' when there are none (never blocks)."""

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send bytes; what the host cannot take is dropped (like a UART nobody listens to)."""

    @abstractmethod
    def fileno(self) -> int:
        """A descriptor to wait on for host bytes."""

    def poll_connected(self) -> bool:
        """True when a host has just connected (the device should announce itself)."""
        return False

    @abstractmethod
    def close(self) -> None:
        """Take the device off the link (the host sees a disconnect)."""

    @abstractmethod
    def reopen(self) -> Link:
        """A fresh link at the same URL, after `close` (the device is plugged back in)."""


class PtyLink(Link):
    """A Linux pseudo-terminal in raw mode; `link_path` makes a stable symlink to it.

    A pty cannot come back under the same /dev/pts name once closed, so a device that is
    unplugged and plugged in again keeps its URL only through `link_path`.

    What the host does not read fills the pty's buffer (~14 KB on Linux); a write that finds it
    full drops the rest at once, as a UART nobody listens to would, unless `write_wait_s` > 0:
    then it waits that long for the host to make room first (tests: a host on a loaded machine
    may be scheduled late, and a fast simulated device would otherwise lose frames to that).
    """

    def __init__(self, link_path: str | None = None, write_wait_s: float = 0.0) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no CR/LF translation: a clean 8-bit serial line
        os.set_blocking(self._master, False)
        self.device_path = os.ttyname(self._slave)
        self._link_path = Path(link_path) if link_path else None
        if self._link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                self._link_path.unlink()
            self._link_path.symlink_to(self.device_path)
        self.url = str(self._link_path) if self._link_path else self.device_path
        self.dropped_bytes = 0
        self.write_wait_s = write_wait_s
        self._announced = False

    def read(self) -> bytes:
        try:
            return os.read(self._master, 4096)
        except BlockingIOError:
            return b""
        except OSError as exc:
            if exc.errno == errno.EIO:
                return b""
            raise

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        deadline: float | None = None
        while view:
            try:
                n = os.write(self._master, view)
            except BlockingIOError:
                deadline = deadline or time.monotonic() + self.write_wait_s
                left_s = deadline - time.monotonic()
                if left_s > 0 and select.select([], [self._master], [], left_s)[1]:
                    continue
                self.dropped_bytes += len(view)
                return
            view = view[n:]

    def fileno(self) -> int:
        return self._master

    def poll_connected(self) -> bool:
        if not self._announced:
            self._announced = True
            return True
        return False

    def close(self) -> None:
        if self._link_path is not None:
            with contextlib.suppress(FileNotFoundError):
                if self._link_path.is_symlink():
                    self._link_path.unlink()
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)

    def reopen(self) -> PtyLink:
        return PtyLink(str(self._link_path) if self._link_path else None, self.write_wait_s)

    def kill(self) -> None:
        """Vanish like a killed process: the pty closes but a link path stays behind, naming
        whichever pty gets the same number next (tests of a host that must not use it)."""
        for fd in (self._master, self._slave):
            with contextlib.suppress(OSError):
                os.close(fd)


class TcpLink(Link):
    """A TCP server on loopback that serves one host at a time."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self._host = host
        self._server = socket.create_server((host, port), reuse_port=False)
        self._server.setblocking(False)
        self.port = self._server.getsockname()[1]
        self.url = f"socket://{host}:{self.port}"
        self._client: socket.socket | None = None
        self._selector = selectors.DefaultSelector()
        self.dropped_bytes = 0
        self._new_client = False

    def _accept(self) -> None:
        if self._client is not None:
            return
        try:
            client, _ = self._server.accept()
        except BlockingIOError:
            return
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = client
        self._new_client = True

    def _drop_client(self) -> None:
        if self._client is not None:
            with contextlib.suppress(OSError):
                self._client.close()
            self._client = None

    def poll_connected(self) -> bool:
        self._accept()
        new, self._new_client = self._new_client, False
        return new

    def read(self) -> bytes:
        self._accept()
        if self._client is None:
            return b""
        try:
            data = self._client.recv(4096)
        except BlockingIOError:
            return b""
        except OSError:
            self._drop_client()
            return b""
        if not data:
            self._drop_client()
        return data

    def write(self, data: bytes) -> None:
        self._accept()
        if self._client is None:
            self.dropped_bytes += len(data)
            return
        try:
            sent = self._client.send(data)
        except BlockingIOError:
            sent = 0
        except OSError:
            self._drop_client()
            sent = 0
        self.dropped_bytes += len(data) - sent

    def fileno(self) -> int:
        return self._client.fileno() if self._client is not None else self._server.fileno()

    def close(self) -> None:
        self._drop_client()
        with contextlib.suppress(OSError):
            self._server.close()

    def reopen(self) -> TcpLink:
        return TcpLink(self.port, self._host)


def make_link(kind: str, link_path: str | None = None, port: int = 0) -> Link:
    """A link by name: 'pty' or 'tcp'."""
    if kind == "pty":
        return PtyLink(link_path)
    if kind == "tcp":
        return TcpLink(port)
    raise ValueError(f"unknown link {kind!r}; use pty or tcp")
