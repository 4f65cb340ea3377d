"""The plausibility gate: a CountFrame that no real counter could have produced never leaves a
driver. Pure (frames and the host clock in, verdicts out); `Device.emit_frame` applies it to every
frame of every protocol, and counts a rejected one as a bad frame with its reason.

Rejected (docs/safety.md, "Plausibility gate"):
- a window count or a spectrum channel that is not an integer, is negative, or exceeds what the
  counter can physically count in the frame's real time (`FrameBounds.max_count`); a spectrum
  whose total exceeds it;
- `real_s` not finite, <= 0 or longer than MAX_REAL_PERIODS frame periods; `live_s` not finite,
  < 0 or above `real_s`; `t_s` not finite, negative or beyond MAX_T_S;
- `t_s` that does not advance, an interval that starts before the previous frame ended (by more
  than OVERLAP_TOLERANCE_S), or `t_s` that jumps forward by more than max(JUMP_PERIODS frame
  periods, JUMP_MIN_S) beyond `real_s` plus the host time since the last accepted frame: such a
  time is "out of line";
- an interval `real_s` longer than the host time since the last accepted frame plus that same
  allowance (a garbled earlier timestamp on a device that gives `real_s` as the difference of its
  timestamps: 1 s of counts spread over 21 s would read low), whatever the frame's flags.

An out-of-line time is a new time base, accepted at once when the frame carries CLOCK_RESET or is
the first of a connection (unless its interval overlaps the previous frame's while its `t_s`
continues the old clock: a restarted clock does not land there, a garbled reference does), and
otherwise after REBASE_AFTER consecutive out-of-line frames that are
in line with each other (a device clock that really restarted without saying so costs
REBASE_AFTER - 1 frames, never the link). A new time base is flagged CLOCK_RESET. Its `t_s` is kept
when it is a forward jump of at most MAX_KEPT_JUMP_S; otherwise (a jump back, or a huge one) the
gate adds an offset so that `t_s` continues from the previous frame by `real_s`: the frames that
leave a driver always have increasing, gap-bounded times, so recordings stay readable and replay
never spans 10^9 s.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass, replace

from probe_nav.drivers.frames import CounterSpec, CountFrame, DeviceInfo, FaultFlag

INT64_MAX = (1 << 63) - 1
# Count bound: m = max_rate_cps x real_s x (1 + CLOCK_ALLOWANCE); a count above
# m + POISSON_SIGMAS sqrt(m) + POISSON_OFFSET is rejected. max_rate_cps bounds the MEAN rate; the
# count fluctuates about its mean by at most Poisson's sd (dead time makes counts sub-Poisson), and
# m + 6 sqrt(m) + 13 is above the 1 - 1e-9 quantile of Poisson(m) for every m (the + 13 is the
# small-m skew correction (z^2 + 2) / 3 of the Poisson quantile, rounded up; tested against the
# exact quantile). CLOCK_ALLOWANCE: a device's nominal interval (GMC, MightyOhm, OGD: assumed, not
# measured) may run long by a few % on an RC oscillator.
POISSON_SIGMAS = 6.0
POISSON_OFFSET = 13.0
CLOCK_ALLOWANCE = 0.05
LIVE_TOLERANCE = 1e-6  # live_s may exceed real_s by this fraction (rounding of the device's units)
MAX_REAL_PERIODS = 100.0  # a frame longer than this many frame periods is absurd
MAX_T_S = 1e10  # 317 years: beyond it float64 t_s loses the resolution of a 50 ms frame
OVERLAP_TOLERANCE_S = 1e-3  # rounding of device clocks (ProbeLink: 1 us)
JUMP_PERIODS = 10.0
JUMP_MIN_S = 10.0
REBASE_AFTER = 3
MAX_KEPT_JUMP_S = 86400.0  # a flagged forward jump up to a day keeps the device's own t_s
TEXT_MAX_RATE_CPS = 1e7  # last resort for text protocols that say nothing of their counter


@dataclass(frozen=True, slots=True)
class FrameBounds:
    """What a frame of one device can plausibly hold."""

    frame_period_s: float
    max_rate_cps: float | None = None  # the counter's highest countable (mean) rate
    max_frame_count: int = INT64_MAX  # the widest count the protocol can carry
    source: str = ""  # where max_rate_cps comes from, for the reject reason

    def max_count(self, real_s: float) -> int:
        """The largest count (per window, or a spectrum's total) possible in `real_s`."""
        bound = min(self.max_frame_count, INT64_MAX)
        if self.max_rate_cps is not None:
            m = self.max_rate_cps * real_s * (1.0 + CLOCK_ALLOWANCE)
            bound = min(bound, math.floor(m + POISSON_SIGMAS * math.sqrt(m) + POISSON_OFFSET))
        return bound


def frame_bounds(info: DeviceInfo | None, default_counter: CounterSpec,
                 fallback_max_rate_cps: float | None, max_frame_count: int,
                 default_period_s: float) -> FrameBounds:
    """The bounds of a device: max_rate_cps from the device's own counter description, else the
    driver's default counter, else the driver's protocol-level fallback."""
    period = (info.frame_period_s if info is not None else None) or default_period_s
    candidates = ((info.counter if info is not None else None, "device counter"),
                  (default_counter, "driver counter"))
    for spec, where in candidates:
        if spec is not None and _positive(spec.max_rate_cps):
            what = f"{where}{': ' + spec.source if spec.source else ''}"
            return FrameBounds(period, spec.max_rate_cps, max_frame_count, what)
    if _positive(fallback_max_rate_cps):
        return FrameBounds(period, fallback_max_rate_cps, max_frame_count, "protocol bound")
    return FrameBounds(period, None, max_frame_count, "field width")


def _positive(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


def _real(x: object) -> bool:
    """A finite real number, not a bool (the exact type first: ABC checks are slow)."""
    if type(x) is float or type(x) is int:
        return math.isfinite(x)
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return False
    return math.isfinite(float(x))


def _count_problem(values: Sequence[object], limit: int, what: str, beyond: str) -> str | None:
    for i, c in enumerate(values):
        if type(c) is int:
            n = c
        elif isinstance(c, numbers.Integral) and not isinstance(c, bool):
            n = int(c)
        else:
            return f"{what} {i} is not an integer ({c!r:.40})"
        if n < 0:
            return f"{what} {i} is negative ({n})"
        if n > limit:
            return f"{what} {i} = {n} counts, {beyond}"
    return None


def value_problem(frame: CountFrame, bounds: FrameBounds) -> str | None:
    """Why the frame's values are impossible, or None: the checks that need no history."""
    t, real, live = frame.t_s, frame.real_s, frame.live_s
    if not _real(t) or not 0.0 <= t <= MAX_T_S:
        return f"t_s {t!r} is not a time between 0 and {MAX_T_S:g} s"
    longest = MAX_REAL_PERIODS * bounds.frame_period_s
    if not _real(real) or not 0.0 < real <= longest:
        return f"real_s {real!r} is not between 0 and {longest:g} s"
    if not _real(live) or not 0.0 <= live <= real * (1.0 + LIVE_TOLERANCE):
        return f"live_s {live!r} is not between 0 and real_s {real:g}"
    if not frame.counts:
        return "no window counts"
    limit = bounds.max_count(real)
    beyond = f"above the {limit} the counter can count in {real:g} s ({_describe_rate(bounds)})"
    problem = _count_problem(frame.counts, limit, "window", beyond)
    spectrum = frame.spectrum
    if problem is None and spectrum is not None:
        problem = _count_problem(spectrum, INT64_MAX, "channel", "")
        total = sum(spectrum) if problem is None else 0
        if total > limit:
            problem = f"spectrum total {total} counts, {beyond}"
    return problem


def _describe_rate(bounds: FrameBounds) -> str:
    if bounds.max_rate_cps is None:
        return f"{bounds.source}: {bounds.max_frame_count} per frame"
    return f"max {bounds.max_rate_cps:.4g} cps, {bounds.source}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """The gate's answer: the frame to emit (maybe re-timed and flagged) or None, and why."""

    frame: CountFrame | None
    reason: str = ""  # why rejected, or what was done to an accepted frame ("" if nothing)


@dataclass
class _Mark:
    """A frame time on the device clock and the host clock at its arrival."""

    device_t_s: float
    host_s: float


class PlausibilityGate:
    """The gate of one device object: value checks, and the time base across its connections."""

    def __init__(self) -> None:
        self._last: _Mark | None = None  # the last accepted frame
        self._last_out_t_s = 0.0  # its t_s as emitted
        self._offset_s = 0.0  # emitted t_s = device t_s + offset (changes at a re-based jump)
        self._first_of_connection = True
        self._streak: _Mark | None = None  # the last of consecutive out-of-line frames
        self._streak_n = 0
        self._before: tuple[object, ...] | None = None  # the state before the last accept

    def undo(self) -> None:
        """Forget the frame just accepted (the caller did not publish it after all)."""
        if self._before is not None:
            (self._last, self._last_out_t_s, self._offset_s, self._first_of_connection,
             self._streak, self._streak_n) = self._before  # type: ignore[assignment]
            self._before = None

    def new_connection(self) -> None:
        """The port (re)opened: the next frame may start a new time base (the device may have
        restarted while away)."""
        self._first_of_connection = True
        self._streak, self._streak_n = None, 0

    def admit(self, frame: CountFrame, bounds: FrameBounds, host_s: float) -> Verdict:
        """Check one frame arriving at host time `host_s`: Verdict(frame or None, reason)."""
        problem = value_problem(frame, bounds)
        if problem is not None:
            return Verdict(None, problem)
        here = _Mark(frame.t_s, host_s)
        last = self._last
        if last is None:
            return self._accept(frame, here, rebase=False)
        if not self._first_of_connection:
            too_long = self._interval_too_long(last, here, frame.real_s, bounds)
            if too_long is not None:
                return Verdict(None, too_long)
        out_of_line = self._out_of_line(last, here, frame.real_s, bounds)
        if out_of_line is None:
            return self._accept(frame, here, rebase=False)
        overlaps = 0.0 < here.device_t_s - last.device_t_s < frame.real_s - OVERLAP_TOLERANCE_S
        if (frame.flags & FaultFlag.CLOCK_RESET or self._first_of_connection) and not overlaps:
            return self._accept(frame, here, rebase=True, why=out_of_line)
        streak = self._streak
        if streak is not None and self._out_of_line(streak, here, frame.real_s, bounds) is None:
            self._streak_n += 1
        else:
            self._streak_n = 1
        self._streak = here
        if self._streak_n >= REBASE_AFTER:
            return self._accept(frame, here, rebase=True,
                                why=f"{out_of_line}, {self._streak_n} frames in a row")
        return Verdict(None, out_of_line)

    @staticmethod
    def _allowance_s(last: _Mark, here: _Mark, bounds: FrameBounds) -> float:
        """How much device time may pass beyond a frame's own interval between two frames: the
        host time between them plus max(JUMP_PERIODS frame periods, JUMP_MIN_S)."""
        return (max(JUMP_PERIODS * bounds.frame_period_s, JUMP_MIN_S)
                + max(0.0, here.host_s - last.host_s))

    @classmethod
    def _interval_too_long(cls, last: _Mark, here: _Mark, real_s: float,
                           bounds: FrameBounds) -> str | None:
        """Why `real_s` cannot have passed since the last accepted frame, or None."""
        allowed = cls._allowance_s(last, here, bounds)
        if real_s > allowed:
            return (f"an interval of {real_s:g} s, longer than the {here.host_s - last.host_s:.3g} "
                    f"s since the previous frame (allowance {allowed:.3g} s)")
        return None

    @classmethod
    def _out_of_line(cls, last: _Mark, here: _Mark, real_s: float,
                     bounds: FrameBounds) -> str | None:
        """Why `here` does not follow `last` on one clock, or None if it does."""
        advance = here.device_t_s - last.device_t_s
        if advance <= 0.0:
            return f"t_s went from {last.device_t_s:.6g} to {here.device_t_s:.6g} s"
        if advance < real_s - OVERLAP_TOLERANCE_S:
            return (f"an interval of {real_s:g} s ending at t_s {here.device_t_s:.6g} overlaps "
                    f"the previous frame's (ending at {last.device_t_s:.6g})")
        allowed = cls._allowance_s(last, here, bounds)
        if advance - real_s > allowed:
            return (f"t_s jumped {advance:.6g} s ahead, more than {allowed:.3g} s beyond "
                    f"real_s {real_s:g}")
        return None

    def _accept(self, frame: CountFrame, here: _Mark, rebase: bool, why: str = "") -> Verdict:
        self._before = (self._last, self._last_out_t_s, self._offset_s, self._first_of_connection,
                        self._streak, self._streak_n)
        reason = ""
        if rebase:
            last = self._last
            assert last is not None
            jump = here.device_t_s - last.device_t_s - frame.real_s
            if not 0.0 <= jump <= MAX_KEPT_JUMP_S:  # keep the device's t_s for modest jumps only
                self._offset_s = self._last_out_t_s + frame.real_s - here.device_t_s
            reason = f"new time base ({why})"
            frame = replace(frame, flags=frame.flags | FaultFlag.CLOCK_RESET)
        out_t_s = here.device_t_s + self._offset_s
        if out_t_s != frame.t_s:
            frame = replace(frame, t_s=out_t_s)
        self._last, self._last_out_t_s = here, out_t_s
        self._first_of_connection = False
        self._streak, self._streak_n = None, 0
        return Verdict(frame, reason)
