"""Device base class: a transport feeding a protocol, producing CountFrames, status, identity
and link-state changes as events on a thread-safe queue. Protocols subclass it (ProbeLink, GMC).

Link state is judged on the host clock: port closed -> DISCONNECTED; port open but no frame for
`stale_after_s` (1.5 frame periods plus the jitter measured on the link, link_timing.py) -> STALE;
otherwise CONNECTED. A reading is only live while CONNECTED. The clock is the device's `clock`
attribute (time.monotonic; a test may put a fake or simulated one there).

A port silent for 3 frame periods is closed and reopened (link_state.py). After a reconnection
nothing is shown until the device has proved it is the one seen before (link_identity.py,
reconnect_identity.py): query protocols (`identifies_by_query`) by answering their identity query
with the same model and serial, the others by a valid frame, before which their writes are held
back. A different device is reported ("a different device answers at ...") and the port closed;
reconnection goes on for the original.
"""

from __future__ import annotations

import logging
import queue
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import ClassVar

from probe_nav.drivers.device_events import (
    DeviceEvent,
    FrameEvent,
    InfoEvent,
    LinkEvent,
    StatusEvent,
)
from probe_nav.drivers.frames import (
    CounterSpec,
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    LinkState,
    LinkStats,
)
from probe_nav.drivers.link_identity import IdentityGate, Verdict, who
from probe_nav.drivers.link_state import QUERY_HANDSHAKE_S
from probe_nav.drivers.link_timing import ArrivalJitter
from probe_nav.drivers.plausibility import INT64_MAX, FrameBounds, PlausibilityGate, frame_bounds
from probe_nav.drivers.probing import Identification, read_for
from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.reconnect_identity import ReconnectIdentity
from probe_nav.drivers.transport import (
    SerialPort,
    SerialSettings,
    SerialTransport,
    monotonic_s,
    open_port,
)

__all__ = ["QUERY_HANDSHAKE_S", "ROUTINE_COUNTERS", "Device", "DeviceEvent", "FrameEvent",
           "InfoEvent", "LinkEvent", "StatusEvent"]

log = logging.getLogger(__name__)
# Counters of things that happen in normal operation (a fragment on connecting, a query flushing
# the stream...): logged at DEBUG. Every other count_bad counter is a rejected frame or a fault.
ROUTINE_COUNTERS = frozenset({"partial_first_line", "baseline_spectra", "flushed_bytes",
                              "reference_lines", "unanswered_queries"})


class Device(ReconnectIdentity, ABC):
    """A counting device on a serial link. Subclasses implement the protocol hooks only."""

    protocol: ClassVar[str] = ""
    default_baudrate: ClassVar[int] = 115200
    default_frame_period_s: ClassVar[float] = 1.0
    # Autodetection (probe_nav.drivers.autodetect): lower orders are tried first; active probes
    # (that send a harmless query) come before drivers that can only listen. One identify per
    # protocol family.
    identify_order: ClassVar[int] = 100
    identify_baudrates: ClassVar[tuple[int, ...]] = ()  # empty: (default_baudrate,)
    # The plausibility gate (plausibility.py) bounds counts by the counter's max_rate_cps: the
    # device's own `info.counter`, else this default, else the protocol-level fallback; and by the
    # widest count the protocol can carry.
    default_counter: ClassVar[CounterSpec] = CounterSpec()
    fallback_max_rate_cps: ClassVar[float | None] = None
    max_frame_count: ClassVar[int] = INT64_MAX
    # True: after a reconnection the device is asked who it is (the identity query is a write)
    # and must answer with the same model and serial before anything is shown. False: it proves
    # itself with a valid frame, and nothing is written to it before (link_identity.py).
    identifies_by_query: ClassVar[bool] = False
    # Frame periods allowed, beyond the stale bound, for the first frame after the port opens
    # (a line in progress, a handshake, a cumulative spectrum's baseline line).
    startup_periods: ClassVar[float] = 2.0

    def __init__(
        self, url: str, *, baudrate: int | None = None, stale_after_s: float | None = None
    ) -> None:
        self.url = url
        self.settings = SerialSettings(baudrate=baudrate or self.default_baudrate)
        self._fixed_stale_s = stale_after_s
        self._events: queue.Queue[DeviceEvent] = queue.Queue()
        self._lock = threading.Lock()
        self._transport = SerialTransport(url, self, self.settings)
        self._state = LinkState.CONNECTING
        self._last_frame_host_s: float | None = None
        self._connected_host_s = 0.0
        self._stats = LinkStats()
        self._gate = PlausibilityGate()
        self._identity = IdentityGate(by_query=self.identifies_by_query)
        self._jitter = ArrivalJitter()
        self._silent_reopens = 0  # reopens since the last frame (each waits twice as long)
        self._lost_reason = "port closed"
        self._state_reason = ""
        self.info: DeviceInfo | None = None
        self.status: DeviceStatus | None = None
        self.problem: str | None = None  # what is wrong with the link now, in words
        self.log_limiter = RateLimitedLog(log, clock=monotonic_s)  # rejects, gaps, link changes
        # The host clock that judges link state and stamps events (seconds). Replace it before
        # open() to test without waiting on real time, or to pace it by a simulated device.
        self.clock: Callable[[], float] = monotonic_s

    # ------------------------------------------------------------ public API

    @classmethod
    def identify(cls, port: SerialPort, timeout_s: float = 1.5) -> Identification | None:
        """Ask an open port politely whether it is this kind of device; None if not or unknown.

        The default only listens (for devices that cannot be asked anything) and leaves the
        verdict to `recognise`; drivers that can ask a harmless question override this.
        """
        if not cls.listens_only():
            return None
        raw = read_for(port, timeout_s, done=lambda buf: cls.recognise(buf) is not None)
        return cls.recognise(raw)

    @classmethod
    def recognise(cls, captured: bytes) -> Identification | None:
        """Whether bytes heard on a port (unasked) come from this kind of device; None if not."""
        return None

    @classmethod
    def listens_only(cls) -> bool:
        """True for drivers that identify by listening (`recognise`) rather than asking."""
        return (cls.identify.__func__ is Device.identify.__func__  # type: ignore[attr-defined]
                and cls.recognise.__func__ is not Device.recognise.__func__)  # type: ignore[attr-defined]

    def open(self, port: SerialPort | None = None) -> None:
        """Open the port now (DeviceNotFound if impossible) and start reading in the background.

        `port` is an already opened pyserial-like port to use instead (tests, or a caller that
        opened it itself); reconnections still go through `url`.
        """
        if port is None:
            port = open_port(self.url, self.settings)
        self._transport.start(first_port=port)

    def close(self) -> None:
        """Say goodbye if the protocol wants to (not to a device that has not proved who it is),
        stop the reader and close the port."""
        if self._transport.is_open and self._identity.proved:
            self.on_close()
        self._transport.close()
        self.log_limiter.flush(force=True)
        s = self.stats
        log.info("%s: closed after %d frames (%d dropped, %d rejected, %d bytes skipped, "
                 "%d reconnects)%s", self.describe(), s.frames, s.dropped_frames, s.bad_frames,
                 s.skipped_bytes, s.reconnects, f" {s.extra}" if s.extra else "")

    def describe(self) -> str:
        """Who this device is, for log lines: its URL, and model and serial once known."""
        info = self.info
        if info is None:
            return self.url
        return f"{self.url} ({who(info)})"

    def __enter__(self) -> Device:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def poll(self, timeout_s: float = 0.1) -> list[DeviceEvent]:
        """Events since the last call, waiting up to `timeout_s` for the first one."""
        out: list[DeviceEvent] = []
        try:
            out.append(self._events.get(timeout=timeout_s))
            while True:
                out.append(self._events.get_nowait())
        except queue.Empty:
            pass
        return out

    @property
    def stats(self) -> LinkStats:
        """Frame accounting so far."""
        with self._lock:
            return replace(self._stats, extra=dict(self._stats.extra),
                           driver_errors=self._transport.driver_errors)

    # ------------------------------------------------------------ for subclasses

    def send(self, data: bytes) -> bool:
        """Write raw bytes to the device. Nothing reaches a device found to be another one, and
        a listen-only device's writes wait until it has proved who it is (link_identity.py)."""
        if self._identity.rejected:
            return False
        if self._identity.hold(data):
            return True
        return self._transport.write(data)

    def frame_bounds(self) -> FrameBounds:
        """What a frame of this device can plausibly hold (the plausibility gate's bounds)."""
        cls = type(self)
        return frame_bounds(self.info, cls.default_counter, cls.fallback_max_rate_cps,
                            cls.max_frame_count, cls.default_frame_period_s)

    def emit_frame(self, frame: CountFrame, dropped_before: int = 0) -> bool:
        """Publish a CountFrame that passes the plausibility gate (False, counted as a bad frame
        with its reason, if it does not); `dropped_before` frames were lost just before it."""
        now = self.clock()
        verdict = self._gate.admit(frame, self.frame_bounds(), now)
        if verdict.frame is None:
            self.count_bad(bad_frames=1, implausible=1, details={"implausible": verdict.reason})
            return False
        if verdict.reason:
            self.count_bad(time_rebases=1, details={"time_rebases": verdict.reason})
        frame = verdict.frame
        if not self._frame_arrived(now, dropped_before):
            self._gate.undo()  # not published: its time is not the last one seen
            return False  # not from the device seen before (yet): withheld, counted
        with self._lock:
            self._stats = replace(
                self._stats,
                frames=self._stats.frames + 1,
                dropped_frames=self._stats.dropped_frames + max(0, dropped_before),
            )
            self._last_frame_host_s = now
            self.problem = None
        if dropped_before > 0:
            self.log_limiter.log(logging.WARNING, f"{self.url}: frames lost",
                                 "%s: %d frame(s) lost before frame %d (sequence gap)",
                                 self.describe(), dropped_before, frame.seq, count=dropped_before)
        self._update_state(now)
        self._events.put(FrameEvent(frame, now))
        return True

    def emit_status(self, status: DeviceStatus) -> None:
        """Publish a DeviceStatus (withheld until a reconnected device has proved who it is)."""
        if not self._identity.proved:
            return
        self.status = status
        self._events.put(StatusEvent(status, self.clock()))

    def emit_info(self, info: DeviceInfo) -> bool:
        """Publish the device's identity. After a reconnection it must be the device seen before
        (same model and serial): then a query protocol's device is proved; a different one is
        reported, nothing more is sent to it, and the port is closed (False)."""
        if self._identity.judge(info) is Verdict.DIFFERENT:
            self._different_device(info)
            return False
        if info != self.info:
            log.info("%s: identified as %s serial %r firmware %r (%s, detector %s)", self.url,
                     info.model, info.serial, info.firmware, info.protocol, info.detector)
        self.info = info
        if self.identifies_by_query:
            self._prove_identity()
        self._events.put(InfoEvent(info, self.clock()))
        return True

    def report_problem(self, reason: str) -> None:
        """Say what is wrong (no answer, wrong device...): a LinkEvent now, and in STALE reasons."""
        with self._lock:
            self.problem = reason
            state = self._state
        self.log_limiter.log(logging.INFO, f"{self.url}: problem", "%s: %s", self.describe(),
                             reason)
        self._events.put(LinkEvent(state, reason, self.clock()))

    def count_bad(self, bad_frames: int = 0, skipped_bytes: int = 0, *,
                  details: Mapping[str, str] | None = None, **extra: int) -> None:
        """Account for rejected frames, skipped bytes and protocol-specific counters.

        Each counter is logged under its name as the reason (rate-limited, see ratelimit.py);
        `details` may say more per counter (the decoder's message, the offending line).
        """
        for reason, n in extra.items():
            detail = (details or {}).get(reason, "")
            self.log_limiter.log(
                logging.DEBUG if reason in ROUTINE_COUNTERS else logging.WARNING,
                f"{self.url}: {reason}", "%s: rejected %s x%d%s", self.describe(), reason, n,
                f": {detail}" if detail else "", count=n)
        with self._lock:
            merged = dict(self._stats.extra)
            for key, value in extra.items():
                merged[key] = merged.get(key, 0) + value
            self._stats = replace(
                self._stats,
                bad_frames=self._stats.bad_frames + bad_frames,
                skipped_bytes=self._stats.skipped_bytes + skipped_bytes,
                extra=merged,
            )

    @abstractmethod
    def on_connect(self) -> None:
        """The port has just opened: reset the decoder, ask the device to identify and stream."""

    @abstractmethod
    def on_data(self, data: bytes) -> None:
        """Bytes arrived: decode them and emit frames/status/info."""

    def on_tick(self, now_s: float) -> None:
        """Called every read time-out on the reader thread: retries and time-outs live here."""

    def on_close(self) -> None:
        """Called before a deliberate close while the port is open (e.g. stop streaming)."""

    def on_lost(self, reason: str) -> None:
        """Called on the reader thread when the port is lost (fail pending requests here)."""

    def on_identity_confirmed(self) -> None:
        """A reconnected device has proved it is the one seen before: what was held back until
        then (starting a stream) may be sent now. Not called on a first connection."""

    # ------------------------------------------------------------ LinkListener (reader thread)

    def connection_made(self) -> None:
        now = self.clock()
        with self._lock:
            self._connected_host_s = now
            self._last_frame_host_s = None
            self.problem = None
            if self._transport.connections > 1:
                self._stats = replace(self._stats, reconnects=self._stats.reconnects + 1)
        self._gate.new_connection()
        self._identity.new_connection()
        self.on_connect()
        self._update_state(now)

    def data_received(self, data: bytes) -> None:
        self.on_data(data)

    def connection_lost(self, reason: str) -> None:
        self._lost_reason = reason
        try:
            self.on_lost(reason)
        finally:
            self._set_state(LinkState.DISCONNECTED, reason, self.clock())

    def open_failed(self, reason: str) -> None:
        self._lost_reason = reason
        if self._state is not LinkState.CONNECTING:
            self._set_state(LinkState.DISCONNECTED, reason, self.clock())

    def idle(self) -> None:
        now = self.clock()
        if self._transport.is_open and not self._identity.rejected:
            self.on_tick(now)
            self._watch_silence(now)
        self._update_state(now)
        self.log_limiter.flush()
