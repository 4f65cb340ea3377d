"""A counter that has stopped counting: counts far below the lowest rate it has shown.

A working counter in a given room never counts less than its background (natural radiation, the
patient's blood pool, the tube's own). A paralysed counter (driven past its peak) or a dead one
counts almost nothing, which, from counts alone, looks like a low reading. This is the one sign
of paralysis left when the device measures no live time and the step past the peak was too fast
for the passage and fall rules (over range rules 5-6).

The FLOOR is the lowest rate the counter has shown over any FLOOR_WINDOW_S of the session,
divided by FLOOR_DIVISOR (moving the probe changes its background a few times at most; it
never stops it). A window becomes part of the floor only after CONFIRM_S more seconds without a
frame below the floor: the first seconds of a stop would otherwise lower the floor they are
judged against. A frame is BELOW THE FLOOR when, over any of the trailing TEST_WINDOWS_S,
its counts are at or below the Poisson quantile ALPHA of floor x window. Counts judged below the
floor, or taken while the caller says the reading is not trusted, never lower the floor.

Pure and chunk-invariant (one frame at a time, state carried): online and batch agree.
"""

from __future__ import annotations

import bisect

from scipy.special import pdtr  # Poisson CDF: pdtr(k, m) = P(X <= k), X ~ Poisson(m)

FLOOR_WINDOW_S = 3.0
FLOOR_DIVISOR = 10.0
CONFIRM_S = 3.0
TEST_WINDOWS_S = (1.0, 2.0, 3.0, 5.0)
# ALPHA is judged at the floor, a tenth of the least rate seen: at the rates a working counter
# really shows (>= 10 x the floor) the same counts are far rarer (P(0 in 2 s) at the floor 4.4
# cps is 1.4e-4, at 44 cps 6e-39). The test is at 4 window lengths per frame.
ALPHA = 1e-3


class CountingFloor:
    """Tracks a counter's floor and says when its counts fall impossibly below it."""

    def __init__(self) -> None:
        self.floor_cps: float | None = None
        self._cum_counts: list[float] = []  # cumulative counts at each frame's end
        self._cum_real_s: list[float] = []  # cumulative real time at each frame's end
        self._head = 0  # entries before it are older than every window
        self._total_counts = 0.0
        self._total_real_s = 0.0
        self._pending: list[tuple[float, float]] = []  # (end real time, floor candidate cps)
        self._last_untrusted_s = -1.0  # real time at the end of the last frame below or untrusted

    def carry_from(self, other: CountingFloor) -> None:
        """Keep another tracker's floor (same counter, same room; its frames are history)."""
        self.floor_cps = other.floor_cps

    def _window(self, window_s: float) -> tuple[float, float] | None:
        """Counts and real time of the trailing frames covering at least window_s, if any."""
        start_s = self._total_real_s - window_s
        if not self._cum_real_s or self._cum_real_s[self._head] > start_s + 1e-9:
            return None  # not that much history yet (the first entry is the start: 0, 0)
        i = bisect.bisect_right(self._cum_real_s, start_s + 1e-9, lo=self._head) - 1
        return (self._total_counts - self._cum_counts[i],
                self._total_real_s - self._cum_real_s[i])

    def step(self, counts: float, real_s: float, trusted: bool = True) -> bool:
        """Take one frame; True if it is below the floor. `trusted` False (the reading is
        already latched over range): the frame is kept but may not lower the floor."""
        if not self._cum_real_s:
            self._cum_counts.append(0.0)
            self._cum_real_s.append(0.0)
        self._total_counts += counts
        self._total_real_s += real_s
        self._cum_counts.append(self._total_counts)
        self._cum_real_s.append(self._total_real_s)
        longest_s = max(FLOOR_WINDOW_S, *TEST_WINDOWS_S)
        while (len(self._cum_real_s) - self._head > 2 and
               self._total_real_s - self._cum_real_s[self._head + 1] >= longest_s - 1e-9):
            self._head += 1
        if self._head > 1024:  # compact now and then: O(1) per frame on average
            del self._cum_counts[:self._head], self._cum_real_s[:self._head]
            self._head = 0
        below = False
        if self.floor_cps is not None and self.floor_cps > 0.0:
            for window_s in TEST_WINDOWS_S:
                got = self._window(window_s)
                if got is not None and pdtr(got[0], self.floor_cps * got[1]) <= ALPHA:
                    below = True
                    break
        if below or not trusted:
            self._pending.clear()  # windows that may hold the stop never become the floor
            self._last_untrusted_s = self._total_real_s
            return below
        got = self._window(FLOOR_WINDOW_S)
        clean = self._total_real_s - FLOOR_WINDOW_S >= self._last_untrusted_s - 1e-9
        if got is not None and got[1] > 0.0 and clean:
            self._pending.append((self._total_real_s, got[0] / got[1] / FLOOR_DIVISOR))
        while self._pending and self._total_real_s - self._pending[0][0] >= CONFIRM_S - 1e-9:
            rate = self._pending.pop(0)[1]
            self.floor_cps = rate if self.floor_cps is None else min(self.floor_cps, rate)
        return below
