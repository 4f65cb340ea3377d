"""Cumulative counts and live time of the recent past, shared by chunk-wise estimators.

Entry `g` of the history is the cumulative count / live time after the first `g` frames of the
stream (g = 0 before any frame). Live time is summed strictly in frame order, so the numbers do not
depend on how the stream was cut into chunks: that is what lets the online path (chunks of one
frame) and the batch path (one big chunk) give identical results.
"""

from __future__ import annotations

import numpy as np


def carried_cumsum(carry: float, values: np.ndarray) -> np.ndarray:
    """Sequential running sum starting at `carry` (carry + v0, (carry + v0) + v1, ...)."""
    out = np.empty(values.size + 1, dtype=np.float64)
    out[0] = carry
    out[1:] = values
    np.cumsum(out, out=out)
    return out[1:]


class CumulativeHistory:
    """Cumulative counts (int64) and live time (float64) from entry g0 to the newest."""

    def __init__(self, capacity: int = 1024) -> None:
        self._cap = max(int(capacity), 16)
        self.reset()

    def reset(self) -> None:
        """Forget everything: the next frame is frame 0 of a new stream."""
        self._c = np.zeros(self._cap, dtype=np.int64)
        self._l = np.zeros(self._cap, dtype=np.float64)
        self._start = 0  # buffer position of entry g0
        self._n = 1  # entries held (entry g = 0 is the zero before the first frame)
        self.g0 = 0

    @property
    def g_end(self) -> int:
        """Index of the newest entry (= number of frames seen)."""
        return self.g0 + self._n - 1

    @property
    def counts(self) -> np.ndarray:
        """Cumulative counts of entries g0..g_end (a view)."""
        return self._c[self._start : self._start + self._n]

    @property
    def live_s(self) -> np.ndarray:
        """Cumulative live time of entries g0..g_end (a view)."""
        return self._l[self._start : self._start + self._n]

    def append(self, counts: np.ndarray, live_s: np.ndarray) -> None:
        """Add the frames of a chunk (counts >= 0 integers, live_s >= 0)."""
        m = counts.size
        if m == 0:
            return
        end = self._start + self._n
        if end + m > self._cap:
            self._grow(m)
            end = self._start + self._n
        last_c = self._c[end - 1]
        last_l = float(self._l[end - 1])
        np.cumsum(counts, out=self._c[end : end + m])
        self._c[end : end + m] += last_c
        self._l[end : end + m] = carried_cumsum(last_l, live_s)
        self._n += m

    def trim(self, g_keep: int) -> None:
        """Drop entries older than g_keep (always keeps the newest entry)."""
        g_keep = min(int(g_keep), self.g_end)
        drop = g_keep - self.g0
        if drop > 0:
            self._start += drop
            self._n -= drop
            self.g0 = g_keep

    def _grow(self, m: int) -> None:
        need = self._n + m
        if need * 2 > self._cap:
            self._cap = max(self._cap * 2, need * 2)
        c = np.zeros(self._cap, dtype=np.int64)
        v = np.zeros(self._cap, dtype=np.float64)
        c[: self._n] = self.counts
        v[: self._n] = self.live_s
        self._c, self._l, self._start = c, v, 0
