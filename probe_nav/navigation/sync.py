"""Synchronisation of counts with poses: a buffer of poses in host time, and the device clock.

A count frame is stamped by the device's clock at the end of its interval (t_s, real_s); a pose
by the host's monotonic clock at the instant it was true (PoseSample.host_s). ClockMap turns
device time into host time; PoseTrack interpolates the pose at any host time. The pose of a
frame is then (frame_pose):

    PoseTrack.at(ClockMap.to_host(t_s - real_s / 2) - latency_s)

**latency_s, the pose-to-count latency** (defined here, once): how late the counts' mapped host
time is with respect to the poses' host time. The counts of a frame whose mid-interval maps to
host time h were made where the probe truly was at h - latency_s. Positive latency_s: the count
path is slower than what the pose sources already subtracted (USB and driver buffering, a device
that stamps on sending, the transport delay that ClockMap's lower envelope cannot see); it is
what temporal calibration (probe_nav.navigation.temporal) measures, or what the user enters.

Pure: no threads, no I/O, no wall clock (every time comes from the caller).
"""

from __future__ import annotations

import bisect
import math
from collections import deque

from probe_nav.drivers.tracking.pose import PoseSample

MAX_GAP_S = 0.1  # a tracker at 20-60 Hz: two samples further apart than this are a dropout
MAX_SPEED_MM_S = 2000.0  # faster than 2 m/s between two samples: a tracking glitch, not a hand
CAPACITY = 4096  # poses kept (68 s at 60 Hz, 200 s at 20 Hz)
ANTIPODAL_DOT = -0.999  # axes nearly opposite: no meaningful interpolation


def _slerp(a: tuple[float, float, float], b: tuple[float, float, float], f: float
           ) -> tuple[float, float, float] | None:
    """Normalised interpolation along the great circle from unit a to unit b (None if they are
    nearly opposite)."""
    dot = max(-1.0, min(1.0, sum(x * y for x, y in zip(a, b, strict=True))))
    if dot < ANTIPODAL_DOT:
        return None
    angle = math.acos(dot)
    if angle < 1e-9:
        wa, wb = 1.0 - f, f
    else:
        s = math.sin(angle)
        wa, wb = math.sin((1.0 - f) * angle) / s, math.sin(f * angle) / s
    v = [wa * x + wb * y for x, y in zip(a, b, strict=True)]
    n = math.sqrt(sum(x * x for x in v))
    return (v[0] / n, v[1] / n, v[2] / n)


class PoseTrack:
    """A bounded buffer of PoseSamples in host time (oldest dropped), interpolated on demand.

    Samples must come in time order; one at or before the newest is dropped (and counted in
    `out_of_order`), never inserted: a tracker's stream is ordered, a late one is a glitch."""

    def __init__(self, capacity: int = CAPACITY, max_gap_s: float = MAX_GAP_S,
                 max_speed_mm_s: float = MAX_SPEED_MM_S) -> None:
        if capacity < 2:
            raise ValueError("a pose track needs room for at least 2 samples")
        self.capacity = capacity
        self.max_gap_s = max_gap_s
        self.max_speed_mm_s = max_speed_mm_s
        self._t: list[float] = []
        self._s: list[PoseSample] = []
        self.out_of_order = 0

    def __len__(self) -> int:
        return len(self._s)

    def clear(self) -> None:
        """Forget every sample."""
        self._t.clear()
        self._s.clear()

    def add(self, sample: PoseSample) -> bool:
        """Append a sample; False (and counted) if it is not newer than the newest."""
        if self._t and sample.host_s <= self._t[-1]:
            self.out_of_order += 1
            return False
        self._t.append(sample.host_s)
        self._s.append(sample)
        if len(self._s) > self.capacity + self.capacity // 4:  # trim in batches: amortised O(1)
            del self._t[: len(self._t) - self.capacity]
            del self._s[: len(self._s) - self.capacity]
        return True

    def latest(self) -> PoseSample | None:
        """The newest sample (valid or not), None if empty."""
        return self._s[-1] if self._s else None

    def span_s(self) -> tuple[float, float] | None:
        """(oldest, newest) host time held, None if empty."""
        return (self._t[0], self._t[-1]) if self._t else None

    def at(self, host_s: float) -> PoseSample | None:
        """The pose at host time host_s: linear in the tip, great-circle in the axis, between
        the two samples around it. None outside the buffer, across an invalid sample, across
        a gap longer than max_gap_s, or if the tip would have moved faster than
        max_speed_mm_s between them: a frame gets a measured pose or none, never a guess."""
        i = bisect.bisect_left(self._t, host_s)
        if i < len(self._t) and self._t[i] == host_s:
            s = self._s[i]
            return PoseSample(host_s, s.position_mm, s.axis, True, s.error_mm) if s.valid \
                else None
        if i == 0 or i == len(self._t):
            return None
        a, b = self._s[i - 1], self._s[i]
        dt = b.host_s - a.host_s
        if not (a.valid and b.valid) or dt > self.max_gap_s:
            return None
        step_mm = math.dist(a.position_mm, b.position_mm)
        if step_mm > self.max_speed_mm_s * dt:
            return None
        f = (host_s - a.host_s) / dt
        axis = _slerp(a.axis, b.axis, f)
        if axis is None:
            return None
        pa, pb = a.position_mm, b.position_mm
        position = (pa[0] + f * (pb[0] - pa[0]), pa[1] + f * (pb[1] - pa[1]),
                    pa[2] + f * (pb[2] - pa[2]))
        errors = [e for e in (a.error_mm, b.error_mm) if not math.isnan(e)]
        return PoseSample(host_s, position, axis, True, max(errors) if errors else math.nan)


WINDOW_S = 20.0  # device seconds of (t, arrival) pairs whose lower envelope gives the offset
JUMP_S = 0.25  # a frame arriving this much earlier than the map allows: the device clock jumped
# The rate check (ClockMap.measured_rate): the envelope's offset sampled every RATE_SAMPLE_S of
# device time over RATE_SPAN_S; at the assumed rate it stays put (a crystal's 1e-4 moves it 3 ms
# over the span), at another it moves by (1/true - 1/assumed) host s per device s. The rate is
# judged wrong when both halves of the span move it the same way by more than RATE_TOLERANCE
# per second (37 ms per half): one step of the envelope (the first frames late, a minimum
# ageing out of the window) moves one half only. 0.5 % is 50 times a bad crystal; a wrong rate
# of that size lags the map by up to 0.1 s over WINDOW_S.
RATE_SAMPLE_S = 1.0
RATE_SPAN_S = 30.0
RATE_TOLERANCE = 5e-3


class ClockMap:
    """Device clock t_s -> host monotonic seconds, from (device t_s, host arrival s) pairs.

    A frame stamped t_s by the device arrives at host time t_s / rate + offset + delay with
    delay >= 0 (transport, buffering, a late host) and rate the device seconds per host second
    (`device_s_per_host_s`: 1 for a real device, the speed of a simulator played faster): the
    lower envelope of arrival - t_s / rate over a sliding window (WINDOW_S of device time, a
    monotonic deque: O(1) per pair) estimates offset plus the smallest delay. The rate must be
    right: with a simulator at 4x mapped at 1x, the envelope is always the newest frame, so
    every frame is mapped to its own arrival and a host 0.1 s late moves its pose by 0.4 s of
    the sweep (8 mm at 20 mm/s). The smallest delay itself cannot be seen; it is a constant
    part of the pose-to-count latency that temporal calibration measures. Drift is not
    modelled: a crystal off by 100 ppm moves the offset 2 ms over the 20 s window, against
    50-100 ms frames; the window slides, so the envelope follows the drift with that lag.

    A device clock that goes back (a reset, a reconnect) or jumps forward (a frame arriving
    more than JUMP_S before the map says it can) restarts the map (`resets` counts it).

    A rate that is not the device's shows as an envelope that keeps moving: `measured_rate`
    says so (RATE_TOLERANCE), so that the poses are not trusted while it does."""

    def __init__(self, window_s: float = WINDOW_S, jump_s: float = JUMP_S,
                 device_s_per_host_s: float = 1.0) -> None:
        if not (math.isfinite(device_s_per_host_s) and device_s_per_host_s > 0):
            raise ValueError(f"the device clock's rate must be > 0, got {device_s_per_host_s}")
        self.window_s = window_s
        self.jump_s = jump_s
        self.device_s_per_host_s = float(device_s_per_host_s)
        self._pairs: deque[tuple[float, float]] = deque()  # (t_s, arrival - t_s), offsets rising
        self._last_t_s: float | None = None
        self._history: deque[tuple[float, float]] = deque()  # (t_s, envelope offset) samples
        self.resets = 0

    @property
    def ready(self) -> bool:
        """Whether any pair has been seen since the last restart."""
        return bool(self._pairs)

    def offset_s(self) -> float | None:
        """host - device / rate of the lower envelope now, host seconds (None before the first
        pair)."""
        return self._pairs[0][1] if self._pairs else None

    def restart(self) -> None:
        """Forget the map (a new device, a new session)."""
        self._pairs.clear()
        self._history.clear()
        self._last_t_s = None

    def add(self, t_s: float, host_arrival_s: float) -> bool:
        """Take one frame's device end time and host arrival time; True if the map restarted
        (a clock reset or jump) before taking it."""
        offset = host_arrival_s - t_s / self.device_s_per_host_s
        restarted = False
        if self._last_t_s is not None:
            envelope = self._pairs[0][1]
            if t_s < self._last_t_s or offset < envelope - self.jump_s:
                self.restart()
                self.resets += 1
                restarted = True
        while self._pairs and self._pairs[-1][1] >= offset:
            self._pairs.pop()
        self._pairs.append((t_s, offset))
        while self._pairs[0][0] < t_s - self.window_s:
            self._pairs.popleft()
        self._last_t_s = t_s
        if not self._history or t_s - self._history[-1][0] >= RATE_SAMPLE_S:
            self._history.append((t_s, self._pairs[0][1]))
            while t_s - self._history[0][0] > RATE_SPAN_S:
                self._history.popleft()
        return restarted

    def measured_rate(self) -> float | None:
        """The device clock's rate (device s per host s) the envelope shows when it is not the
        assumed one (class docstring); None while it agrees or before RATE_SPAN_S of samples."""
        h = self._history
        if len(h) < 3 or h[-1][0] - h[0][0] < RATE_SPAN_S - 2 * RATE_SAMPLE_S:
            return None
        mid = h[len(h) // 2]
        first = (mid[1] - h[0][1]) / (mid[0] - h[0][0])
        second = (h[-1][1] - mid[1]) / (h[-1][0] - mid[0])
        if min(abs(first), abs(second)) <= RATE_TOLERANCE or first * second < 0:
            return None
        drift = (h[-1][1] - h[0][1]) / (h[-1][0] - h[0][0])  # 1/true - 1/assumed
        inverse = drift + 1.0 / self.device_s_per_host_s
        return 1.0 / inverse if inverse > 0 else math.inf

    def to_host(self, t_s: float) -> float | None:
        """The host time of device time t_s (None before the first pair)."""
        offset = self.offset_s()
        return None if offset is None else t_s / self.device_s_per_host_s + offset


def frame_pose(track: PoseTrack, clock: ClockMap, t_s: float, real_s: float,
               latency_s: float = 0.0) -> PoseSample | None:
    """The pose of a frame ending at device time t_s after real_s of counting: the pose at the
    host time of its mid-interval, less the pose-to-count latency (module docstring); None if
    the clock is not mapped yet or the track has no pose there."""
    host_mid = clock.to_host(t_s - real_s / 2.0)
    if host_mid is None:
        return None
    return track.at(host_mid - latency_s)
