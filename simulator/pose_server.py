"""The simulator as an OpenIGTLink tracker: the probe's true pose served as TRANSFORM messages on
loopback, with a tracker's faults on demand (Gaussian noise on the tip and the axis, a late
stamp, dropouts), so the pose chain is tested through the real protocol.

A pose is `pose_at(h)` for host monotonic time h; the message is stamped with the wall time of h
(time.time() of that instant), from which a client recovers h. With `latency_s` L the pose sent
at h is the pose of h - L but stamped h: a tracker whose stamps are late by L, which temporal
calibration must find.
"""

from __future__ import annotations

import logging
import math
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.tracking import igtl_wire
from probe_nav.drivers.tracking.pose import PoseSample, Vec3

log = logging.getLogger(__name__)

PoseAt = Callable[[float], tuple[Vec3, Vec3]]
DEFAULT_DROPOUT_S = 0.5  # length of each random dropout (a rate of dropouts was given)


class PoseServer:
    """A thread serving `pose_at` as OpenIGTLink TRANSFORM messages to every connected client.

    `dropouts`: (start_s, duration_s) pairs in seconds since start(), or a rate (per second) of
    random dropouts of DEFAULT_DROPOUT_S each. `port` 0 picks a free port (`.port` tells it).
    Loopback only."""

    def __init__(self, pose_at: PoseAt, host: str = "127.0.0.1", port: int = 0,
                 rate_hz: float = 60.0, noise_mm: float = 0.0, noise_deg: float = 0.0,
                 latency_s: float = 0.0,
                 dropouts: Sequence[tuple[float, float]] | float = (), seed: int = 0,
                 device_name: str = "ProbeToTracker",
                 clock: Callable[[], float] = time.monotonic) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("the pose server serves loopback only")
        if not (math.isfinite(rate_hz) and rate_hz > 0):
            raise ValueError(f"rate_hz must be > 0, got {rate_hz}")
        for value, what in ((noise_mm, "noise_mm"), (noise_deg, "noise_deg"),
                            (latency_s, "latency_s")):
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{what} must be a finite number >= 0, got {value}")
        self.pose_at = pose_at
        self.rate_hz, self.noise_mm, self.noise_deg = rate_hz, noise_mm, noise_deg
        self.latency_s = latency_s
        self.device_name = device_name
        self.clock = clock
        self._limited = RateLimitedLog(log)
        self._rng = np.random.default_rng(seed)
        self._dropouts = _dropout_schedule(dropouts, self._rng)
        self._listener = socket.create_server((host, port))
        self._listener.settimeout(0.1)
        self.host, self.port = host, int(self._listener.getsockname()[1])
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.start_s = clock()  # start(): dropouts are timed from here
        self._wall_offset_s = time.time() - clock()  # wall time of clock() reading h: h + this
        self.sent = 0  # messages sent (to any client)
        self.ticks = 0  # poses made (one per tick outside dropouts)

    # ------------------------------------------------------------ control

    def start(self) -> PoseServer:
        """Start accepting clients and sending; returns self."""
        self.start_s = self.clock()
        self._wall_offset_s = time.time() - self.clock()
        for target, name in ((self._accept, "pose-accept"), (self._send_loop, "pose-send")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop sending, close every connection and the listening socket."""
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=2.0)
        self._listener.close()
        with self._lock:
            for client in self._clients:
                client.close()
            self._clients.clear()

    def __enter__(self) -> PoseServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def n_clients(self) -> int:
        """Clients connected now."""
        with self._lock:
            return len(self._clients)

    def wall_s(self, host_s: float) -> float:
        """The wall time (time.time()) of the host instant `host_s` of this server's clock."""
        return host_s + self._wall_offset_s

    def in_dropout(self, host_s: float) -> bool:
        """True while nothing is sent (host_s on this server's clock)."""
        t = host_s - self.start_s
        return any(start <= t < start + duration for start, duration in self._dropouts(t))

    # ------------------------------------------------------------ what is sent

    def message_at(self, host_s: float) -> bytes:
        """The TRANSFORM sent at host time `host_s`: the (noisy) pose of host_s - latency_s,
        stamped with the wall time of host_s."""
        position, axis = self.pose_at(host_s - self.latency_s)
        tip = np.asarray(position, float)
        u = np.asarray(axis, float)
        u = u / np.linalg.norm(u)
        if self.noise_mm > 0:
            tip = tip + self._rng.normal(0.0, self.noise_mm, 3)
        if self.noise_deg > 0:
            u = _tilt(u, math.radians(self.noise_deg), self._rng)
        pose = PoseSample(host_s, (float(tip[0]), float(tip[1]), float(tip[2])),
                          (float(u[0]), float(u[1]), float(u[2])))
        message = igtl_wire.transform_message(pose.to_matrix(), self.device_name,
                                              self.wall_s(host_s))
        return igtl_wire.pack(message)

    def _send_loop(self) -> None:
        period_s = 1.0 / self.rate_hz
        next_s = self.clock()
        while not self._stop.is_set():
            now = self.clock()
            if now < next_s:
                self._stop.wait(min(next_s - now, 0.05))
                continue
            # A thread that was not scheduled for a while skips the ticks it missed, as a tracker
            # samples the present, not the past.
            next_s = max(next_s + period_s, now)
            if self.in_dropout(now) or not self.n_clients:
                continue  # (no client: no pose drawn, so a seed gives a client the same noise)
            try:
                data = self.message_at(now)
            except Exception as exc:  # a bad pose_at must not kill the server
                self._limited.log(logging.ERROR, "pose_at", "pose server: no pose at %.3f: "
                                  "%s: %s", now, type(exc).__name__, exc)
                continue
            self.ticks += 1
            self._broadcast(data)

    def _broadcast(self, data: bytes) -> None:
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            try:
                client.sendall(data)
                self.sent += 1
            except OSError:
                with self._lock:
                    if client in self._clients:
                        self._clients.remove(client)
                client.close()

    def send_raw(self, data: bytes) -> None:
        """Send bytes as they are to every client (tests: garbage, a bad CRC)."""
        self._broadcast(data)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(2.0)  # a client that stops reading is dropped, not waited for
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._clients.append(client)


def _tilt(u: np.ndarray, sd_rad: float, rng: np.random.Generator) -> np.ndarray:
    """u turned by a small random rotation: Gaussian (sd_rad) in each of the two directions
    perpendicular to u."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(u[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    e1 = np.cross(u, helper)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(u, e1)
    a, b = rng.normal(0.0, sd_rad, 2)
    v = u + math.tan(a) * e1 + math.tan(b) * e2
    return v / np.linalg.norm(v)


def _dropout_schedule(dropouts: Sequence[tuple[float, float]] | float,
                      rng: np.random.Generator) -> Callable[[float], list[tuple[float, float]]]:
    """A function of t (s since start) giving the dropouts that may cover t."""
    if isinstance(dropouts, int | float):
        rate = float(dropouts)
        if not (math.isfinite(rate) and rate >= 0):
            raise ValueError(f"a dropout rate must be >= 0 per second, got {rate}")
        if rate == 0:
            return lambda t: []
        seeded = np.random.default_rng(rng.integers(2 ** 63))
        starts: list[float] = []

        def random_dropouts(t: float) -> list[tuple[float, float]]:
            while not starts or starts[-1] <= t:  # Poisson starts, drawn as time goes on
                starts.append((starts[-1] if starts else 0.0) + seeded.exponential(1.0 / rate))
            return [(s, DEFAULT_DROPOUT_S) for s in starts if s <= t < s + DEFAULT_DROPOUT_S]
        return random_dropouts
    fixed = [(float(s), float(d)) for s, d in dropouts]
    if any(not (math.isfinite(s) and math.isfinite(d) and d >= 0) for s, d in fixed):
        raise ValueError("dropouts must be (start_s, duration_s) with duration_s >= 0")
    return lambda t: fixed


def device_pose_at(server: Any) -> PoseAt:
    """pose_at for a running DeviceServer: host time h -> device time (h - start) x speed ->
    the Simulation's pose then (the pose the counts of that device time were made at)."""
    sim = server.emulator.sim

    def pose_at(host_s: float) -> tuple[Vec3, Vec3]:
        device_t = server.device_t_s - (time.monotonic() - host_s) * server.speed
        pose = sim.pose_at(max(device_t, 0.0))
        return pose.position_mm, pose.axis
    return pose_at


def scenario_pose_at(simulation: Any, start_host_s: float | None = None,
                     speed: float = 1.0) -> PoseAt:
    """pose_at for a Simulation played from host time start_host_s (default now) at `speed`
    scenario seconds per host second."""
    start = time.monotonic() if start_host_s is None else start_host_s

    def pose_at(host_s: float) -> tuple[Vec3, Vec3]:
        pose = simulation.pose_at(max((host_s - start) * speed, 0.0))
        return pose.position_mm, pose.axis
    return pose_at
