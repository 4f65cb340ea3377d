"""Over range: when a reading must not be shown as a number.

A frame TRIGGERS over range when:
1. the device says so (FaultFlag.OVER_RANGE in its flags);
2. live time collapsed: live_s < MIN_LIVE_FRACTION (0.2) x real_s;
3. non-paralysable counter (dead time tau): the observed rate m over the last `window_s` reaches
   0.9 / tau (m tau = 0.9: the corrected rate m / (1 - m tau) is 10 m; a 10 % error in m makes it
   meaningless);
4. paralysable counter (m = n exp(-n tau), highest mean m_max = 1/(e tau) at n = 1/tau, then
   FALLING): z = m / m_max >= ENTER_FRACTION (0.8, the counter already loses > 40 %), on the
   window or on the frame; and, when the device does not measure its live time, the two rules
   below.

Rules 5-6 come from how fast a hand-held probe can change the true rate n: by at most a factor
exp(G t) in t seconds (G = `max_change_per_s`, default 25/s: two decades in 0.2 s, the fastest
ramp of issue 14's acceptance, i.e. 2 v / r with v = 0.25 m/s at r = 20 mm from the source).
5. passage: a counter can only get onto its falling branch by passing n = 1/tau, and a frame of
   T s during which n passed 1/tau at no more than G shows at least the mean z_pass(G T) =
   (1 - exp(1 - exp(L))) / L, L = G T (the time average of u e^(1-u) over a range of ln u of
   length L that starts at the top; 0.73 for 50 ms frames, 0.4 for 100 ms, 0.04 for 1 s). A frame
   whose count is within 3 sd of that (or above) may hold a passage, so it triggers; a reading in
   that range is ambiguous anyway (every z < 1 has a second true rate on the falling branch).
6. impossible fall: on the rising branch m follows n, so a frame-average rate cannot fall below
   the previous frame's by more than exp(-G (T1 + T2)); a fall beyond that (4 sd on both counts)
   is the falling branch (or no physical rate at all).
7. hidden paralysis (paralysable, live time measured): a steady rate n gives live fraction
   exp(-n tau) and counts / live_s = n, so the load the live time implies, -ln(live / real), and
   the load the counts imply, counts x tau / live_s, agree. A frame that was partly paralysed
   (a step or fast ramp past the peak inside it) has lost live time its counts cannot explain:
   the live-time load is >= HIDDEN_MIN_LOAD (0.3) and the counts' load (plus 4 sd) is under
   HIDDEN_RATIO (0.5) of it. A rise on the rising branch within a frame keeps the ratio >= 0.7
   (half a frame near 0, half at n tau = 1: 0.72), so it does not trigger.

8. stopped counting (paralysable, live time not measured): counts far below the floor, a tenth
   of the least rate the counter has shown over 5 s (probe_nav.core.counting_floor): a step past
   the peak too fast for rules 5-6 leaves the counter reading almost nothing, below any
   background it has been in; a working counter does not.

Once triggered the flag is LATCHED until the counter has demonstrably recovered: HOLD_S (3 s) of
consecutive frames with no flag, a rate well below the ceiling (z < RELEASE_FRACTION = 0.5, or
m tau < 0.5 non-paralysable) and live time back to normal (>= NORMAL_LIVE_FRACTION = 0.5 of real
time). For a paralysable counter that must be MEASURED live time: with live fraction e^(-n tau),
a rate z < 0.5 means live >= 0.79 on the rising branch and live <= 0.07 on the falling one, so
0.5 tells the branches apart; from counts alone the branches cannot be told apart, and a
paralysable counter whose device does not measure live time stays latched until `clear()` (the
user) or a new session. Whether live time is measured is declared (`live_time_measured`) or, if
None, taken as yes from the first frame whose live_s is below its real_s.

Every stage is chunk-invariant: online and batch give the same flags.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.calibration.deadtime import DeadTimeModel
from probe_nav.core.counting_floor import CountingFloor
from probe_nav.core.history import CumulativeHistory
from probe_nav.core.rate import as_frames
from probe_nav.drivers.frames import CounterModel, CounterSpec, FaultFlag

MIN_LIVE_FRACTION = 0.2
NORMAL_LIVE_FRACTION = 0.5
NONPARALYSABLE_FRACTION = 0.9
ENTER_FRACTION = 0.8
RELEASE_FRACTION = 0.5
MAX_CHANGE_PER_S = 25.0
HOLD_S = 3.0
PASSAGE_SIGMAS = 3.0  # a passage frame reads below its minimal mean by 3 sd: P < 0.14 %
FALL_SIGMAS = 4.0  # both counts of an "impossible" fall are 4 sd from their means
HIDDEN_MIN_LOAD = 0.3  # rule 7 looks at frames whose live time lost >= 26 %
HIDDEN_RATIO = 0.5  # ... and whose counts explain less than half of that loss
HIDDEN_SIGMAS = 4.0
_MEASURED = 1.0 - 1e-9  # live_s below this fraction of real_s: the device measures live time


def passage_fraction(change_per_s: float, real_s: ArrayLike) -> np.ndarray:
    """z_pass(G T): the least mean z of a frame of real_s during which n passed 1/tau (rule 5)."""
    length = np.clip(change_per_s * np.asarray(real_s, dtype=np.float64), 0.0, 700.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = -np.expm1(1.0 - np.exp(length)) / length
    return np.where(length > 1e-9, z, 1.0)


def dead_time_model(spec: CounterSpec | None) -> DeadTimeModel | None:
    """The core's dead-time model of a device's CounterSpec (None if model or tau is unknown)."""
    if spec is None or spec.model is CounterModel.UNKNOWN or spec.dead_time_s is None:
        return None
    if not (spec.dead_time_s > 0 and math.isfinite(spec.dead_time_s)):
        return None
    return DeadTimeModel(str(spec.model.value), float(spec.dead_time_s))  # type: ignore[arg-type]


class OverRangeDetector:
    """Chunk-wise, latched over-range decision per frame (see the module docstring)."""

    def __init__(
        self,
        dead_time: DeadTimeModel | None = None,
        window_s: float = 0.25,
        min_live_fraction: float = MIN_LIVE_FRACTION,
        nonparalysable_fraction: float = NONPARALYSABLE_FRACTION,
        live_time_measured: bool | None = None,
        max_change_per_s: float = MAX_CHANGE_PER_S,
        hold_s: float = HOLD_S,
    ) -> None:
        self.dead_time = dead_time
        self.window_s = float(window_s)
        self.min_live_fraction = float(min_live_fraction)
        self.nonparalysable_fraction = float(nonparalysable_fraction)
        self.live_time_declared = live_time_measured
        self.max_change_per_s = float(max_change_per_s)
        self.hold_s = float(hold_s)
        self._hist = CumulativeHistory(capacity=256)
        self._floor = CountingFloor()
        self.reset()

    def reset(self) -> None:
        """Forget the past (also clears a latched over-range)."""
        self._hist.reset()
        self._floor = CountingFloor()
        self._prev: tuple[int, float] | None = None  # counts and real_s of the last frame
        self.live_time_seen = False  # a frame had live_s < real_s
        self.clear()

    def clear(self) -> None:
        """The user confirms the probe is away from any strong source: release the latch."""
        self.latched = False
        self._recovered_s = 0.0

    def carry_from(self, other: OverRangeDetector) -> None:
        """Keep another detector's latch and live-time knowledge (a session restarting its
        estimate after a gap must not forget that the counter may be paralysed)."""
        self.latched, self._recovered_s = other.latched, 0.0
        self.live_time_seen = self.live_time_seen or other.live_time_seen
        self._floor.carry_from(other._floor)

    @property
    def live_time_measured(self) -> bool:
        """True when live_s is evidence of the counter's state (declared, or seen)."""
        if self.live_time_declared is not None:
            return self.live_time_declared
        return self.live_time_seen

    def observed_cps(self, counts: np.ndarray, real_s: np.ndarray) -> np.ndarray:
        """Observed rate over the last window_s of real time, per frame (updates the history)."""
        hist = self._hist
        first = hist.g_end + 1
        hist.append(counts, real_s)
        c, r, g0 = hist.counts, hist.live_s, hist.g0
        p = np.arange(first - g0, hist.g_end - g0 + 1)
        j = np.searchsorted(r, r[p] - self.window_s, side="right") - 1
        j = np.clip(j, 0, p - 1)  # at least the frame itself
        span = r[p] - r[j]
        m = np.where(span > 0.0, (c[p] - c[j]) / np.where(span > 0.0, span, 1.0), 0.0)
        if p.size:
            keep = np.searchsorted(r, r[p[-1]] - self.window_s, side="right") - 1
            hist.trim(g0 + max(int(keep), 0))
        return m

    def process(
        self,
        counts: np.ndarray,
        live_s: np.ndarray,
        real_s: np.ndarray | None = None,
        flags: ArrayLike | None = None,
    ) -> np.ndarray:
        """Over-range flag per frame of a chunk."""
        c, v = as_frames(counts, live_s)
        r = v if real_s is None else np.ascontiguousarray(real_s, dtype=np.float64).reshape(-1)
        if c.size == 0:
            return np.zeros(0, dtype=bool)
        flagged = np.zeros(c.size, dtype=bool)
        if flags is not None:
            flagged = (np.asarray(flags, dtype=np.int64).reshape(-1)
                       & int(FaultFlag.OVER_RANGE)) != 0
        safe_r = np.where(r > 0.0, r, 1.0)
        live_fraction = np.where(r > 0.0, v / safe_r, 1.0)
        trigger = flagged | ((r > 0.0) & (live_fraction < self.min_live_fraction))
        seen = np.logical_or.accumulate(live_fraction < _MEASURED) | self.live_time_seen
        measured = seen if self.live_time_declared is None else np.full(
            c.size, self.live_time_declared)
        recovered = ~flagged & (live_fraction >= NORMAL_LIVE_FRACTION)
        model = self.dead_time
        floor_counts = None
        if model is not None:
            m = self.observed_cps(c, r)
            if model.kind == "nonparalysable":
                load = m * model.tau_s
                trigger |= load >= self.nonparalysable_fraction
                recovered &= load < RELEASE_FRACTION
            else:
                trigger |= self._paralysable_triggers(c, r, m, safe_r, measured)
                floor_counts = np.where(measured, -1, c)  # rule 8 where live time is unmeasured
                trigger |= measured & self._hidden_paralysis(c, v, live_fraction)
                recovered &= (m / model.max_observed_cps < RELEASE_FRACTION) & measured
        self._prev = (int(c[-1]), float(r[-1]))
        self.live_time_seen = bool(seen[-1])
        return self._latch(trigger, recovered, r, floor_counts)

    def _paralysable_triggers(self, c: np.ndarray, r: np.ndarray, m_window: np.ndarray,
                              safe_r: np.ndarray, measured: np.ndarray) -> np.ndarray:
        """Rules 4-6 for a paralysable counter (5 and 6 only where live time is not measured)."""
        assert self.dead_time is not None
        m_max = self.dead_time.max_observed_cps
        enter = (m_window >= ENTER_FRACTION * m_max) | (c >= ENTER_FRACTION * m_max * r)
        expected = passage_fraction(self.max_change_per_s, r) * m_max * r
        threshold = np.maximum(expected - PASSAGE_SIGMAS * np.sqrt(expected), 1.0)
        passage = (r > 0.0) & (c >= threshold)
        prev_c = np.concatenate(([-1 if self._prev is None else self._prev[0]], c[:-1]))
        prev_r = np.concatenate(([0.0 if self._prev is None else self._prev[1]], r[:-1]))
        ok = (prev_c >= 0) & (prev_r > 0.0) & (r > 0.0)
        low_prev = (prev_c - FALL_SIGMAS * np.sqrt(np.maximum(prev_c, 0))) / np.where(
            prev_r > 0.0, prev_r, 1.0)
        high_now = (c + FALL_SIGMAS * np.sqrt(c + 1.0)) / safe_r
        fall = ok & (high_now < low_prev * np.exp(-self.max_change_per_s * (prev_r + r)))
        return enter | (~measured & (passage | fall))

    def _hidden_paralysis(self, c: np.ndarray, v: np.ndarray,
                          live_fraction: np.ndarray) -> np.ndarray:
        """Rule 7: the measured live time lost more than the counts explain (a frame partly
        paralysed); only meaningful where live time is measured."""
        assert self.dead_time is not None
        tau = self.dead_time.tau_s
        ok = (v > 0.0) & (live_fraction > 0.0)
        safe_v = np.where(ok, v, 1.0)
        load_live = -np.log(np.clip(np.where(ok, live_fraction, 1.0), 1e-300, 1.0))
        load_counts = (c + HIDDEN_SIGMAS * np.sqrt(c + 1.0)) * tau / safe_v
        return ok & (load_live >= HIDDEN_MIN_LOAD) & (load_counts < HIDDEN_RATIO * load_live)

    def _latch(self, trigger: np.ndarray, recovered: np.ndarray, r: np.ndarray,
               floor_counts: np.ndarray | None = None) -> np.ndarray:
        """Latched state per frame: set by a trigger (or rule 8, judged here because a latched
        reading may not lower the floor), released after hold_s of recovery."""
        out = np.empty(trigger.size, dtype=bool)
        latched, run = self.latched, self._recovered_s
        hold = self.hold_s
        floor = [-1] * trigger.size if floor_counts is None else floor_counts.tolist()
        for i, (t, ok, real) in enumerate(zip(trigger.tolist(), recovered.tolist(), r.tolist(),
                                              strict=True)):
            if floor[i] >= 0 and real > 0.0:
                t = self._floor.step(floor[i], real, trusted=not (latched or t)) or t
            if t:
                latched, run = True, 0.0
            elif latched:
                run = run + real if ok else 0.0
                if run >= hold * (1.0 - 1e-9):  # the sum of frame lengths rounds
                    latched, run = False, 0.0
            out[i] = latched
        self.latched, self._recovered_s = latched, run
        return out
