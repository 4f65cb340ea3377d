"""Benchmark of the hot-spot detector: prints tables, no pass/fail.

Run ``python benchmarks/bench_detection.py`` (about 2-3 minutes on 2 cores).

Simulated Poisson frame streams at 20 frames/s, fixed seeds. For backgrounds 5/20/200 cps:

* false-cue interval: mean time between hot onsets on pure background vs the configured one;
* detection efficiency = (mean delay of the optimal Poisson CUSUM told the true hot rate, its
  threshold tuned to the SAME measured false-cue interval as probe-nav's) / (detector's mean delay),
  for hot spots of 1.2, 1.5, 2, 3, 4 x background. Delay convention: every detector runs on 60 s of
  background (runs with a false cue in it are dropped for all detectors), then the rate steps up
  at a frame boundary; the delay is the time from the step to the end of the first "hot" frame.
  Both detectors see the same random frames (common random numbers); the standard error of the
  ratio comes from the paired runs (delta method).
* the same efficiency for (a) a 1 s sliding window with its count threshold tuned to the same
  false-cue interval (delay interpolated in ln(interval) between the two neighbouring integer
  thresholds) and (b) the classic rule "counts in the last 1 s > b + 3 sqrt(b)", whose own
  false-cue interval is printed and whose reference is the optimal CUSUM at that interval;
* chatter (extra onsets inside a steady 10-20 s hot spot, per spot), mean time back to "not hot"
  after leaving the spot (spots where the detector was hot at the exit), detected fraction;
* the release trade-off: worst mean time back to "not hot" against worst chatter over the
  information-starved cells, for caps on the cold decision's (Wald) mean delay
  (`cold_delay_cap_s`) and three hot-rate estimates for the cold test (before issue 15, the
  default, and the true rate for comparison). Same spots and seeds as the chatter table, so rows
  differ only by the release; chatter over 500 spots has a standard error of about
  sqrt(chatter / 500) (Poisson count), the mean back time about 1.5 s / sqrt(n back).
* throughput of HotDetector.process on 2,000,000 background frames.
"""

from __future__ import annotations

import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_nav.core.detect import COLD_DELAY_CAP_S, RATIOS, HotDetector
from tools.detect_calibrate import (
    exp_mle_mean,
    first_passage,
    ladders,
    reflected_walk,
)

DT = 0.05
BACKGROUNDS = (5.0, 20.0, 200.0)
CONTRASTS = (1.2, 1.5, 2.0, 3.0, 4.0)
INTERVAL_S = 600.0
WARM = 1200  # frames of background before the step (60 s)
DELAY_RUNS = 2000
FA_FRAMES = 10_000_000  # background frames per background for the false-cue interval
REF_STREAMS = 300
SPOTS = 500
WINDOW = 20  # 1 s sliding window


def onsets(hot: np.ndarray) -> int:
    """Number of rising edges (False -> True, the stream starting False)."""
    return int(hot[0]) + int(np.count_nonzero(hot[1:] & ~hot[:-1])) if hot.size else 0


def false_cue_interval(b: float, interval_s: float, frames: int, seed: int) -> tuple[float, int]:
    """Mean time between hot onsets on background, and the number of onsets."""
    rng = np.random.default_rng(seed)
    det = HotDetector(b, interval_s, frame_period_s=DT)
    n, last = 0, False
    step = 1_000_000
    for start in range(0, frames, step):
        m = min(step, frames - start)
        hot = det.process(rng.poisson(b * DT, m), np.full(m, DT))
        n += onsets(hot) - int(last and hot[0])
        last = bool(hot[-1])
    return frames * DT / max(n, 1), n


@dataclass
class Ladder:
    """First-passage ladders of one statistic on REF_STREAMS background streams from zero."""

    vals: np.ndarray
    times: np.ndarray
    length: int

    def arl_s(self, h: float) -> float:
        tau = first_passage(self.vals, self.times, h, self.length + 1)
        return exp_mle_mean(tau, self.length) * DT


def tune(arl, target_s: float, lo: float, hi: float) -> tuple[float, float, float, float]:
    """Bracket the threshold with false-alarm interval target_s: (h_lo, arl_lo, h_hi, arl_hi)."""
    if arl(lo) >= target_s:
        return lo, arl(lo), lo, arl(lo)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        if arl(mid) >= target_s:
            hi = mid
        else:
            lo = mid
    return lo, arl(lo), hi, arl(hi)


def interp_delay(d_lo: np.ndarray, a_lo: float, d_hi: np.ndarray, a_hi: float, target: float):
    """Per-run delays interpolated in ln(false-alarm interval) between two thresholds."""
    if a_hi <= a_lo:
        return d_hi
    f = float(np.clip((np.log(target) - np.log(a_lo)) / (np.log(a_hi) - np.log(a_lo)), 0, 1))
    return (1 - f) * d_lo + f * d_hi


def window_sums(x: np.ndarray) -> np.ndarray:
    """Counts in the last WINDOW frames (fewer at the start), along the last axis."""
    c = np.cumsum(x, axis=-1)
    out = c.copy()
    out[..., WINDOW:] -= c[..., :-WINDOW]
    return out


def window_edge_interval(b: float, seed: int) -> np.ndarray:
    """Mean interval (s) between rising edges of "window count >= k", for every integer k."""
    rng = np.random.default_rng(seed)
    frames = 20_000_000
    edges = np.zeros(4096, dtype=np.int64)
    prev_last = 0
    for _ in range(frames // 2_000_000):
        ws = window_sums(rng.poisson(b * DT, 2_000_000).astype(np.int64))
        prev = np.concatenate([[prev_last], ws[:-1]])
        up = ws > prev
        np.add.at(edges, prev[up] + 1, 1)
        np.add.at(edges, ws[up] + 1, -1)
        prev_last = ws[-1]
    cnt = np.cumsum(edges)
    return frames * DT / np.maximum(cnt, 1)


def paired_ratio(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """mean(num)/mean(den) and its standard error from paired samples (delta method)."""
    r = num.mean() / den.mean()
    se = np.sqrt(np.var(num - r * den, ddof=1) / num.size) / den.mean()
    return float(r), float(se)


def cusum_paths(x: np.ndarray, b: float, s: float) -> np.ndarray:
    return reflected_walk(x * np.log(s / b) - (s - b) * DT)


def first_at_or_after(cond: np.ndarray, start: int) -> np.ndarray:
    """Delay in frames (1 = the first post-change frame) of the first True at or after start."""
    post = cond[:, start:]
    hit = post.any(axis=1)
    return np.where(hit, post.argmax(axis=1) + 1, post.shape[1]).astype(np.float64)


def efficiency_cell(
    b: float,
    c: float,
    target_s: float,
    classic_k: int,
    classic_s: float,
    win_arl: np.ndarray,
    seed: int,
) -> dict[str, object]:
    """Delays of probe-nav, the optimal CUSUM, the tuned window and the classic rule."""
    rng = np.random.default_rng(seed)
    mu, s = b * DT, c * b
    # reference CUSUM: false-alarm interval as a function of its threshold
    length = int(8 * target_s / DT)
    xa = rng.poisson(mu, size=(REF_STREAMS, length)).astype(np.float64)
    vals, times = ladders(cusum_paths(xa, b, s))
    lad = Ladder(vals, times, length)
    del xa
    # (h = 0 exactly is 'always alarm'; start just above it)
    ref = tune(lad.arl_s, target_s, 1e-9, 40.0)
    ref_classic = tune(lad.arl_s, classic_s, 1e-9, 40.0)
    # delays, all detectors on the same frames
    i1 = s * np.log(c) - (s - b)
    post = int(min(8000, max(200, 12 * np.log(target_s * b * (c - 1 - np.log(c)) + 2) / i1 / DT)))
    x = np.concatenate(
        [rng.poisson(mu, size=(DELAY_RUNS, WARM)), rng.poisson(s * DT, size=(DELAY_RUNS, post))],
        axis=1,
    ).astype(np.float64)
    ok = np.ones(DELAY_RUNS, dtype=bool)
    ours = np.empty(DELAY_RUNS)
    det = HotDetector(b, INTERVAL_S, frame_period_s=DT)
    live = np.full(x.shape[1], DT)
    for r in range(DELAY_RUNS):
        det.reset()
        hot = det.process(x[r], live)
        ok[r] = not hot[:WARM].any()
        after = np.flatnonzero(hot[WARM:])
        ours[r] = after[0] + 1 if after.size else post
    w = cusum_paths(x, b, s)

    def cusum_delays(w: np.ndarray, h_lo: float, a_lo: float, h_hi: float, a_hi: float, target):
        warm = w.shape[1] - post  # w may start later than x (shorter warm-up)
        d = [first_at_or_after(w >= h, warm) for h in (h_lo, h_hi)]
        pre = (w[:, :warm] >= h_lo).any(axis=1)
        return interp_delay(d[0], a_lo, d[1], a_hi, target), pre

    d_ref, pre_ref = cusum_delays(w, *ref, target_s)
    ws = window_sums(x)
    # tuned window: the smallest count above the mean whose false-cue interval reaches the target
    k_hi = int(np.argmax((np.arange(win_arl.size) > b * WINDOW * DT) & (win_arl >= target_s)))
    k_lo = k_hi - 1
    d_win = interp_delay(
        first_at_or_after(ws >= k_lo, WARM),
        win_arl[k_lo],
        first_at_or_after(ws >= k_hi, WARM),
        win_arl[k_hi],
        target_s,
    )
    pre_win = ws[:, WARM - 1] >= k_lo
    ok_main = ok & ~pre_ref & ~pre_win
    # the classic rule false-alarms every 35-75 s: it and its reference CUSUM (tuned to the same
    # interval) get only the last 5 s of the warm-up, so that few runs are dropped
    short = WARM - 100
    w = cusum_paths(x[:, short:], b, s)
    d_refc, pre_refc = cusum_delays(w, *ref_classic, classic_s)
    d_cls = first_at_or_after(ws >= classic_k, WARM)
    pre_cls = ws[:, WARM - 1] >= classic_k
    ok_cls = ~pre_refc & ~pre_cls
    censored = int(np.count_nonzero(ours[ok_main] >= post))
    return {
        "n": int(ok_main.sum()),
        "n_cls": int(ok_cls.sum()),
        "censored": censored,
        "ours_s": ours[ok_main].mean() * DT,
        "ref_s": d_ref[ok_main].mean() * DT,
        "eff": paired_ratio(d_ref[ok_main], ours[ok_main]),
        "eff_win": paired_ratio(d_ref[ok_main], d_win[ok_main]),
        "eff_cls": paired_ratio(d_refc[ok_cls], d_cls[ok_cls]),
        "cls_s": d_cls[ok_cls].mean() * DT,
    }


class TrueHotRateDetector(HotDetector):
    """HotDetector whose cold test is told the true hot rate instead of estimating it (for the
    trade-off table: the fewest false "cold" a given cap allows, at a slower return)."""

    def __init__(self, b: float, true_hot_cps: float, **kwargs: float) -> None:
        super().__init__(b, **kwargs)
        self.true_hot_cps = true_hot_cps

    def _hot_rate_cps(self, hot_counts: np.ndarray, hot_live_s: np.ndarray) -> np.ndarray:
        return np.full(hot_counts.shape, self.true_hot_cps)


class RawHotRateDetector(HotDetector):
    """HotDetector with the release's estimate before issue 15: the raw running rate since the
    change point (no prior), 4 b before any live time, floored at 1.2 b."""

    def _hot_rate_cps(self, hot_counts: np.ndarray, hot_live_s: np.ndarray) -> np.ndarray:
        b = self.reference_cps
        live = np.where(hot_live_s > 0, hot_live_s, 1.0)
        s = np.where(hot_live_s > 0, hot_counts / live, RATIOS[-1] * b)
        return np.maximum(s, RATIOS[0] * b)


def chatter_cell(
    b: float, c: float, seed: int, cold_delay_cap_s: float = COLD_DELAY_CAP_S,
    hot_rate: str = "estimated",
) -> dict[str, float]:
    """Steady spots of 10-20 s after 30 s of background, then 20 s of background."""
    rng = np.random.default_rng(seed)
    kwargs = {"false_alarm_interval_s": INTERVAL_S, "frame_period_s": DT,
              "cold_delay_cap_s": cold_delay_cap_s}
    det = {"true": lambda: TrueHotRateDetector(b, c * b, **kwargs),
           "raw": lambda: RawHotRateDetector(b, **kwargs),
           "estimated": lambda: HotDetector(b, **kwargs)}[hot_rate]()
    pre, after = 600, 400
    extra, detected, back, not_back, hold = 0, 0, [], 0, []
    for _ in range(SPOTS):
        spot = int(rng.integers(200, 401))
        x = np.concatenate(
            [rng.poisson(b * DT, pre), rng.poisson(c * b * DT, spot), rng.poisson(b * DT, after)]
        )
        det.reset()
        hot = det.process(x, np.full(x.size, DT))
        inside = hot[pre : pre + spot]
        edges = onsets(inside) if not hot[pre - 1] else onsets(inside) - int(inside[0])
        if edges:
            detected += 1
            extra += edges - 1
            first = int(np.argmax(inside & ~np.concatenate([[hot[pre - 1]], inside[:-1]])))
            hold.append(inside[first:].mean())
        if inside[-1]:
            tail = np.flatnonzero(~hot[pre + spot :])
            if tail.size:
                back.append((tail[0] + 1) * DT)
            else:
                not_back += 1
    return {
        "chatter": extra / SPOTS,
        "detected": detected / SPOTS,
        "back_s": float(np.mean(back)) if back else float("nan"),
        "back_n": len(back),
        "not_back": not_back,
        "hold": float(np.mean(hold)) if hold else float("nan"),
    }


# (hot-rate estimate, cap on the cold decision's mean delay in s); the first row is the release
# before issue 15 (raw running rate, 4 s cap), the second the default
TRADEOFF_ROWS = (("raw", 4.0), ("estimated", COLD_DELAY_CAP_S), ("estimated", 3.0),
                 ("estimated", 2.5), ("true", COLD_DELAY_CAP_S), ("true", 3.0), ("true", 2.5))
# the cells where the release is information-starved; elsewhere (3-4x, or 200 cps) every row
# returns within 2 s with chatter < 0.05 (chatter table above)
TRADEOFF_CELLS = tuple(itertools.product((5.0, 20.0), (1.2, 1.5, 2.0)))


def tradeoff_table() -> None:
    """Worst return time and worst chatter over the starved cells, per estimate and cap."""
    print("release trade-off, worst over b = 5, 20 cps x s/b = 1.2, 1.5, 2 (same spots as above);\n"
          "hot rate: 'raw' running rate since the change point (before issue 15), 'estimated'\n"
          "(shrunk by the prior of HOT_PRIOR_COUNTS counts at b: the default), 'true' (the cold\n"
          "test told the true hot rate: fewest false colds at a given cap, but no quicker return)")
    print(f"{'hot rate':>9} {'cap s':>6} {'worst back s':>12} {'(cell)':>9} {'worst chatter':>13} "
          f"{'(cell)':>9}")
    for kind, cap in TRADEOFF_ROWS:
        back, chat = (0.0, ""), (0.0, "")
        for b, c in TRADEOFF_CELLS:
            seed = 3000 + 10 * BACKGROUNDS.index(b) + CONTRASTS.index(c)
            r = chatter_cell(b, c, seed, cold_delay_cap_s=cap, hot_rate=kind)
            cell = f"{b:g}/{c:g}x"
            if r["back_s"] > back[0]:
                back = (r["back_s"], cell)
            if r["chatter"] > chat[0]:
                chat = (r["chatter"], cell)
        print(f"{kind:>9} {cap:6.2f} {back[0]:12.2f} {back[1]:>9} {chat[0]:13.3f} {chat[1]:>9}")
    print("goals: back < 3 s and chatter < 0.1 in every cell")


def throughput() -> tuple[float, float]:
    """Frames/s of one batch call on 2,000,000 background frames (20 and 200 cps)."""
    rates = []
    for b in (20.0, 200.0):
        rng = np.random.default_rng(5)
        x = rng.poisson(b * DT, 2_000_000)
        live = np.full(x.size, DT)
        det = HotDetector(b, INTERVAL_S, frame_period_s=DT)
        best = np.inf
        for _ in range(3):
            det.reset()
            t0 = time.perf_counter()
            det.process(x, live)
            best = min(best, time.perf_counter() - t0)
        rates.append(x.size / best)
    return rates[0], rates[1]


def main() -> int:
    t_start = time.time()
    print("probe-nav hot-spot detector benchmark (20 frames/s, Poisson frames, fixed seeds)\n")
    r20, r200 = throughput()
    print(
        f"throughput of HotDetector.process, 2,000,000 background frames: "
        f"{r20 / 1e6:.1f} M frames/s at 20 cps, {r200 / 1e6:.1f} M frames/s at 200 cps\n"
    )

    print("false-cue interval on background (mean time between hot onsets)")
    print(f"{'b cps':>6} {'configured s':>13} {'measured s':>11} {'ratio':>6} {'onsets':>7}")
    measured = {}
    for i, b in enumerate(BACKGROUNDS):
        for interval, frames in ((60.0, 1_000_000), (INTERVAL_S, FA_FRAMES), (3600.0, 8_000_000)):
            m, n = false_cue_interval(b, interval, frames, seed=100 + i)
            if interval == INTERVAL_S:
                measured[b] = m
            print(f"{b:6.0f} {interval:13.0f} {m:11.1f} {m / interval:6.2f} {n:7d}")
    print()

    print("detection efficiency = optimal-CUSUM delay / delay (same false-cue interval), +- s.e.")
    print(
        f"{'b cps':>6} {'s/b':>4} {'runs':>10} {'opt delay s':>11} {'ours s':>7} "
        f"{'ours eff':>12} {'1 s window':>12} {'b+3sqrt(b)':>12} {'its delay s':>11}"
    )
    classic_intervals = {}
    for i, b in enumerate(BACKGROUNDS):
        win_arl = window_edge_interval(b, seed=200 + i)
        classic_k = int(np.floor(b + 3 * np.sqrt(b))) + 1  # counts > b + 3 sqrt(b)
        classic_intervals[b] = float(win_arl[classic_k])
        for j, c in enumerate(CONTRASTS):
            r = efficiency_cell(
                b, c, measured[b], classic_k, classic_intervals[b], win_arl, seed=1000 + 10 * i + j
            )
            e, ew, ec = r["eff"], r["eff_win"], r["eff_cls"]
            print(
                f"{b:6.0f} {c:4.1f} {r['n']:5d}/{r['n_cls']:<4d} "
                f"{r['ref_s']:11.3f} {r['ours_s']:7.3f} "
                f"{e[0]:6.3f}+-{e[1]:.3f} {ew[0]:6.3f}+-{ew[1]:.3f} {ec[0]:6.3f}+-{ec[1]:.3f} "
                f"{r['cls_s']:11.3f}" + (f"  ({r['censored']} censored)" if r["censored"] else "")
            )
    print(
        "classic rule's own false-cue interval: "
        + ", ".join(f"{classic_intervals[b]:.0f} s at {b:.0f} cps" for b in BACKGROUNDS)
        + "\n"
    )

    print(
        f"steady hot spots of 10-20 s ({SPOTS} per cell): chatter = extra onsets per spot; "
        "back = mean time to 'not hot' after leaving (spots hot at the exit)"
    )
    print(
        f"{'b cps':>6} {'s/b':>4} {'detected':>9} {'chatter':>8} {'hot fraction':>12} "
        f"{'back s':>7} {'n back':>7} {'not back in 20 s':>16}"
    )
    for i, b in enumerate(BACKGROUNDS):
        for j, c in enumerate(CONTRASTS):
            r = chatter_cell(b, c, seed=3000 + 10 * i + j)
            print(
                f"{b:6.0f} {c:4.1f} {r['detected']:9.3f} {r['chatter']:8.3f} {r['hold']:12.3f} "
                f"{r['back_s']:7.2f} {r['back_n']:7d} {r['not_back']:16d}"
            )
    print()
    tradeoff_table()
    print(f"\ntotal {time.time() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
