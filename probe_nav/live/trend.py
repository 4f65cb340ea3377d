"""The trend buffer of a live session: the last frames' rates for the trend plot, in device time,
with gaps marked; apart from the session because it is plain numpy bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

TREND_CAPACITY = 8192  # frames kept for the trend plot (82 s at 100 frames/s)
CLOCK_JUMP_S = 30.0  # a device clock that jumps more than this (or back) restarts the trend


@dataclass
class Trend:
    """A ring buffer of (device t_s, rate, sd) per frame; NaN rows mark gaps."""

    capacity: int = TREND_CAPACITY
    t_s: np.ndarray = field(init=False)
    rate_cps: np.ndarray = field(init=False)
    sd_cps: np.ndarray = field(init=False)
    n: int = 0
    head: int = 0

    def __post_init__(self) -> None:
        self.t_s = np.full(self.capacity, np.nan)
        self.rate_cps = np.full(self.capacity, np.nan)
        self.sd_cps = np.full(self.capacity, np.nan)

    def clear(self) -> None:
        self.__post_init__()
        self.n = self.head = 0

    def add(self, t_s: float, rate_cps: float, sd_cps: float) -> None:
        i = self.head
        self.t_s[i], self.rate_cps[i], self.sd_cps[i] = t_s, rate_cps, sd_cps
        self.head = (i + 1) % self.capacity
        self.n = min(self.n + 1, self.capacity)

    def add_frame(self, t_s: float, rate_cps: float, sd_cps: float) -> None:
        """Add a frame's row; a device clock that jumped (or went back) restarts the trend."""
        last_t = self.last_t_s()
        if last_t is not None and not (0.0 <= t_s - last_t <= CLOCK_JUMP_S):
            self.clear()
        self.add(t_s, rate_cps, sd_cps)

    def mark_gap(self) -> None:
        """A NaN row at the last frame's time: the plot breaks its line there."""
        last = self.last_t_s()
        if last is not None:
            self.add(last, np.nan, np.nan)

    def last_t_s(self) -> float | None:
        if self.n == 0:
            return None
        return float(self.t_s[(self.head - 1) % self.capacity])

    def window(self, window_s: float, now_t_s: float | None) -> tuple[np.ndarray, ...]:
        """Rows within `window_s` before `now_t_s`, oldest first; t relative to now (<= 0)."""
        order = (np.arange(self.n) + self.head - self.n) % self.capacity
        t = self.t_s[order]
        if now_t_s is None or self.n == 0:
            empty = np.empty(0)
            return empty, empty, empty
        keep = ~(t < now_t_s - window_s)  # NaN gap markers are kept
        idx = order[keep]
        return self.t_s[idx] - now_t_s, self.rate_cps[idx], self.sd_cps[idx]
