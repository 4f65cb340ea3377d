"""The probe's pose from an OpenIGTLink tracker server (PLUS, 3D Slicer's OpenIGTLinkIF, the
simulator's pose server, NDI/Atracsys/OptiTrack bridges): TRANSFORM messages of one device name.

Why not pyigtl's OpenIGTLinkClient: it keeps only the newest message per device (a 60 Hz pose
stream polled at 10 Hz would lose five poses in six), never checks the CRC, prints tracebacks on
a malformed message and cannot find its way back into step after garbage. Here a small socket
thread of our own feeds pyigtl's message codec through igtl_wire.StreamParser (header checks,
CRC-64, resynchronisation), keeps every sample, and reconnects to the same host:port.

A sample's host_s is the message's timestamp mapped onto time.monotonic() when that is plausible
(at most STAMP_WINDOW_S before its arrival and not after it: the tracker's clock agrees with
ours), else its arrival time; then minus `latency_s` (the tracker's delay found by temporal
calibration or entered).
"""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.tracking import igtl_wire
from probe_nav.drivers.tracking.pose import PoseSample, Vec3
from probe_nav.drivers.tracking.registry import COMMON_KEYS, CommonOptions

log = logging.getLogger(__name__)

DEFAULT_PORT = 18944
STAMP_WINDOW_S = 2.0  # a stamp up to this long before arrival is believed
STAMP_AHEAD_S = 0.05  # a stamp this far after arrival is still believed (clock jitter)
MAX_TRANSLATION_MM = 10_000.0  # a tracker's working volume is ~2 m: 10 m is a broken message
MAX_SAMPLES = 100_000  # kept between polls: ~28 min at 60 Hz, then the oldest go
RECV_BYTES = 65536


def _valid_from_metadata(metadata: dict[str, str]) -> bool:
    """PLUS (OpenIGTLink v3 header) flags a transform with metadata "...TransformStatus"
    = "OK" | "INVALID" | "MISSING"; anything but OK is invalid. No such key: valid."""
    for key, value in metadata.items():
        if key.endswith("TransformStatus") and str(value).strip().upper() != "OK":
            return False
    return True


class IgtlPoseSource:
    """A PoseSource receiving TRANSFORM messages of `device_name` from host:port.

    Connects (and reconnects, to the same host:port) on a daemon thread; `poll()` never blocks.
    Counters: `received` (samples made), `rejected` (bad CRC, malformed, non-orthonormal, NaN,
    absurd translation, a run of garbage bytes), `ignored` (other devices and message types),
    `garbage_bytes`, `reconnects`. `connected` is False while there is no connection."""

    def __init__(self, host: str = "127.0.0.1", port: int = DEFAULT_PORT,
                 device_name: str = "ProbeToTracker", tip_offset_mm: Vec3 = (0.0, 0.0, 0.0),
                 tool_axis: Vec3 = (0.0, 0.0, 1.0), latency_s: float = 0.0,
                 retry_s: float = 0.2, start: bool = True,
                 clocks: tuple[Callable[[], float], Callable[[], float]] | None = None) -> None:
        if not math.isfinite(latency_s):
            raise ValueError("latency_s must be finite")
        self.name = f"OpenIGTLink {device_name}@{host}:{port}"
        self.host, self.port, self.device_name = host, int(port), device_name
        self.tip_offset_mm, self.tool_axis = tip_offset_mm, tool_axis
        self.latency_s = float(latency_s)
        self.retry_s = retry_s
        self._monotonic, self._wall = clocks or (time.monotonic, time.time)
        self.received = self.rejected = self.ignored = self.garbage_bytes = 0
        self.reconnects = 0
        self.stamps_used = 0  # samples timed by their message stamp (the rest: arrival)
        self._limited = RateLimitedLog(log)
        self._connected = False
        self._samples: deque[PoseSample] = deque(maxlen=MAX_SAMPLES)
        self._last: PoseSample | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._socket: socket.socket | None = None
        self._thread = threading.Thread(target=self._run, name="igtl-pose", daemon=True)
        if start:
            self._thread.start()

    # ------------------------------------------------------------ PoseSource

    @property
    def connected(self) -> bool:
        """True while a connection to the tracker is open."""
        return self._connected

    def poll(self) -> list[PoseSample]:
        """The samples received since the last call, oldest first."""
        with self._lock:
            out = list(self._samples)
            self._samples.clear()
        return out

    def close(self) -> None:
        """Stop the thread and close the connection (waits at most ~1 s)."""
        self._stop.set()
        sock = self._socket
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if self._thread.is_alive():
            self._thread.join(timeout=1.0)

    def __enter__(self) -> IgtlPoseSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ the thread

    def _run(self) -> None:
        parser = igtl_wire.StreamParser()
        first = True
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=1.0)
            except OSError as exc:
                self._limited.log(logging.INFO, "connect",
                                  "OpenIGTLink %s:%d: cannot connect (%s); retrying",
                                  self.host, self.port, exc.strerror or exc)
                self._stop.wait(self.retry_s)
                continue
            if not first:
                self.reconnects += 1
            first = False
            log.info("OpenIGTLink: connected to %s:%d", self.host, self.port)
            parser.reset()
            _keepalive(sock)
            self._socket = sock
            self._connected = True
            try:
                self._receive(sock, parser)
            except Exception:  # a bug must not end the thread: drop the connection, go on
                log.exception("OpenIGTLink %s:%d: unexpected error", self.host, self.port)
            finally:
                self._connected = False
                self._socket = None
                sock.close()
            if not self._stop.is_set():
                self._limited.log(logging.WARNING, "lost",
                                  "OpenIGTLink %s:%d: connection lost; reconnecting",
                                  self.host, self.port)
                self._stop.wait(self.retry_s)

    def _receive(self, sock: socket.socket, parser: igtl_wire.StreamParser) -> None:
        """Read until the peer closes, an error, or close()."""
        sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = sock.recv(RECV_BYTES)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            arrival = (self._monotonic(), self._wall())
            for event in parser.feed(data):
                try:
                    self._handle(event, arrival)
                except Exception:  # a bug here must not end the thread
                    log.exception("OpenIGTLink: unexpected error handling a message")
                    self.rejected += 1

    def _handle(self, event: igtl_wire.WireEvent, arrival: tuple[float, float]) -> None:
        if event.kind == "garbage":
            self.garbage_bytes += event.n_bytes
            self._reject("garbage", "OpenIGTLink: %d bytes that are not a message skipped",
                         event.n_bytes)
            return
        if event.kind in ("bad_crc", "bad_body"):
            self._reject(event.kind, "OpenIGTLink: message rejected: %s", event.detail)
            return
        header = event.header
        assert header is not None
        if header.device_name != self.device_name:
            self.ignored += 1
            return
        if header.message_type == "STATUS":
            self._status(igtl_wire.status_code(event.body), header.timestamp_s, arrival)
            return
        if event.kind != "message" or header.message_type != "TRANSFORM":
            self.ignored += 1
            return
        matrix = np.asarray(event.message.matrix, dtype=float)
        reason = _implausible(matrix)
        if reason:
            self._reject("implausible", "OpenIGTLink: %s '%s' rejected: %s",
                         header.message_type, header.device_name, reason)
            return
        valid = _valid_from_metadata(getattr(event.message, "metadata", {}) or {})
        try:
            sample = PoseSample.from_matrix(matrix, self._host_s(header.timestamp_s, arrival),
                                            self.tip_offset_mm, self.tool_axis, valid=valid)
        except ValueError as exc:
            self._reject("implausible", "OpenIGTLink: TRANSFORM rejected: %s", exc)
            return
        self._add(sample)

    def _status(self, code: int | None, stamp_s: float, arrival: tuple[float, float]) -> None:
        """A STATUS for our device other than OK (1): the tool is not tracked now."""
        if code is None:
            self._reject("bad_body", "OpenIGTLink: STATUS too short")
            return
        last = self._last
        if code == 1 or last is None:
            return
        self._add(PoseSample(self._host_s(stamp_s, arrival), last.position_mm, last.axis,
                             valid=False))

    def _add(self, sample: PoseSample) -> None:
        with self._lock:
            self._samples.append(sample)
            if sample.valid:
                self._last = sample
            self.received += 1

    def _reject(self, key: str, msg: str, *args: object) -> None:
        self.rejected += 1
        self._limited.log(logging.WARNING, key, msg, *args)

    def _host_s(self, stamp_s: float, arrival: tuple[float, float]) -> float:
        """The message's stamp on the host's monotonic clock if plausible, else its arrival;
        minus the latency."""
        mono, wall = arrival
        age_s = wall - stamp_s
        if -STAMP_AHEAD_S <= age_s <= STAMP_WINDOW_S:
            self.stamps_used += 1
            return mono - max(age_s, 0.0) - self.latency_s
        return mono - self.latency_s


def _keepalive(sock: socket.socket) -> None:
    """TCP keepalive: a peer that vanished without closing (cable, crash of its machine) is
    found within ~10 s. Silence alone is not a reason to drop a connection (Slicer sends a
    transform only when it changes)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 4), ("TCP_KEEPINTVL", 2), ("TCP_KEEPCNT", 3)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


def _implausible(matrix: np.ndarray) -> str:
    """Why a received transform cannot be a tracked pose ('' if it can)."""
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        return "not a finite 4x4 matrix"
    if np.max(np.abs(matrix[:3, 3])) > MAX_TRANSLATION_MM:
        return f"translation beyond {MAX_TRANSLATION_MM:g} mm"
    rot = matrix[:3, :3]
    if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-3) or np.linalg.det(rot) < 0:
        return "rotation not orthonormal"
    return ""


def from_config(table: dict[str, Any], base_dir: Path, common: CommonOptions) -> IgtlPoseSource:
    """The `openigtlink` tracker of a [tracker] table: host (default 127.0.0.1), port (default
    18944), device (default ProbeToTracker), plus the common keys (drivers/tracking/registry)."""
    unknown = sorted(set(table) - {*COMMON_KEYS, "host", "port", "device"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} for source openigtlink "
                         "(host, port, device)")
    host, port = table.get("host", "127.0.0.1"), table.get("port", DEFAULT_PORT)
    device = table.get("device", "ProbeToTracker")
    if not isinstance(host, str) or not host:
        raise ValueError("host must be a host name or address")
    if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
        raise ValueError(f"port must be 1-65535, got {port!r}")
    if not isinstance(device, str) or not device or len(device) > 20:
        raise ValueError("device must be an OpenIGTLink device name of 1-20 characters")
    return IgtlPoseSource(host, port, device, common.tip_offset_mm, common.tool_axis,
                          common.latency_s)
