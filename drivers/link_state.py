"""Device's link-state judgement (STALE, silent-port reopen), apart from its protocol-facing API."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar

from probe_nav.drivers.device_events import DeviceEvent, LinkEvent
from probe_nav.drivers.frames import DeviceInfo, LinkState, LinkStats
from probe_nav.drivers.link_timing import ArrivalJitter, silent_reopen_s
from probe_nav.drivers.link_timing import stale_after_s as jittered_stale_after_s
from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.transport import SerialTransport

# A query protocol's handshake before its first frame (its identity asked and answered, a lost
# request retried after 1 s) may take this long on top of the start-up periods: a silent-port
# reopen must not cut it short on a loaded host.
QUERY_HANDSHAKE_S = 2.0


class LinkStateMachine:
    """The link state of a Device (a base class of it; device.py's docstring tells the rules):
    the stale and start-up bounds, the state re-evaluated on the host clock, and the silent-port
    reopen. Device.__init__ sets the attributes declared here."""

    # The device's own knobs and parts (device.py).
    default_frame_period_s: ClassVar[float]
    identifies_by_query: ClassVar[bool]
    startup_periods: ClassVar[float]
    url: str
    info: DeviceInfo | None
    problem: str | None
    clock: Callable[[], float]
    describe: Callable[[], str]
    log_limiter: RateLimitedLog
    _lock: threading.Lock
    _events: queue.Queue[DeviceEvent]
    _stats: LinkStats
    _transport: SerialTransport
    # The link-state bookkeeping.
    _fixed_stale_s: float | None
    _state: LinkState
    _state_reason: str
    _last_frame_host_s: float | None
    _connected_host_s: float
    _jitter: ArrivalJitter
    _silent_reopens: int  # reopens since the last frame (each waits twice as long)
    _lost_reason: str

    @property
    def link_state(self) -> LinkState:
        """The link state now, re-evaluated on the host clock."""
        self._update_state(self.clock())
        return self._state

    @property
    def expected_period_s(self) -> float:
        """Seconds between frames: the device's own word, else the driver's default."""
        return (self.info.frame_period_s if self.info else None) or self.default_frame_period_s

    @property
    def stale_after_s(self) -> float:
        """No frame for this long on an open port means STALE: 1.5 frame periods plus the
        jitter measured on the link (at most 2.0 s at 1 s frames, 0.29 s at 50 ms; link_timing.py),
        or the `stale_after_s` the device was made with."""
        if self._fixed_stale_s is not None:
            return self._fixed_stale_s
        return jittered_stale_after_s(self.expected_period_s, self._jitter)

    @property
    def startup_s(self) -> float:
        """Time allowed for the first frame after the port opens before the link is STALE
        (and, 0.25 s later, silent): a query protocol also gets QUERY_HANDSHAKE_S."""
        handshake_s = QUERY_HANDSHAKE_S if self.identifies_by_query else 0.0
        return self.stale_after_s + self.startup_periods * self.expected_period_s + handshake_s

    # ------------------------------------------------------------ silence

    def _next_reopen_s(self) -> float:
        stale_s = self.stale_after_s
        wait_s = silent_reopen_s(self.expected_period_s, stale_s, self._silent_reopens)
        self._silent_reopens += 1
        return wait_s

    def _watch_silence(self, now: float) -> None:
        """Close and reopen a port silent for 3 frame periods (later: longer), or one whose URL
        now names another file (a link re-pointed by a device that came back)."""
        last = self._last_frame_host_s
        since = last if last is not None else self._connected_host_s
        bound_s = self.stale_after_s if last is not None else self.startup_s
        limit_s = silent_reopen_s(self.expected_period_s, bound_s, self._silent_reopens)
        silent_s = now - since
        reason = ""
        unless_bytes = False
        if silent_s > limit_s and self._transport.bytes_waiting():
            return  # bytes are waiting: the host, not the device, was late (not silent)
        if silent_s > limit_s:
            why = f" ({self.problem})" if self.problem else ""
            reason = f"no frame for {silent_s:.1f} s{why}: closing and reopening the port"
            self._silent_reopens += 1
            unless_bytes = True  # the reader may just not have been scheduled: not silent
        elif silent_s > bound_s and (moved := self._transport.url_moved()):
            reason = f"{self.url} now points at {moved}: reopening the port"
        if reason:
            with self._lock:
                self._stats = replace(self._stats, silent_reopens=self._stats.silent_reopens + 1)
            self.log_limiter.log(logging.WARNING, f"{self.url}: silent", "%s: %s",
                                 self.describe(), reason)
            self._transport.request_reopen(reason, unless_bytes=unless_bytes)

    # ------------------------------------------------------------ state machine

    def _update_state(self, now: float) -> None:
        if not self._transport.is_open:
            if self._state is not LinkState.CONNECTING:
                self._set_state(LinkState.DISCONNECTED, self._lost_reason, now)
            return
        last = self._last_frame_host_s
        reference = last if last is not None else self._connected_host_s
        bound_s = self.stale_after_s if last is not None else self.startup_s
        if now - reference > bound_s:
            why = f": {self.problem}" if self.problem else ""
            self._set_state(LinkState.STALE, f"no frame for {now - reference:.1f} s{why}", now)
        elif last is not None:
            self._set_state(LinkState.CONNECTED, "frames arriving", now)

    def _set_state(self, state: LinkState, reason: str, now: float) -> None:
        with self._lock:
            if state is self._state and not (
                    state is LinkState.DISCONNECTED and reason != self._state_reason):
                return  # (a new reason for being disconnected is news: told, not logged twice)
            before, self._state, self._state_reason = self._state, state, reason
        # STALE is this class's own finding; a lost port is logged (with its error) by the transport
        level = logging.WARNING if state is LinkState.STALE else logging.INFO
        self.log_limiter.log(level, f"{self.url}: link {state.name}", "%s: link %s -> %s: %s",
                             self.describe(), before.name, state.name, reason, burst=10)
        self._events.put(LinkEvent(state, reason, now))
