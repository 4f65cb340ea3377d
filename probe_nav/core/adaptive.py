"""Adaptive count-rate meter: a running mean that restarts at detected change points.

The estimate is N / T, the counts over the live time of the current segment. A segment starts at the
last change point and is capped to the most recent `max_counts` counts and `max_window_s` live
seconds, so the steady relative sd is 1/sqrt(max_counts) (2 % by default) at any rate unless the
rate is so low that the time cap binds. The memory is capped in counts rather than seconds because
what limits detecting a step of a given ratio is the number of counts, not the time.

Change points: for recent windows of w = 0.25, 0.5, 1, ... 256 s of live time, a Poisson
two-sample generalised likelihood ratio compares the window with the older part of the segment:
G = n1 ln(n1/t1) + n2 ln(n2/t2) - n ln(n/t) (0 ln 0 = 0). The segment restarts when
G > threshold + scale_penalty * ln(T_seg / w) (T_seg: live time of the segment), at the split that
maximises G near the window (the maximum-likelihood change time), so after a real step the display
jumps to the mean of the new data. By the Chernoff bound one test fires with probability below
~exp(-threshold) * (w / T_seg)**scale_penalty on steady data whatever the counts: short windows,
tested often and whose false restarts make the biggest jumps, need much stronger evidence.
A restart stays provisional: while the new segment is shorter than the data before it, it is taken
back (merged) as soon as the two agree again (G < merge_threshold), which bounds the cost of a false
restart to a few window lengths. Defaults were tuned with `benchmarks/bench_rate.py`: steady
relative sd stays within ~10 % of 1/sqrt(max_counts) and steps of 1.2x are found in about a third
of the memory.

Cost: everything between change points is vectorised (cumulative sums + searchsorted); Python loops
only over change points and blocks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

from probe_nav.core.history import CumulativeHistory
from probe_nav.core.rate import RateArrays, as_frames, poisson_sd_cps, ratio_rate_cps

_TINY_S = 1e-300
SPAN = 16_384  # frames whose state-independent test schedule is computed at once


@dataclass(frozen=True, slots=True)
class AdaptiveConfig:
    """Tuning of the adaptive meter (defaults: benchmarks/bench_rate.py)."""

    max_counts: int = 2500  # memory cap in counts: steady relative sd 1/sqrt(2500) = 2 %
    max_window_s: float = 600.0  # memory cap in live time (binds below max_counts/600 ~ 4 cps)
    threshold: float = 4.0  # restart when G > threshold + scale_penalty * ln(T_seg / w)
    min_scale_s: float = 0.25  # shortest recent window
    n_scales: int = 11  # windows min_scale_s * 2**k, k < n_scales (0.25 ... 256 s)
    test_every: float = 0.125  # each window is tested every test_every * w of live time
    min_old_fraction: float = 0.5  # the older part must hold at least this fraction of w
    split_span: float = 2.0  # change time searched within split_span * w before the detection
    scale_penalty: float = 2.0  # extra evidence asked of windows short against the segment
    merge_threshold: float = 3.0  # undo the last restart while G(before, after) falls below this
    merge_max_shift_sd: float = 1.0  # ... and folding the data between shifts the mean < this sd


def _xlogx_over_t(n: np.ndarray, t: np.ndarray) -> np.ndarray:
    """n ln(n / t), 0 where n == 0 (callers discard the values where t == 0)."""
    return xlogy(n, n / np.maximum(t, _TINY_S))


def _glr_parts(n1: np.ndarray, t1: np.ndarray, n2: np.ndarray, t2: np.ndarray) -> np.ndarray:
    """Two-sample Poisson log-likelihood ratio of n1 counts in t1 against n2 counts in t2."""
    g = _xlogx_over_t(n1, t1) + _xlogx_over_t(n2, t2) - _xlogx_over_t(n1 + n2, t1 + t2)
    return np.where((t1 > 0.0) & (t2 > 0.0), g, 0.0)


def _glr(c: np.ndarray, v: np.ndarray, s: np.ndarray, j: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Two-sample Poisson log-likelihood ratio of parts (s, j] and (j, p] (history positions)."""
    return _glr_parts(c[j] - c[s], v[j] - v[s], c[p] - c[j], v[p] - v[j])


class AdaptiveRateMeter:
    """Running mean since the last detected change point, memory capped in counts and time."""

    def __init__(self, config: AdaptiveConfig | None = None) -> None:
        self.config = config or AdaptiveConfig()
        cfg = self.config
        if cfg.max_counts < 1 or cfg.max_window_s <= 0 or cfg.threshold <= 0:
            raise ValueError("max_counts, max_window_s and threshold must be positive")
        self._scales_s = cfg.min_scale_s * 2.0 ** np.arange(cfg.n_scales)
        self._hist = CumulativeHistory()
        self.reset()

    def reset(self) -> None:
        """Forget the past."""
        self._hist.reset()
        self._cp = 0  # history index g where the current segment starts
        self._merge_cp = -1  # start of the segment before the last restart while unconfirmed
        self._merge_end = -1  # and its end
        self.restarts = 0  # change points found since reset (diagnostics)
        self.merges = 0  # restarts taken back as false alarms (diagnostics)
        self.last_change_g = 0  # frame count at the last change point

    def process(self, counts: np.ndarray, live_s: np.ndarray) -> RateArrays:
        """Estimates for the frames of one chunk."""
        c_new, v_new = as_frames(counts, live_s)
        m = c_new.size
        hist = self._hist
        first = hist.g_end + 1
        hist.append(c_new, v_new)
        c, v, g0 = hist.counts, hist.live_s, hist.g0
        n_seg = np.empty(m, dtype=np.int64)
        t_seg = np.empty(m, dtype=np.float64)
        pos, end, block = first - g0, hist.g_end - g0, 256
        while pos <= end:
            # what does not depend on the segment state is computed once per span of frames
            span = _Span(self, c, v, pos, min(end, pos + SPAN - 1))
            while pos <= span.last:
                p = np.arange(pos, min(span.last, pos + block - 1) + 1)
                cap = span.cap[pos - span.first : pos - span.first + p.size]
                s = np.maximum(cap, self._cp - g0)
                k, event = self._next_event(c, v, p, s, cap, g0, span)
                if event is not None:
                    event(k)
                    s[k] = max(int(cap[k]), self._cp - g0)
                    k += 1
                out = slice(p[0] - (first - g0), p[0] - (first - g0) + k)
                n_seg[out] = c[p[:k]] - c[s[:k]]
                t_seg[out] = v[p[:k]] - v[s[:k]]
                pos += k
                block = 256 if event is not None else min(block * 2, 1 << 15)
        if m:
            last = np.array([end])
            keep = max(int(self._cap_start(c, v, last)[0]), self._cp - g0)
            if self._merge_cp >= 0:
                keep = min(keep, self._merge_cp - g0)
            hist.trim(g0 + keep)
        rate = ratio_rate_cps(n_seg, t_seg)
        return RateArrays(rate, poisson_sd_cps(n_seg, t_seg), t_seg)

    def _cap_start(self, c: np.ndarray, v: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Earliest segment start the memory caps allow for frames ending at positions p."""
        cfg = self.config
        by_counts = np.searchsorted(c, c[p] - cfg.max_counts, side="left")
        by_time = np.searchsorted(v, v[p] - cfg.max_window_s, side="left")
        return np.minimum(np.maximum(by_counts, by_time), p - 1)  # at least one frame

    def _next_event(
        self, c: np.ndarray, v: np.ndarray, p: np.ndarray, s: np.ndarray, cap: np.ndarray,
        g0: int, span: _Span,
    ) -> tuple[int, Callable[[int], None] | None]:
        """(index into p, action) of the first restart, merge or confirmation, or (len, None)."""
        k_best = p.size
        action: Callable[[int], None] | None = None
        fired = self._first_fire(c, v, p, s, span)
        if fired is not None:
            k_best, scale_s = fired
            f, s_f = int(p[k_best]), int(s[k_best])
            action = lambda k: self._restart(c, v, f, s_f, scale_s, g0)  # noqa: E731
        if self._merge_cp >= 0:
            hit = self._merge_events(c, v, p, cap, g0)
            if hit is not None and hit[0] < k_best:
                if hit[1]:
                    k_best, action = hit[0], lambda k: self._merge()
                else:
                    # a confirmation leaves the segment (so every estimate and test of this
                    # block) unchanged: apply it now instead of ending the block there
                    self._forget_merge()
        return k_best, action

    def _merge_events(
        self, c: np.ndarray, v: np.ndarray, p: np.ndarray, cap: np.ndarray, g0: int
    ) -> tuple[int, bool] | None:
        """First frame where the pending restart is taken back (True) or confirmed (False).

        Taken back when the current segment agrees with the part before the restart
        (G < merge_threshold) and folding in what lies between them (a burst that caused a
        second restart) shifts the merged mean by less than merge_max_shift_sd sd.
        Confirmed once the current segment is as long as that older part.
        """
        cfg = self.config
        e_old, q = self._merge_end - g0, self._cp - g0
        s_old = np.minimum(np.maximum(cap, self._merge_cp - g0), e_old)
        n1, t1 = c[e_old] - c[s_old], v[e_old] - v[s_old]
        n2, t2 = c[p] - c[q], v[p] - v[q]
        n_gap, t_gap = c[q] - c[e_old], v[q] - v[e_old]
        confirm = (t2 >= t1) | (s_old >= e_old)
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = np.abs(n_gap - t_gap * (n1 + n2) / (t1 + t2))
        small_gap = excess <= cfg.merge_max_shift_sd * np.sqrt(np.maximum(n1 + n_gap + n2, 1))
        merge = (_glr_parts(n1, t1, n2, t2) < cfg.merge_threshold) & small_gap & (t1 > 0)
        hit = np.flatnonzero(confirm | merge)
        if hit.size == 0:
            return None
        k = int(hit[0])
        return k, bool(merge[k] and not confirm[k])

    def _forget_merge(self) -> None:
        self._merge_cp = self._merge_end = -1

    def _merge(self) -> None:
        """The last restart was a false alarm: go back to the segment before it."""
        self._cp = self._merge_cp
        self._merge_cp = self._merge_end = -1
        self.merges += 1

    def _first_fire(
        self, c: np.ndarray, v: np.ndarray, p: np.ndarray, s: np.ndarray, span: _Span
    ) -> tuple[int, float] | None:
        """(index into p, window in s) of the first frame where a test fires, or None.

        The span lists every (frame, window) test due by the clock with its split point; here
        only what depends on the segment start is evaluated, for all those tests at once.
        """
        cfg = self.config
        a, b = np.searchsorted(span.tp, (p[0], p[-1] + 1))
        if a == b:
            return None
        tp, tj, ws = span.tp[a:b], span.tj[a:b], span.tw[a:b]
        sk = s[tp - p[0]]
        seg_live = v[tp] - v[sk]
        ok = (seg_live >= ws * (1.0 + cfg.min_old_fraction)) & (tj > sk)
        ok &= v[tj] - v[sk] >= cfg.min_old_fraction * ws
        if not ok.any():
            return None
        g = _glr(c, v, sk, tj, tp)
        threshold = cfg.threshold + cfg.scale_penalty * np.log(
            np.maximum(seg_live, _TINY_S) / ws
        )
        hits = np.flatnonzero(ok & (g > threshold))
        if hits.size == 0:
            return None
        first_p = int(tp[hits[0]])  # tests are ordered by frame
        at = hits[tp[hits] == first_p]
        return first_p - int(p[0]), float(ws[at[int(np.argmax(g[at]))]])

    def _restart(
        self, c: np.ndarray, v: np.ndarray, f: int, s: int, scale_s: float, g0: int
    ) -> None:
        """Start a new segment at the most likely change time before position f."""
        lo = int(np.searchsorted(v, v[f] - self.config.split_span * scale_s, side="left"))
        j = int(np.searchsorted(v, v[f] - scale_s, side="right")) - 1
        lo = max(min(lo, j), s + 1)
        q = np.arange(lo, f)
        g = _glr(c, v, np.full(q.size, s), q, np.full(q.size, f))
        new_cp = g0 + int(q[int(np.argmax(g))])
        if self._merge_cp < 0:  # a restart inside a pending one keeps the older candidate
            self._merge_cp, self._merge_end = g0 + s, new_cp
        self._cp = new_cp
        self.restarts += 1
        self.last_change_g = self._cp


class _Span:
    """State-independent work for history positions first..last: memory caps and the tests due.

    A window w is tested at a frame when the live clock crosses a multiple of test_every * w; its
    split point j (the last entry at least w before the frame) depends only on the clock too.
    Tests are listed in frame order (tp: frame, tj: split, tw: window in s).
    """

    def __init__(self, meter: AdaptiveRateMeter, c: np.ndarray, v: np.ndarray,
                 first: int, last: int) -> None:
        cfg = meter.config
        self.first, self.last = first, last
        p = np.arange(first, last + 1)
        self.cap = meter._cap_start(c, v, p)
        w = meter._scales_s[:, None]
        q = np.floor(v[first - 1 : last + 1] / (w * cfg.test_every))
        idx, ks = np.nonzero((q[:, 1:] > q[:, :-1]).T)  # frame-major order
        self.tp = p[idx]
        self.tw = meter._scales_s[ks]
        self.tj = np.maximum(np.searchsorted(v, v[self.tp] - self.tw, side="right") - 1, 0)
