"""Dual-isotope benchmark: the cost of every window through the processing path, and the
crosstalk correction's bias and sd against truth (prints figures, no pass/fail).

Throughput: 1 hour of 50 ms frames in 2 windows, batch, and online in polls of 10 frames (what
the console does at 30 Hz with 20 frames/s), against the single-window pipeline.
Correction: I-125 at 40 cps under Tc-99m at 10, 30 and 100x with a 9.5 % spill measured per trial
by a 60 s calibration count; 2,000 trials of a 20 s count: mean - truth (in standard errors),
reported sd / empirical sd.

Run: python benchmarks/bench_windows.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_nav.calibration.crosstalk import Spill, SpillMatrix
from probe_nav.core.crosstalk import unmix
from probe_nav.core.pipeline import PipelineConfig, Processor
from probe_nav.core.windows import WindowsProcessor

FRAME_S = 0.05


def throughput(hours: float) -> None:
    n = int(hours * 3600 / FRAME_S)
    rng = np.random.default_rng(1)
    counts = rng.poisson([30.0 * FRAME_S, 400.0 * FRAME_S], size=(n, 2))
    t, live = np.arange(1, n + 1) * FRAME_S, np.full(n, FRAME_S)
    config = PipelineConfig(background_cps=30.0)
    spill = SpillMatrix.parse(["1:0=0.095+-0.004"], 2)
    for label, run in (
        ("single window", lambda a, b: Processor(config).process(t[a:b], live[a:b],
                                                                  counts[a:b, 0])),
        ("two windows + crosstalk", lambda a, b: WindowsProcessor(
            2, config, spill, [None, (400.0, 5.0)]).process(t[a:b], live[a:b], counts[a:b]))):
        t0 = time.perf_counter()
        run(0, n)
        batch = time.perf_counter() - t0
        print(f"{label:>24}: batch {n / batch / 1e3:8.0f} k frames/s ({hours:g} h in "
              f"{batch:.2f} s)")
    for label, proc in (("single window", Processor(config)),
                        ("two windows + crosstalk",
                         WindowsProcessor(2, config, spill, [None, (400.0, 5.0)]))):
        polls = min(n // 10, 3000)
        t0 = time.perf_counter()
        for k in range(polls):
            a, b = 10 * k, 10 * k + 10
            if isinstance(proc, Processor):
                proc.process(t[a:b], live[a:b], counts[a:b, 0])
            else:
                proc.process(t[a:b], live[a:b], counts[a:b])
        per_poll = (time.perf_counter() - t0) / polls
        print(f"{label:>24}: online {1e3 * per_poll:6.3f} ms per poll of 10 frames")


def correction(trials: int) -> None:
    rng = np.random.default_rng(2026)
    f_true, i125_cps, live_s = 0.095, 40.0, 20.0
    print(f"{'Tc/I-125':>9} {'mean-truth (SE)':>16} {'rep/emp sd':>11} {'sd cps':>8}")
    for ratio in (10.0, 30.0, 100.0):
        tc_cps = ratio * i125_cps
        cal = rng.poisson([f_true * 5000.0 * 60.0, 5000.0 * 60.0], size=(trials, 2))
        f_hat = cal[:, 0] / cal[:, 1]
        f_sd = f_hat * np.sqrt(1.0 / cal[:, 0] + 1.0 / cal[:, 1])
        counts = rng.poisson([(i125_cps + f_true * tc_cps) * live_s, tc_cps * live_s],
                             size=(trials, 2))
        est, rep = np.empty(trials), np.empty(trials)
        for k in range(trials):
            spill = SpillMatrix(2, (Spill(1, 0, f_hat[k], f_sd[k]),))
            c, s = unmix(counts[k][None, :] / live_s, np.sqrt(counts[k][None, :]) / live_s,
                         spill)
            est[k], rep[k] = c[0, 0], s[0, 0]
        se = est.std(ddof=1) / np.sqrt(trials)
        print(f"{ratio:>8.0f}x {(est.mean() - i125_cps) / se:>16.2f} "
              f"{rep.mean() / est.std(ddof=1):>11.3f} {est.std(ddof=1):>8.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a shorter run")
    args = p.parse_args()
    throughput(0.1 if args.quick else 1.0)
    correction(300 if args.quick else 2000)


if __name__ == "__main__":
    main()
