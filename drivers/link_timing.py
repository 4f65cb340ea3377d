"""How long a link may be silent: the stale bound, the silent-port reopen and its back-off.

A link is STALE when no frame has come for 1.5 frame periods plus a jitter allowance measured on
the link: the largest lateness (inter-arrival time minus one period) of the last JITTER_WINDOW
frames, at least JITTER_FLOOR_S + 0.1 period, at most JITTER_CAP_S + 0.3 period. The cap keeps
the bound at 2.0 s for a 1-s device and 0.29 s for 50 ms frames however irregular the link.
Until JITTER_MIN_SAMPLES gaps have been seen the cap is used. An open port silent for
max(3 periods, bound + REOPEN_MARGIN_S) is closed and reopened; each further reopen without a
frame in between waits twice as long, up to REOPEN_MAX_S.
"""

from __future__ import annotations

import threading
from collections import deque

STALE_PERIODS = 1.5
JITTER_WINDOW = 32  # inter-arrival gaps remembered
JITTER_MIN_SAMPLES = 4
JITTER_FLOOR_S = 0.02  # host scheduling and USB polling, even on a perfectly regular device
JITTER_FLOOR_PERIODS = 0.1
JITTER_CAP_S = 0.2
JITTER_CAP_PERIODS = 0.3
SILENT_REOPEN_PERIODS = 3.0
REOPEN_MARGIN_S = 0.25  # a reopen never comes before the link has been STALE for this long
REOPEN_MAX_S = 30.0


def jitter_cap_s(period_s: float) -> float:
    """The largest jitter allowance a link with frames every `period_s` may get."""
    return JITTER_CAP_S + JITTER_CAP_PERIODS * period_s


def max_stale_after_s(period_s: float) -> float:
    """The stale bound's ceiling for frames every `period_s`: 2.0 s at 1 s, 0.29 s at 50 ms."""
    return STALE_PERIODS * period_s + jitter_cap_s(period_s)


class ArrivalJitter:
    """The lateness of recent frames on one link, and the allowance it earns (thread-safe)."""

    def __init__(self, window: int = JITTER_WINDOW) -> None:
        self._late_s: deque[float] = deque(maxlen=window)
        self._lock = threading.Lock()

    def add(self, gap_s: float, period_s: float) -> None:
        """A frame came `gap_s` after the previous one on the same connection."""
        with self._lock:
            self._late_s.append(max(0.0, gap_s - period_s))

    def allowance_s(self, period_s: float) -> float:
        """Extra seconds past 1.5 periods before the link is called STALE."""
        cap = jitter_cap_s(period_s)
        with self._lock:
            if len(self._late_s) < JITTER_MIN_SAMPLES:
                return cap
            worst = max(self._late_s)
        return min(cap, max(JITTER_FLOOR_S + JITTER_FLOOR_PERIODS * period_s, worst))


def stale_after_s(period_s: float, jitter: ArrivalJitter) -> float:
    """No frame for this long means STALE."""
    return STALE_PERIODS * period_s + jitter.allowance_s(period_s)


def silent_reopen_s(period_s: float, stale_s: float, reopens_without_frame: int) -> float:
    """An open port silent this long is closed and reopened (doubling for each earlier reopen
    that brought no frame, up to REOPEN_MAX_S, never below the first)."""
    first = max(SILENT_REOPEN_PERIODS * period_s, stale_s + REOPEN_MARGIN_S)
    return max(first, min(REOPEN_MAX_S, first * 2.0 ** reopens_without_frame))
