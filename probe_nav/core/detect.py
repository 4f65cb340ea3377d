"""Hot-spot decision ("hot" / "not hot") against a known background, at the statistical limit.

Onset: a bank of Poisson CUSUM charts, one per rate ratio rho_k of a geometric grid 1.2..4,
``W_k = max(0, W_k + x ln(rho_k) - (rho_k - 1) b live)``; "hot" when any ``W_k >= h_k``. The
thresholds come from a simulation-calibrated table (`detect_table`, regenerated offline by
tools/detect_calibrate.py) so that the mean interval between false cues on background is the
configured one, the price of the bank (higher thresholds) being shared so that the bank's
efficiency is the same at every ratio of the grid.

Hot -> cold: once hot, the hot rate ``s`` is estimated from the counts since the winning chart's
change point (the running estimate excludes the current frame; shrunk towards b by a prior of
HOT_PRIOR_COUNTS counts at b, see `HotDetector._hot_rate_cps`), and a downward CUSUM
``V = max(0, V + x ln(b/s) + (s - b) live)`` says "cold" at ``V >= h_c(s/b)``; the onset bank then
restarts at 0. ``h_c`` trades a quick return against false "cold" inside a hot spot (which turn
into chatter when the onset bank finds the spot again) - see `cold_threshold` and docs/detection.md.

Batch path: per segment, cumsum / minimum.accumulate give every chart's path at once; Python only
loops over the rare hot <-> cold transitions and over fixed blocks of BLOCK frames (at whose global
frame numbers the running sums are re-based). All state is carried sequentially, so any chunking
of the input gives bit-for-bit the same output as one call.
"""

from __future__ import annotations

import numpy as np

from probe_nav.core import detect_table as _table

RATIOS = np.asarray(_table.RATIOS, dtype=np.float64)
LOG_RATIOS = np.log(RATIOS)
BACKGROUND_FLOOR_CPS = 0.01  # background clamp: ln(s/b) needs b > 0 (1 count per 100 s)
SD_INFLATION = 1.0  # a measured background b +- sd is used as b + SD_INFLATION * sd
COLD_FALSE_S = 600.0  # cold decision: false "cold" inside a hot spot about this rarely ...
COLD_DELAY_CAP_S = 3.3  # ... unless its (Wald) mean delay would exceed this
HOT_PRIOR_COUNTS = 15.0  # the cold test's hot-rate estimate carries this many counts at b
BLOCK = 65_536  # running sums are re-based every BLOCK frames (global frame count)
FIRST_WINDOW = 256  # frames computed at once right after a hot <-> cold transition

_MU = np.log(np.asarray(_table.MU_GRID))
_N = np.log(np.asarray(_table.N_GRID))
_H = np.asarray(_table.THRESHOLDS, dtype=np.float64)  # (mu, n, chart)


def bank_thresholds(background_cps: float, frame_period_s: float, interval_s: float) -> np.ndarray:
    """Per-chart thresholds for a mean interval between false alarms of ``interval_s``.

    Bilinear in (ln mu, ln n) with mu = background counts per frame and n = frames per interval;
    below the table's smallest mu the continuous-time limit is used (same n * mu), above its
    largest mu the last row; beyond the largest n the exponential tail (h grows as ln n).
    """
    mu = background_cps * frame_period_s
    n = interval_s / frame_period_s
    if mu < _table.MU_GRID[0]:
        n, mu = n * mu / _table.MU_GRID[0], _table.MU_GRID[0]
    lmu = min(np.log(mu), _MU[-1])
    ln = max(np.log(n), _N[0])
    extra = max(0.0, ln - _N[-1])
    ln = min(ln, _N[-1])
    i = int(np.clip(np.searchsorted(_MU, lmu) - 1, 0, _MU.size - 2))
    j = int(np.clip(np.searchsorted(_N, ln) - 1, 0, _N.size - 2))
    fu = (lmu - _MU[i]) / (_MU[i + 1] - _MU[i])
    fn = (ln - _N[j]) / (_N[j + 1] - _N[j])
    h = (1 - fu) * ((1 - fn) * _H[i, j] + fn * _H[i, j + 1]) + fu * (
        (1 - fn) * _H[i + 1, j] + fn * _H[i + 1, j + 1]
    )
    return h + extra


def cold_threshold(
    ratio: np.ndarray, background_cps: float, delay_cap_s: float = COLD_DELAY_CAP_S
) -> np.ndarray:
    """Threshold of the downward CUSUM for an estimated hot/background ratio (vectorised).

    With I0 = b (r - 1 - ln r) (information per s once back at b) and I1 = b (r ln r - r + 1)
    (per s while still at the hot rate s = r b), Wald's approximations give the mean cold delay
    (h + e^-h - 1)/I0 and the mean interval between false "cold" inside the hot spot
    (e^h - h - 1)/I1. h_c is the h whose false-cold interval is COLD_FALSE_S, unless that makes
    the delay longer than delay_cap_s (then the h with that delay). A lower cap returns sooner
    and says "cold" inside a hot spot more often (chatter): benchmarks/bench_detection.py prints
    the trade-off.
    """
    r = np.maximum(ratio, RATIOS[0])
    lr = np.log(r)
    i0 = background_cps * (r - 1.0 - lr)
    i1 = background_cps * (r * lr - r + 1.0)
    q = COLD_FALSE_S * i1
    h_rel = np.log1p(q)  # fixed point of e^h = 1 + h + q, monotone from below
    for _ in range(8):
        h_rel = np.log1p(q + h_rel)
    y = delay_cap_s * i0
    # Newton on h + e^-h - 1 = y from the right (convex: monotone convergence). The root lies
    # below y + 1 and, for small y (short caps, low rates), below sqrt(2 y) + y (since
    # h + e^-h - 1 >= h^2/2 - h^3/6); starting there takes 8 steps to ~1e-9 for y >= 1e-6.
    h_cap = np.minimum(y + 1.0, np.sqrt(2.0 * y) + y)
    for _ in range(8):
        e = np.exp(-h_cap)
        h_cap = h_cap - (h_cap + e - 1.0 - y) / np.maximum(1.0 - e, 1e-12)
    return np.minimum(h_rel, h_cap)


class HotDetector:
    """Causal, stateful hot-spot decision per frame; see the module docstring."""

    def __init__(
        self,
        background_cps: float,
        false_alarm_interval_s: float = 600.0,
        background_sd_cps: float = 0.0,
        frame_period_s: float | None = None,
        cold_delay_cap_s: float = COLD_DELAY_CAP_S,
    ) -> None:
        if not np.isfinite(background_cps) or background_cps < 0:
            raise ValueError(f"background_cps must be finite and >= 0, got {background_cps}")
        if not (np.isfinite(false_alarm_interval_s) and false_alarm_interval_s > 0):
            raise ValueError(f"false_alarm_interval_s must be > 0, got {false_alarm_interval_s}")
        if not np.isfinite(background_sd_cps) or background_sd_cps < 0:
            raise ValueError(f"background_sd_cps must be finite and >= 0, got {background_sd_cps}")
        if frame_period_s is not None and not (np.isfinite(frame_period_s) and frame_period_s > 0):
            raise ValueError(f"frame_period_s must be > 0 or None, got {frame_period_s}")
        if not (np.isfinite(cold_delay_cap_s) and cold_delay_cap_s > 0):
            raise ValueError(f"cold_delay_cap_s must be > 0, got {cold_delay_cap_s}")
        self.cold_delay_cap_s = float(cold_delay_cap_s)
        self.background_cps = float(background_cps)
        self.false_alarm_interval_s = float(false_alarm_interval_s)
        self.background_sd_cps = float(background_sd_cps)
        # the rate the charts test against: floored, and raised by the background's uncertainty
        self.reference_cps = max(self.background_cps, BACKGROUND_FLOOR_CPS) + (
            SD_INFLATION * self.background_sd_cps
        )
        self._period_given = frame_period_s
        self.thresholds: np.ndarray | None = None
        self.reset()

    # -- state -----------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget the past (a frame period inferred from the data is inferred again)."""
        self.frame_period_s = self._period_given
        self.thresholds = None
        if self._period_given is not None:
            self._calibrate(self._period_given)
        self._frame = 0  # global frame number
        self._window = FIRST_WINDOW  # frames per computation step (grows while nothing happens)
        self._hot = False
        self._cum_counts = 0.0  # counts and live time since the last re-base (carried cumsums)
        self._cum_live = 0.0
        self._hot_counts0, self._hot_live0 = 0.0, 0.0  # cum at the hot spot's estimated start
        self._cs, self._cm = 0.0, 0.0  # downward (cold) CUSUM: V = cs - cm
        self._restart_bank()

    def _restart_bank(self) -> None:
        k = RATIOS.size
        self._s = np.zeros(k)  # running sums of the chart increments
        self._m = np.zeros(k)  # running minimum of (0, s): W = s - m
        self._zero_counts = np.full(k, self._cum_counts)  # cumulative counts at the last W == 0
        self._zero_live = np.full(k, self._cum_live)

    def _calibrate(self, frame_period_s: float) -> None:
        self.frame_period_s = float(frame_period_s)
        self.thresholds = bank_thresholds(
            self.reference_cps, self.frame_period_s, self.false_alarm_interval_s
        )

    @property
    def hot(self) -> bool:
        """The decision after the last frame processed."""
        return self._hot

    # -- processing ------------------------------------------------------------------------
    def process(self, counts: np.ndarray, live_s: np.ndarray) -> np.ndarray:
        """Hot decision for each frame (bool array), given window-0 counts and live times (s).

        Frames with zero (or invalid) live time carry no information: their counts are ignored.
        """
        x = np.asarray(counts, dtype=np.float64).reshape(-1)
        lv = np.asarray(live_s, dtype=np.float64).reshape(-1)
        if x.shape != lv.shape:
            raise ValueError(f"counts and live_s differ in length: {x.size} vs {lv.size}")
        good = np.isfinite(lv) & (lv > 0) & np.isfinite(x)
        lv = np.where(good, lv, 0.0)
        x = np.where(good, np.maximum(np.floor(x), 0.0), 0.0)
        out = np.zeros(x.size, dtype=bool)
        pos = 0
        if self.thresholds is None:  # frame period inferred from the first frame with live time
            first = np.flatnonzero(lv > 0)
            if first.size == 0:
                self._frame += x.size
                return out
            pos = int(first[0])
            self._frame += pos
            self._calibrate(float(lv[pos]))
        while pos < x.size:
            # segments end at BLOCK boundaries (global frame numbers) and, after a transition,
            # grow from a short window so that work past the next transition stays small; any
            # split gives the same result, because all state is carried exactly
            end = min(x.size, pos + BLOCK - self._frame % BLOCK, pos + self._window)
            was_hot = self._hot
            if self._hot:
                pos = self._run_hot(x, lv, pos, end, out)
            else:
                pos = self._run_cold(x, lv, pos, end, out)
            self._window = FIRST_WINDOW if self._hot != was_hot else min(4 * self._window, BLOCK)
        return out

    def _rebase_if_due(self) -> None:
        """At global frame numbers that are multiples of BLOCK, re-base all running sums."""
        if self._frame % BLOCK == 0:
            self._zero_counts -= self._cum_counts
            self._zero_live -= self._cum_live
            self._hot_counts0 -= self._cum_counts
            self._hot_live0 -= self._cum_live
            self._cum_counts, self._cum_live = 0.0, 0.0
            self._s -= self._m
            self._m[:] = 0.0
            self._cs, self._cm = self._cs - self._cm, 0.0

    def _cums(self, x: np.ndarray, lv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Carried cumulative counts and live time (sequential sums: chunk-invariant)."""
        xc = x.copy()
        xc[0] += self._cum_counts
        lc = lv.copy()
        lc[0] += self._cum_live
        return np.cumsum(xc), np.cumsum(lc)

    def _run_cold(self, x: np.ndarray, lv: np.ndarray, pos: int, end: int, out: np.ndarray) -> int:
        thresholds = self.thresholds
        assert thresholds is not None  # process() calibrates before running any frame
        xs, ls = x[pos:end], lv[pos:end]
        n = xs.size
        mu = self.reference_cps * ls
        first = n
        paths = []
        for k in range(RATIOS.size):
            z = np.multiply(xs, LOG_RATIOS[k])
            z -= np.multiply(mu, RATIOS[k] - 1.0)
            z[0] += self._s[k]
            s = np.cumsum(z)
            m = np.minimum.accumulate(s)
            np.minimum(m, self._m[k], out=m)
            w = np.subtract(s, m, out=z)
            if first and w[:first].max() >= thresholds[k]:
                first = int((w[:first] >= thresholds[k]).argmax())
            paths.append((s, m, w))
        stop = first if first < n else n - 1  # last frame whose state we keep
        cum_c, cum_l = self._cums(xs[: stop + 1], ls[: stop + 1])
        for k, (s, m, _) in enumerate(paths):
            # the last W == 0 is the last occurrence of the minimum of s, if it is a new minimum
            last = stop - int(np.argmin(s[stop::-1]))
            if s[last] <= self._m[k]:
                self._zero_counts[k] = cum_c[last]
                self._zero_live[k] = cum_l[last]
            self._s[k], self._m[k] = s[stop], m[stop]
        self._cum_counts, self._cum_live = float(cum_c[stop]), float(cum_l[stop])
        self._frame += stop + 1
        if first < n:  # onset: estimate the hot rate from the winning chart's change point
            excess = [paths[k][2][first] - thresholds[k] for k in range(RATIOS.size)]
            k = int(np.argmax(excess))
            self._hot_counts0 = float(self._zero_counts[k])
            self._hot_live0 = float(self._zero_live[k])
            self._cs, self._cm = 0.0, 0.0
            self._hot = True
            out[pos + first] = True
        self._rebase_if_due()
        return pos + stop + 1

    def _hot_rate_cps(self, hot_counts: np.ndarray, hot_live_s: np.ndarray) -> np.ndarray:
        """Hot-rate estimate the cold test uses, from the n counts in live time t since the change
        point (before each frame): s = (n s_hat + n0 b) / (n + n0) with s_hat = n / t and
        n0 = HOT_PRIOR_COUNTS, i.e. s_hat with its excess over b shrunk by n / (n + n0); floored
        at the bank's smallest ratio. Right after the onset s_hat is few counts and biased high
        (the onset is declared on a high fluctuation), and an s above the true hot rate makes the
        downward CUSUM drift up inside the spot (false "cold", then chatter); the shrinkage
        fades as counts accrue. (A benchmark overrides this with the true rate.)"""
        b = self.reference_cps
        n = np.maximum(hot_counts, 0.0)
        live = np.where(hot_live_s > 0, hot_live_s, 1.0)
        s_hat = np.where(hot_live_s > 0, n / live, RATIOS[-1] * b)
        s = b + (s_hat - b) * n / (n + HOT_PRIOR_COUNTS)
        return np.maximum(s, RATIOS[0] * b)

    def _run_hot(self, x: np.ndarray, lv: np.ndarray, pos: int, end: int, out: np.ndarray) -> int:
        xs, ls = x[pos:end], lv[pos:end]
        cum_c, cum_l = self._cums(xs, ls)
        b = self.reference_cps
        # hot-rate estimate from the frames before each frame (change point .. previous frame)
        prev_c = np.empty(xs.size)
        prev_l = np.empty(xs.size)
        prev_c[0], prev_l[0] = self._cum_counts, self._cum_live
        prev_c[1:], prev_l[1:] = cum_c[:-1], cum_l[:-1]
        s = self._hot_rate_cps(prev_c - self._hot_counts0, prev_l - self._hot_live0)
        z = xs * np.log(b / s) + (s - b) * ls
        z[0] += self._cs
        cs = np.cumsum(z)
        cm = np.minimum(np.minimum.accumulate(cs), self._cm)
        hit = np.flatnonzero(cs - cm >= cold_threshold(s / b, b, self.cold_delay_cap_s))
        n = xs.size
        stop = int(hit[0]) if hit.size else n - 1
        out[pos : pos + stop] = True
        out[pos + stop] = not hit.size
        self._cum_counts, self._cum_live = float(cum_c[stop]), float(cum_l[stop])
        self._frame += stop + 1
        if hit.size:
            self._hot = False
            self._restart_bank()
        else:
            self._cs, self._cm = float(cs[stop]), float(cm[stop])
        self._rebase_if_due()
        return pos + stop + 1
