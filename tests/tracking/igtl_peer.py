"""A bare OpenIGTLink peer for tests: a listening socket on 127.0.0.1 that sends whatever bytes a
test gives it (good messages, garbage, a bad CRC, half a message) and keeps what it receives, and
a wait on a condition with a generous deadline (never a fixed sleep that assumes speed)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable

import numpy as np

from probe_nav.drivers.tracking import igtl_wire

WAIT_S = 20.0  # generous: a loaded 2-core machine may not schedule a thread for seconds


def wait_for(condition: Callable[[], bool], timeout_s: float = WAIT_S) -> bool:
    """Poll `condition` until it holds (True) or timeout_s passes (False)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def transform_bytes(x_mm: float, device: str = "ProbeToTracker",
                    stamp_s: float | None = None, matrix: np.ndarray | None = None) -> bytes:
    """A TRANSFORM: identity rotation, tip at (x_mm, 0, 0) unless `matrix` is given."""
    if matrix is None:
        matrix = np.eye(4)
        matrix[0, 3] = x_mm
    return igtl_wire.pack(igtl_wire.transform_message(matrix, device, stamp_s))


class RawPeer:
    """One listening socket; accepts one client at a time (the newest), sends and receives."""

    def __init__(self, port: int = 0) -> None:
        self.listener = socket.create_server(("127.0.0.1", port))
        self.port = self.listener.getsockname()[1]
        self.listener.settimeout(0.1)
        self.client: socket.socket | None = None
        self.received = bytearray()
        self.accepted = 0
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(0.05)
            with self._lock:
                self.client = client
                self.accepted += 1
            while not self._stop.is_set():
                try:
                    data = client.recv(65536)
                except TimeoutError:
                    continue
                except OSError:
                    break
                if not data:
                    break
                with self._lock:
                    self.received += data

    def wait_client(self, timeout_s: float = WAIT_S) -> None:
        assert wait_for(lambda: self.client is not None, timeout_s), "no client connected"

    def send(self, data: bytes) -> None:
        assert self.client is not None
        self.client.sendall(data)

    def close(self) -> None:
        """Vanish: close the connection and stop listening."""
        self._stop.set()
        if self.client is not None:
            self.client.close()
        self.listener.close()
        self._thread.join(timeout=5.0)

    def messages(self) -> list[igtl_wire.WireEvent]:
        """What was received so far, decoded."""
        with self._lock:
            data = bytes(self.received)
        return igtl_wire.StreamParser().feed(data)
