"""Pulse counters with dead time, simulated event by event (vectorised with numpy).

Photons that trigger the discriminator arrive as a Poisson process of rate n within a frame
(the rate is taken constant over one frame). What each counter records emerges from the arrival
times; no dead-time formula is used:

- paralysable: every arrival, recorded or not, makes the counter blind for tau. All arrivals are
  drawn (exponential gaps, cumulated); an arrival is recorded when the gap since the previous
  arrival (also across frames) is at least tau. The dead time in the frame is the measure of the
  union of [a_i, a_i + tau).
- non-paralysable: only a recorded pulse makes the counter blind, for tau. Arrivals inside a
  blind interval change nothing, so they need not be drawn: by the memorylessness of the Poisson
  process the next recorded pulse comes tau + Exp(n) after the previous one (Exp(n) after the end
  of any blind interval still running at the frame start). Drawing the recorded pulses directly
  is therefore exactly the event-by-event process with the ineffective arrivals left out, and
  costs O(recorded pulses) instead of O(arrivals).

The only shortcut is for a paralysable counter with n tau > 30: the chance that any of the
N = n T arrivals of a frame of length T is followed by a gap >= tau is at most
N exp(-n tau) = (T/tau) n tau exp(-n tau) < (T/tau) 30 exp(-30) < 3e-6 for T <= 1 s and
tau >= 1 us, so the frame is recorded as fully dead with no count rather than drawing the
arrivals. Between n tau ~ 5 and 30 every arrival is drawn (~n T per frame, a few ms per 1e5).
Both methods cost O(events in the frame); at usual probe rates (<= 1e4 cps, 50 ms frames) that is
a few hundred exponentials per frame, so no approximate fast path is needed.
"""

from __future__ import annotations

import math

import numpy as np

CHUNK = 1 << 20
PARALYSED_N_TAU = 30.0
KINDS = ("nonparalysable", "paralysable")


class DeadTimeCounter:
    """A counter of kind 'nonparalysable' or 'paralysable' with dead time tau_s (0: ideal)."""

    def __init__(self, kind: str, tau_s: float, rng: np.random.Generator) -> None:
        if kind not in KINDS:
            raise ValueError(f"dead_time_kind must be one of {', '.join(KINDS)}, got {kind!r}")
        if not (tau_s >= 0 and math.isfinite(tau_s)):
            raise ValueError(f"dead_time_s must be >= 0, got {tau_s}")
        self.kind, self.tau_s, self.rng = kind, tau_s, rng
        self.reset()

    def reset(self) -> None:
        """Forget the pulse history (after a pause in counting)."""
        self._blind_until_s = -math.inf  # non-paralysable: end of the current blind interval
        self._last_arrival_s = -math.inf  # paralysable: last arrival, recorded or not

    def count(self, rate_cps: float, t0_s: float, real_s: float) -> tuple[int, float]:
        """Recorded pulses and live time in [t0_s, t0_s + real_s) at a true rate rate_cps."""
        if real_s <= 0:
            return 0, 0.0
        if self.kind == "paralysable" and self.tau_s > 0:
            return self._paralysable(rate_cps, t0_s, t0_s + real_s)
        return self._nonparalysable(rate_cps, t0_s, t0_s + real_s)

    # ------------------------------------------------------------ non-paralysable

    def _nonparalysable(self, n: float, t0: float, t1: float) -> tuple[int, float]:
        tau = self.tau_s
        dead = max(0.0, min(self._blind_until_s, t1) - t0)
        start = max(t0, self._blind_until_s)
        if n <= 0 or start >= t1:
            return 0, (t1 - t0) - dead
        recorded = 0
        last = math.nan
        t = start
        first = True
        while True:
            expected = (t1 - t) * n / (1.0 + n * tau)
            size = int(min(CHUNK, expected + 6.0 * math.sqrt(expected) + 16))
            gaps = self.rng.exponential(1.0 / n, size) + tau
            if first:
                gaps[0] -= tau
                first = False
            times = t + np.cumsum(gaps)
            inside = int(np.searchsorted(times, t1))
            if inside:
                recorded += inside
                last = float(times[inside - 1])
                dead += float(np.minimum(times[:inside] + tau, t1).sum() - times[:inside].sum())
            if inside < size:
                break
            t = float(times[-1])  # the chunk ran out inside the frame: go on from its last pulse
        if recorded:
            self._blind_until_s = last + tau
        return recorded, max(0.0, (t1 - t0) - dead)

    # ------------------------------------------------------------ paralysable

    def _paralysable(self, n: float, t0: float, t1: float) -> tuple[int, float]:
        tau = self.tau_s
        if n * tau > PARALYSED_N_TAU:
            self._last_arrival_s = t1  # still arriving: the counter stays blind
            return 0, 0.0
        prev = self._last_arrival_s
        recorded = 0
        dead_end = prev + tau  # the blind interval of the last arrival so far
        dead = max(0.0, min(dead_end, t1) - t0)
        covered_to = min(max(dead_end, t0), t1)
        t = t0
        while n > 0:
            expected = (t1 - t) * n
            size = int(min(CHUNK, expected + 6.0 * math.sqrt(expected) + 16))
            times = t + np.cumsum(self.rng.exponential(1.0 / n, size))
            arrivals = times[: int(np.searchsorted(times, t1))]
            if len(arrivals):
                gaps = np.diff(arrivals, prepend=prev)
                recorded += int(np.count_nonzero(gaps >= tau))
                # Union of [a, a + tau) clipped to the frame, added to what is covered so far.
                # Segments [a_i, min(a_i + tau, a_i+1)) tile the union; skip what is covered.
                nxt = np.append(arrivals[1:], np.inf)
                ends = np.minimum(np.minimum(arrivals + tau, t1), nxt)
                starts = np.maximum(arrivals, covered_to)
                dead += float(np.maximum(ends - starts, 0.0).sum())
                covered_to = max(covered_to, float(ends[-1]))
                prev = float(arrivals[-1])
            if len(arrivals) < size:
                break
            t = float(times[-1])  # every arrival of the chunk was inside: draw the next ones
        self._last_arrival_s = prev
        return recorded, max(0.0, (t1 - t0) - dead)


def expected_observed_cps(kind: str, true_cps: float, tau_s: float) -> float:
    """The textbook mean recorded rate, for ground truth only (never used to draw counts)."""
    if tau_s <= 0:
        return true_cps
    if kind == "paralysable":
        return true_cps * math.exp(-true_cps * tau_s)
    return true_cps / (1.0 + true_cps * tau_s)
