"""Offline calibration of the hot-spot detector's CUSUM bank (regenerates `detect_table.py`).

Run ``python -m tools.detect_calibrate`` from the repository root (about 10 minutes on 2 cores;
fixed seeds, so the output is reproducible). An offline generator, not part of the installed
package: the run-time detector (probe_nav.core.detect) only reads the table it writes.

See docs/detection.md for the method. In short, for every mean background count per frame
``mu`` of ``MU_GRID`` and every false-alarm interval in frames ``n`` of ``N_GRID``, by
simulation of Poisson frames:

1. ``hnat_k``: the threshold at which chart k *alone* has mean run length ``n`` from zero;
2. ``D_k(h)``: chart k's mean steady-state detection delay at its own design ratio;
3. the bank thresholds ``h_k = D_k^-1((1 + lam_k) D_k(hnat_k))``: first every chart pays the
   same relative delay penalty ``lam_k = lam``, ``lam`` found by bisection so that the bank (an
   alarm when any chart crosses its threshold, all charts restarted at 0 after an alarm) has
   mean run length ``n``; then EQUALIZE_ITERS rounds move the ``lam_k`` so that the *bank's*
   efficiency (chart k alone at ``hnat_k`` vs the bank, steady-state delays at ratio k) is the
   same at every design ratio, re-scaling all ``lam_k`` each round to keep the run length ``n``.

Everything is pure numpy; the statistic of one chart on many streams is computed with cumsum and
minimum.accumulate (``W_n = S_n - min(0, min_k S_k)``), and first-passage times for all thresholds
at once come from the ladder (record) points of the running maximum of ``W``.
"""

from __future__ import annotations

import argparse
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

RATIOS: tuple[float, ...] = tuple(float(r) for r in np.geomspace(1.2, 4.0, 6))
MU_GRID: tuple[float, ...] = (
    0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0,
)  # fmt: skip
N_GRID: tuple[float, ...] = (30.0, 100.0, 300.0, 1000.0, 3000.0, 1e4, 3e4, 1e5)
H_GRID = np.linspace(0.0, 24.0, 481)  # thresholds at which delay curves are tabulated
SAMPLES_ARL = 2.0e7  # Poisson frames simulated per (mu, n) for the bank's run length
RUN_FACTOR = 8  # streams are RUN_FACTOR * n frames long (censoring ~ exp(-8))
MIN_STREAMS = 100
DELAY_STREAMS = 600
WARM_COUNTS = 300.0  # background counts before the step in the delay runs ...
MIN_WARM = 400  # ... and at least this many frames
MIN_RUNS = 50
BANK_STREAMS = 400  # steady-state runs per design ratio for the bank's efficiency
BANK_H_MAX = 14.0  # post-step frames cover thresholds up to this
EQUALIZE_ITERS = 2  # few, damped rounds: the efficiencies are estimated from 400 runs
DELAY_MAX_FRAMES = 60_000
TABLE_PATH = Path(__file__).resolve().parents[1] / "probe_nav" / "core" / "detect_table.py"


def reflected_walk(z: np.ndarray) -> np.ndarray:
    """CUSUM path W_n = max(0, W_{n-1} + z_n), W_{-1} = 0, along the last axis."""
    s = np.cumsum(z, axis=-1)
    m = np.minimum.accumulate(s, axis=-1)
    np.minimum(m, 0.0, out=m)
    return s - m


def chart_increments(x: np.ndarray, mu: float, ratio: float) -> np.ndarray:
    """Log-likelihood ratio of rate ratio*mu vs mu for Poisson frame counts x."""
    return x * np.log(ratio) - (ratio - 1.0) * mu


def ladders(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Records of each row's running max: values (inf-padded), 1-based frames (max-padded)."""
    r = np.maximum.accumulate(w, axis=1)
    rec = np.empty(w.shape, dtype=bool)
    rec[:, 0] = True
    np.greater(r[:, 1:], r[:, :-1], out=rec[:, 1:])
    cnt = rec.sum(axis=1)
    width = int(cnt.max())
    vals = np.full((w.shape[0], width), np.inf)
    times = np.full((w.shape[0], width), np.iinfo(np.int64).max, dtype=np.int64)
    rows, cols = np.nonzero(rec)
    pos = np.arange(rows.size) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    vals[rows, pos] = r[rows, cols]
    times[rows, pos] = cols + 1
    return vals, times


def first_passage(vals: np.ndarray, times: np.ndarray, h: float, never: int) -> np.ndarray:
    """Frame number at which each row first reaches h (``never`` if it does not)."""
    i = (vals < h).sum(axis=1)
    width = vals.shape[1]
    t = np.take_along_axis(times, np.minimum(i, width - 1)[:, None], axis=1)[:, 0]
    return np.where(i < width, np.minimum(t, never), never)


def exp_mle_mean(tau: np.ndarray, length: int) -> float:
    """Mean of censored, nearly exponential run lengths (censored at ``length``)."""
    done = tau <= length
    return float(np.minimum(tau, length).sum() / max(int(done.sum()), 1))


class _RunLengths:
    """Run lengths from zero of every chart on the same simulated background streams."""

    def __init__(self, mu: float, n: float, rng: np.random.Generator) -> None:
        self.length = int(RUN_FACTOR * n) + 1
        streams = max(MIN_STREAMS, int(SAMPLES_ARL / self.length))
        self.lads: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in RATIOS]
        block = max(1, int(4e6 // self.length))
        for start in range(0, streams, block):
            rows = min(block, streams - start)
            x = rng.poisson(mu, size=(rows, self.length)).astype(np.float64)
            for k, ratio in enumerate(RATIOS):
                self.lads[k].append(ladders(reflected_walk(chart_increments(x, mu, ratio))))

    def passage(self, k: int, h: float) -> np.ndarray:
        never = self.length + 1
        return np.concatenate([first_passage(v, t, h, never) for v, t in self.lads[k]])

    def single_arl(self, k: int, h: float) -> float:
        return exp_mle_mean(self.passage(k, h), self.length)

    def bank_arl(self, hs: np.ndarray) -> float:
        tau = np.minimum.reduce([self.passage(k, float(h)) for k, h in enumerate(hs)])
        return exp_mle_mean(tau, self.length)


def _bisect(f, lo: float, hi: float, target: float, iters: int = 40) -> float:
    """Smallest x in [lo, hi] with f(x) >= target for nondecreasing f (hi if none)."""
    if f(lo) >= target:
        return lo
    for _ in range(iters):
        mid = 0.5 * (lo + hi)
        if f(mid) >= target:
            hi = mid
        else:
            lo = mid
    return hi


def delay_curves(mu: float, rng: np.random.Generator) -> np.ndarray:
    """Mean steady-state delay (frames) of each chart at its own ratio, at thresholds H_GRID.

    Each run has WARM_COUNTS / mu (at least MIN_WARM) frames of background, then the step; runs
    with an alarm before the step are dropped (the conditional steady state of the benchmark).
    Where too few runs remain (tiny thresholds) the delay from zero is used.
    """
    warm = int(max(MIN_WARM, WARM_COUNTS / mu))
    out = np.empty((len(RATIOS), H_GRID.size))
    for k, ratio in enumerate(RATIOS):
        drift = mu * (ratio * np.log(ratio) - (ratio - 1.0))
        length = int(min(DELAY_MAX_FRAMES, 3.0 * H_GRID[-1] / drift + 50))
        x = np.concatenate(
            [
                rng.poisson(mu, size=(DELAY_STREAMS, warm)),
                rng.poisson(ratio * mu, size=(DELAY_STREAMS, length)),
            ],
            axis=1,
        ).astype(np.float64)
        w = reflected_walk(chart_increments(x, mu, ratio))
        premax = w[:, :warm].max(axis=1)
        vals, times = ladders(w[:, warm:])
        zvals, ztimes = ladders(reflected_walk(chart_increments(x[:, warm:], mu, ratio)))
        for j, h in enumerate(H_GRID):
            ok = premax < h
            if ok.sum() >= MIN_RUNS:
                tau = first_passage(vals[ok], times[ok], h, length + 1)
            else:
                tau = first_passage(zvals, ztimes, h, length + 1)
            out[k, j] = np.minimum(tau, length + 1).mean()
        out[k] = np.maximum.accumulate(out[k])
    return out


class _BankDelays:
    """Steady-state runs at each design ratio, with every chart's path, for bank delays."""

    def __init__(self, mu: float, rng: np.random.Generator) -> None:
        warm = int(max(MIN_WARM, WARM_COUNTS / mu))
        self.runs = []
        for ratio in RATIOS:
            drift = mu * (ratio * np.log(ratio) - (ratio - 1.0))
            post = int(min(DELAY_MAX_FRAMES, 3.0 * BANK_H_MAX / drift + 50))
            x = np.concatenate(
                [
                    rng.poisson(mu, size=(BANK_STREAMS, warm)),
                    rng.poisson(ratio * mu, size=(BANK_STREAMS, post)),
                ],
                axis=1,
            ).astype(np.float64)
            per = []
            for r in RATIOS:
                w = reflected_walk(chart_increments(x, mu, r))
                per.append((w[:, :warm].max(axis=1), *ladders(w[:, warm:])))
            self.runs.append((per, post))

    def efficiencies(self, hs: np.ndarray, hnat: np.ndarray) -> np.ndarray:
        """Delay of chart j alone at hnat_j / delay of the bank, at each design ratio j."""
        out = np.ones(len(RATIOS))
        for j, (per, post) in enumerate(self.runs):
            ok = per[j][0] < hnat[j]
            tau = np.full(ok.size, post + 1)
            for k, (premax, vals, times) in enumerate(per):
                ok &= premax < hs[k]
                tau = np.minimum(tau, first_passage(vals, times, hs[k], post + 1))
            alone = first_passage(per[j][1], per[j][2], hnat[j], post + 1)
            if ok.sum() >= MIN_RUNS:
                out[j] = alone[ok].mean() / tau[ok].mean()
        return out


def thresholds_for(mu: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Bank thresholds (len(N_GRID), len(RATIOS)) and mean lam per n, for one mu."""
    rng = np.random.default_rng(seed)
    dcurve = delay_curves(mu, rng)
    bank = _BankDelays(mu, rng)
    table = np.empty((len(N_GRID), len(RATIOS)))
    lams = np.empty(len(N_GRID))
    for i, n in enumerate(N_GRID):
        runs = _RunLengths(mu, n, rng)
        hnat = np.array(
            [
                _bisect(lambda h, k=k, runs=runs: runs.single_arl(k, h), 0.0, 30.0, n)
                for k in range(len(RATIOS))
            ]
        )
        d0 = np.array([np.interp(hnat[k], H_GRID, dcurve[k]) for k in range(len(RATIOS))])

        def hs_at(lam: np.ndarray, hnat: np.ndarray = hnat, d0: np.ndarray = d0) -> np.ndarray:
            hs = np.empty(len(RATIOS))
            for k in range(len(RATIOS)):
                d = dcurve[k]
                target = d0[k] * (1.0 + lam[k])
                j = int(np.searchsorted(d, target, side="left"))
                if j >= d.size:  # the delay curve is flat up to H_GRID[-1]: chart is redundant
                    hs[k] = H_GRID[-1]
                else:
                    lo_j = max(j - 1, 0)
                    span = d[j] - d[lo_j]
                    frac = 0.0 if span <= 0 else (target - d[lo_j]) / span
                    hs[k] = max(H_GRID[lo_j] + frac * (H_GRID[j] - H_GRID[lo_j]), hnat[k])
            return hs

        def scaled(lam: np.ndarray, runs: _RunLengths = runs, n: float = n) -> np.ndarray:
            """lam * v with the smallest v that gives the bank the run length n."""
            v = _bisect(lambda v: runs.bank_arl(hs_at(lam * v)), 0.0, 8.0, n, iters=30)
            return lam * v

        lam = scaled(np.ones(len(RATIOS)))  # equal relative delay penalty
        for _ in range(EQUALIZE_ITERS):  # then equal bank efficiency at every design ratio
            penalty = np.maximum(1.0 / bank.efficiencies(hs_at(lam), hnat) - 1.0, 0.005)
            lam = scaled(np.maximum(lam, 0.01) * np.clip(penalty.mean() / penalty, 0.67, 1.5))
        table[i] = hs_at(lam)
        lams[i] = float(lam.mean())
    return table, lams


def _job(args: tuple[int, float]) -> tuple[int, np.ndarray, np.ndarray, float]:
    i, mu = args
    t0 = time.time()
    table, lams = thresholds_for(mu, seed=20240 + i)
    return i, table, lams, time.time() - t0


def _format(table: np.ndarray, lams: np.ndarray) -> str:
    lines = [
        '"""Generated by tools/detect_calibrate.py - do not edit (see docs/detection.md).',
        "",
        "THRESHOLDS[i][j][k]: threshold of chart k (rate ratio RATIOS[k]) for a mean background",
        "of MU_GRID[i] counts per frame and a mean run of N_GRID[j] frames between false alarms.",
        "LAMBDA[i][j]: mean relative delay penalty lam_k of the charts (see the generator).",
        '"""',
        "",
        f"RATIOS = {tuple(round(r, 6) for r in RATIOS)!r}",
        f"MU_GRID = {MU_GRID!r}",
        f"N_GRID = {N_GRID!r}",
        "",
        "# fmt: off",
        "THRESHOLDS = (",
    ]
    for block in table:
        lines.append("    (")
        for row in block:
            lines.append("        (" + ", ".join(f"{v:.4f}" for v in row) + "),")
        lines.append("    ),")
    lines.append(")")
    lines.append("LAMBDA = (")
    for row in lams:
        lines.append("    (" + ", ".join(f"{v:.4f}" for v in row) + "),")
    lines.append(")")
    lines.append("# fmt: on")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Regenerate detect_table.py."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=TABLE_PATH)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    table = np.empty((len(MU_GRID), len(N_GRID), len(RATIOS)))
    lams = np.empty((len(MU_GRID), len(N_GRID)))
    # the slowest (largest mu) first, for a balanced pool
    order = sorted(enumerate(MU_GRID), key=lambda t: -t[1])
    with Pool(args.jobs) as pool:
        for i, tab, lam, secs in pool.imap_unordered(_job, order):
            table[i], lams[i] = tab, lam
            print(f"mu={MU_GRID[i]:g}: {secs:.0f} s, lam={np.round(lam, 3)}", file=sys.stderr)
    args.out.write_text(_format(table, lams))
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
