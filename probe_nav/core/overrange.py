"""Over-range: when a reading must not be shown as a plausible number.

A frame is over range when any of these holds:
1. the device says so (FaultFlag.OVER_RANGE in the frame's flags);
2. the device was dead for most of the frame: live_s / real_s < min_live_fraction (0.2);
3. non-paralysable counter (dead time tau): the observed rate m over the last `window_s` of real
   time is >= 0.9 / tau, where a 10 % error in m makes the corrected rate meaningless;
4. paralysable counter: latched rule below.

Paralysable counters (m = n exp(-n tau), maximum m_max = 1/(e tau) at n = 1/tau): every observed
m < m_max has two true rates, and beyond n = 1/tau the reading FALLS as activity rises; from the
counts alone a falling rate cannot tell "moved away" from "paralysed by more activity". What is
known is that the counter can only get onto the falling branch, or back off it, by passing the top
of its curve. Hence, with z = m / m_max smoothed over `window_s`:
- over range latches as soon as z >= enter (0.8: the counter already loses > 40 %);
- every visit to the peak band (z rises to >= 0.95, counted again only after z fell below 0.85,
  a hysteresis much wider than the count noise) may be a passage over the top: each visit flips
  `beyond_peak`;
- the latch is released only when z < release (0.5) and beyond_peak is False, i.e. after an even
  number of passages over the top. A paralysed counter's falling rate therefore always stays over
  range; the price is that a probe that turned back inside the peak band stays flagged until its
  rate passes the top again or the user clears the flag (`clear()`), which errs on the safe side.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.calibration.deadtime import DeadTimeModel
from probe_nav.core.history import CumulativeHistory
from probe_nav.core.rate import as_frames
from probe_nav.drivers.frames import FaultFlag

_ZONE_EDGES = (0.5, 0.8, 0.85, 0.95)  # release, enter, band out, band in (fractions of m_max)


class OverRangeDetector:
    """Chunk-wise over-range decision per frame (see module docstring for the rule)."""

    def __init__(
        self,
        dead_time: DeadTimeModel | None = None,
        window_s: float = 0.25,
        min_live_fraction: float = 0.2,
        nonparalysable_fraction: float = 0.9,
    ) -> None:
        self.dead_time = dead_time
        self.window_s = float(window_s)
        self.min_live_fraction = float(min_live_fraction)
        self.nonparalysable_fraction = float(nonparalysable_fraction)
        self._hist = CumulativeHistory(capacity=256)
        self.reset()

    def reset(self) -> None:
        """Forget the past (also clears a latched over-range)."""
        self._hist.reset()
        self.clear()

    def clear(self) -> None:
        """The user confirms the probe is away from any strong source: release the latch."""
        self.latched = False
        self.beyond_peak = False
        self._in_band = False
        self._zone = -1  # re-judge the next frame from scratch

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
        over = np.zeros(c.size, dtype=bool)
        if flags is not None:
            over |= (np.asarray(flags, dtype=np.int64) & int(FaultFlag.OVER_RANGE)) != 0
        with np.errstate(divide="ignore", invalid="ignore"):
            over |= (r > 0.0) & (v < self.min_live_fraction * r)
        model = self.dead_time
        if model is None or c.size == 0:
            return over
        m = self.observed_cps(c, r)
        if model.kind == "nonparalysable":
            return over | (m >= self.nonparalysable_fraction / model.tau_s)
        return over | self._paralysable_latch(m / model.max_observed_cps)

    def _paralysable_latch(self, z: np.ndarray) -> np.ndarray:
        """Latched state per frame; Python runs only at the (rare) zone changes."""
        zone = np.searchsorted(np.asarray(_ZONE_EDGES), z, side="right")
        prev = np.concatenate(([self._zone], zone[:-1]))
        changes = np.flatnonzero(zone != prev)
        out = np.empty(z.size, dtype=bool)
        start = 0
        for i in changes.tolist():
            out[start:i] = self.latched
            self._step(int(zone[i]))
            start = i
        out[start:] = self.latched
        self._zone = int(zone[-1])
        return out

    def _step(self, zone: int) -> None:
        """Zones: 0 below release, 1 below enter, 2 below band-out, 3 below band-in, 4 peak band."""
        if zone >= 2:
            self.latched = True
        if zone == 4 and not self._in_band:
            self._in_band = True
            self.beyond_peak = not self.beyond_peak
        elif zone <= 2:
            self._in_band = False
        if zone == 0 and not self.beyond_peak:
            self.latched = False
