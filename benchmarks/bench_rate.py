"""Rate-meter benchmark: precision, step response and throughput (prints figures, no pass/fail).

For simulated Poisson streams at 20 frames/s (backgrounds 5, 20, 200 cps; up-steps 1.2-4x; fixed
seeds) it prints, for every meter, the steady-state relative sd and the 90 % time of the MEAN step
response (mean over realisations, measured from the step). For the adaptive meter it also prints
the time constant of the fixed exponential meter with the same steady relative sd
(rel sd = 1/sqrt(2 r tau) => tau_eq = 1 / (2 r sd^2)), that meter's 90 % time ln(10) tau_eq, and the
speed-up t90(tau_eq) / t90(adaptive). Then the batch throughput of the full pipeline and the
online per-frame cost.

Per-cell table (issue 15): the same step data, but timed per realisation on independent
realisations for both meters, in every cell (background x step). The reference is the exponential
meter with the adaptive meter's measured steady relative sd (tau_eq above), run on its own
independent realisations after 6 tau_eq of steady rate (its start-up weight is then e^-6 < 0.3 %).
Two response times per realisation, measured from the step to the end of the first frame that
meets the condition (censored at the end of the record; censored runs are counted in the table):
* T90: the estimate has covered 90 % of the step (estimate >= b + 0.9 (s - b));
* T2sd: the estimate is within 2 sd of the new rate s, sd = s / sqrt(2 s tau_eq) being the steady
  sd of the equal-precision meter at s (the precision both meters share after the step).
Speed-up of a cell = mean time of the fixed meter / mean time of the adaptive meter (ratio of
means over the realisations; their standard errors are printed too). Goal: >= 1 in every cell and
>= 2 in the median over cells. (Issue 15 quoted 0.53x at 5 -> 7.5 cps and 1.49x at 5 -> 10 cps
without its definition; neither definition here, nor the time after which the estimate stays
above 90 %, nor steps only 30-120 s after the start, gives less than 3x in those two cells. With
a step 30-60 s after the start, the 5 cps 1.2x cell gives 0.7-0.8x by T2sd: both meters are then
running means of the few seconds seen, and the fixed one forgets them faster.)

Run: python benchmarks/bench_rate.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_nav.core.adaptive import AdaptiveConfig, AdaptiveRateMeter
from probe_nav.core.rate import FIXED_TAU_PRESETS_S, ExponentialMeter

FRAME_S = 0.05  # 20 frames/s
BACKGROUNDS_CPS = (5.0, 20.0, 200.0)
STEPS = (1.2, 1.5, 2.0, 4.0)


def adaptive_memory_s(rate_cps: float, config: AdaptiveConfig) -> float:
    """Live time the adaptive meter averages over in steady state at rate_cps."""
    return min(config.max_counts / rate_cps, config.max_window_s)


def step_runs(
    make_meter, rate_cps: float, step: float, pre_s: float, post_s: float, runs: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Estimates (runs x frames) of independent streams stepping at pre_s, and the frame times."""
    n_pre, n_post = round(pre_s / FRAME_S), round(post_s / FRAME_S)
    mean_counts = np.r_[np.full(n_pre, rate_cps), np.full(n_post, rate_cps * step)] * FRAME_S
    live = np.full(n_pre + n_post, FRAME_S)
    rng = np.random.default_rng(seed)
    out = np.empty((runs, n_pre + n_post))
    for i in range(runs):
        out[i] = make_meter().process(rng.poisson(mean_counts), live).rate_cps
    t_s = (np.arange(n_pre + n_post) + 1) * FRAME_S - pre_s  # 0 = end of the first stepped frame
    return out, t_s


def t90_s(mean_response: np.ndarray, t_s: np.ndarray, before: float, after: float) -> float:
    """First time >= 0 at which the mean response has covered 90 % of the step."""
    frac = (mean_response - before) / (after - before)
    hit = np.flatnonzero((t_s >= 0) & (frac >= 0.9))
    return float(t_s[hit[0]]) if hit.size else float("nan")


def steady_rel_sd(make_meter, rate_cps: float, memory_s: float, memories: int, seed: int):
    """Relative sd of the estimates over one long steady stream (first two memories skipped)."""
    n = round((memories + 2) * memory_s / FRAME_S)
    live = np.full(n, FRAME_S)
    meter = make_meter()
    est = meter.process(np.random.default_rng(seed).poisson(rate_cps * live), live)
    return float(est.rate_cps[round(2 * memory_s / FRAME_S) :].std() / rate_cps), meter


def step_t90_s(make_meter, rate_cps: float, step: float, memory_s: float, runs: int, seed: int):
    """90 % time of the mean response to a step after 1.3 memories of steady rate."""
    pre_s = 1.3 * memory_s + 20.0
    post_s = 1.2 * memory_s + 20.0
    est, t_s = step_runs(make_meter, rate_cps, step, pre_s, post_s, runs, seed)
    return t90_s(est.mean(axis=0), t_s, rate_cps, rate_cps * step)


def exp_mean_t90_s(tau_s: float, step: float) -> float:
    """90 % time of an exponential meter's mean step response (it is linear: feed the means)."""
    scale = 10**6  # integer "counts" proportional to the expected counts per frame
    n_pre, n_post = round(20 * tau_s / FRAME_S), round(10 * tau_s / FRAME_S)
    counts = np.r_[np.full(n_pre, scale), np.full(n_post, round(scale * step))]
    est = ExponentialMeter(tau_s).process(counts, np.full(counts.size, FRAME_S)).rate_cps
    t_s = (np.arange(counts.size) + 1 - n_pre) * FRAME_S
    return t90_s(est, t_s, scale / FRAME_S, round(scale * step) / FRAME_S)


def precision_table(runs: int, memories: int, config: AdaptiveConfig) -> list[float]:
    """Print the step-response table; returns the adaptive speed-ups."""
    print(f"steady sd over {memories} memories; step response: mean of {runs} runs at "
          f"{1 / FRAME_S:.0f} frames/s; times in s")
    taus = FIXED_TAU_PRESETS_S
    print(f"{'bg cps':>6} {'step':>4} | {'adapt sd':>8} {'t90':>6} | {'tau_eq':>6} {'t90_eq':>6} "
          f"{'speed-up':>8} | fixed tau " + " ".join(f"{t:>11g}" for t in taus))
    speedups = []
    for i, bg in enumerate(BACKGROUNDS_CPS):
        memory_s = adaptive_memory_s(bg, config)
        sd_a, meter = steady_rel_sd(lambda: AdaptiveRateMeter(config), bg, memory_s, memories,
                                    7 + i)
        false = (meter.restarts - meter.merges) / (memories + 2)
        print(f"{bg:6g} cps: memory {memory_s:.1f} s; on steady data {false:.3f} false restarts "
              f"per memory kept, {meter.merges / (memories + 2):.3f} taken back")
        tau_eq = 1.0 / (2.0 * bg * sd_a**2)
        t90_eq = np.log(10.0) * tau_eq
        fixed_sd = [steady_rel_sd(lambda t=t: ExponentialMeter(t), bg, 5 * t, 200, 70 + i)[0]
                    for t in taus]
        for k, step in enumerate(STEPS):
            t90_a = step_t90_s(lambda: AdaptiveRateMeter(config), bg, step, memory_s, runs,
                               1000 * int(bg) + k)
            speedups.append(t90_eq / t90_a)
            fixed = " ".join(f"{sd:5.3f}/{exp_mean_t90_s(t, step):5.2f}"
                             for t, sd in zip(taus, fixed_sd, strict=True))
            print(f"{bg:6g} {step:4g} | {sd_a:8.4f} {t90_a:6.1f} | {tau_eq:6.1f} {t90_eq:6.1f} "
                  f"{t90_eq / t90_a:8.2f} | sd/t90    {fixed}")
    theory = ", ".join(f"{np.log(10) * t:.2f}" for t in taus)
    print(f"fixed meters, theory: rel sd 1/sqrt(2 r tau); t90 = ln(10) tau = {theory} s")
    print(f"adaptive speed-up vs equal-precision exponential: min {min(speedups):.2f}")
    return speedups


def frames_s(duration_s: float) -> float:
    """duration_s rounded to a whole number of frames (so the step falls on a frame boundary)."""
    return round(duration_s / FRAME_S) * FRAME_S


def first_time_s(hit: np.ndarray) -> np.ndarray:
    """Per row: time from the step to the end of the first True frame (censored: record end)."""
    n = hit.shape[1]
    return np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, n) * FRAME_S


def response_times_s(est: np.ndarray, before: float, after: float, sd_after: float):
    """(T90, T2sd) per realisation of post-step estimates (runs x frames); see the docstring."""
    t90 = first_time_s(est >= before + 0.9 * (after - before))
    t2sd = first_time_s(np.abs(est - after) <= 2.0 * sd_after)
    return t90, t2sd


def ratio_of_means(num: np.ndarray, den: np.ndarray) -> tuple[float, float]:
    """mean(num) / mean(den) for independent samples, and its standard error (delta method)."""
    r = num.mean() / den.mean()
    rel_var = num.var(ddof=1) / num.size / num.mean() ** 2 + den.var(ddof=1) / den.size / (
        den.mean() ** 2)
    return float(r), float(r * np.sqrt(rel_var))


def per_cell_table(
    runs: int, config: AdaptiveConfig, memories: int = 60
) -> dict[tuple[float, float], tuple]:
    """Print the per-realisation speed-up of every cell; returns {(bg, step): (s90, s2sd)}."""
    print(f"\nper-cell speed-up vs the equal-precision exponential meter: {runs} independent "
          "realisations per meter and cell; times in s (mean over realisations)")
    print(f"{'bg cps':>6} {'step':>4} {'tau_eq':>6} | {'T90 adapt':>9} {'fixed':>7} "
          f"{'speed-up':>13} | {'T2sd adapt':>10} {'fixed':>7} {'speed-up':>13} | "
          f"{'adapt p90 T2sd':>14}")
    result: dict[tuple[float, float], tuple] = {}
    for i, bg in enumerate(BACKGROUNDS_CPS):
        memory_s = adaptive_memory_s(bg, config)
        sd_a, _ = steady_rel_sd(lambda: AdaptiveRateMeter(config), bg, memory_s, memories, 7 + i)
        tau_eq = 1.0 / (2.0 * bg * sd_a**2)
        for k, step in enumerate(STEPS):
            after = bg * step
            sd_after = after / np.sqrt(2.0 * after * tau_eq)
            pre_a, pre_f = frames_s(1.3 * memory_s + 20.0), frames_s(6.0 * tau_eq)
            est_a, _ = step_runs(lambda: AdaptiveRateMeter(config), bg, step, pre_a,
                                 1.5 * memory_s + 30.0, runs, 5000 + 1000 * i + k)
            est_f, _ = step_runs(lambda t=tau_eq: ExponentialMeter(t), bg, step, pre_f,
                                 6.0 * tau_eq, runs, 9000 + 1000 * i + k)
            a90, a2 = response_times_s(est_a[:, round(pre_a / FRAME_S):], bg, after, sd_after)
            f90, f2 = response_times_s(est_f[:, round(pre_f / FRAME_S):], bg, after, sd_after)
            s90, s2 = ratio_of_means(f90, a90), ratio_of_means(f2, a2)
            end_a, end_f = (est_a.shape[1] - round(pre_a / FRAME_S)) * FRAME_S, (
                est_f.shape[1] - round(pre_f / FRAME_S)) * FRAME_S
            censored = int(np.count_nonzero(np.r_[a90, a2] >= end_a)) + int(
                np.count_nonzero(np.r_[f90, f2] >= end_f))
            result[(bg, step)] = (s90[0], s2[0])
            print(f"{bg:6g} {step:4g} {tau_eq:6.1f} | {a90.mean():9.2f} {f90.mean():7.1f} "
                  f"{s90[0]:6.2f} +-{s90[1]:5.2f} | {a2.mean():10.2f} {f2.mean():7.1f} "
                  f"{s2[0]:6.2f} +-{s2[1]:5.2f} | {np.percentile(a2, 90):14.1f}"
                  + (f"  ({censored} censored)" if censored else ""))
    for name, col in (("T90", 0), ("T2sd", 1)):
        v = np.array([x[col] for x in result.values()])
        print(f"{name}: speed-up min {v.min():.2f}, median {np.median(v):.2f} over {v.size} cells "
              f"(goal >= 1 and median >= 2)")
    return result


class _NoDetector:
    """Stand-in used only when probe_nav.core.detect is not installed (reported as such)."""

    def __init__(self, *args: float) -> None:
        pass

    def reset(self) -> None:
        pass

    def process(self, counts: np.ndarray, live_s: np.ndarray) -> np.ndarray:
        return np.zeros(counts.size, dtype=bool)


def throughput_streams(n: int, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Steady background, and a probe passing a 15x hot spot every 60 s (many change points)."""
    rng = np.random.default_rng(seed)
    live = np.full(n, FRAME_S)
    t = np.arange(n) * FRAME_S
    moving = 20.0 + 300.0 * np.exp(-(((t % 60.0) - 30.0) ** 2) / (2 * 3.0**2))
    return {"steady 20 cps": (rng.poisson(20.0 * live), live),
            "moving probe": (rng.poisson(moving * live), live)}


def throughput_table(n: int) -> None:
    """Batch frames/s of the meter alone and of the whole pipeline; online us per frame."""
    from probe_nav.core.pipeline import PipelineConfig, Processor, process_arrays

    factory = None
    try:
        import probe_nav.core.detect  # noqa: F401
        label = "real HotDetector"
    except ImportError:
        factory, label = _NoDetector, "NO detector (probe_nav.core.detect missing)"
    print(f"throughput, {n:,} frames at {1 / FRAME_S:.0f} frames/s, one core; pipeline: {label}")
    config = PipelineConfig(background_cps=20.0)
    for name, (counts, live) in throughput_streams(n, 5).items():
        t_s = np.cumsum(live)
        t0 = time.perf_counter()
        meter = AdaptiveRateMeter()
        meter.process(counts, live)
        t1 = time.perf_counter()
        process_arrays(t_s, live, counts, config=config, detector_factory=factory)
        t2 = time.perf_counter()
        proc = Processor(config, detector_factory=factory)
        m = 20_000
        from probe_nav.drivers.frames import CountFrame

        frames = [CountFrame(i, float(t_s[i]), FRAME_S, FRAME_S, (int(counts[i]),))
                  for i in range(m)]
        t3 = time.perf_counter()
        for f in frames:
            proc.push(f)
        t4 = time.perf_counter()
        print(f"  {name:14s} meter {n / (t1 - t0) / 1e6:5.2f} M frames/s | pipeline batch "
              f"{n / (t2 - t1) / 1e6:5.2f} M frames/s | online {1e6 * (t4 - t3) / m:6.1f} us/frame"
              f" | change points {meter.restarts - meter.merges}")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (rough figures)")
    parser.add_argument("--runs", type=int, default=None, help="realisations per cell")
    parser.add_argument("--cell-runs", type=int, default=None,
                        help="realisations per cell and meter in the per-cell table")
    parser.add_argument("--frames", type=int, default=2_000_000, help="frames for throughput")
    args = parser.parse_args(argv)
    runs = args.runs or (40 if args.quick else 160)
    memories = 30 if args.quick else 300
    config = AdaptiveConfig()
    t0 = time.perf_counter()
    precision_table(runs, memories, config)
    print(f"(table took {time.perf_counter() - t0:.0f} s)")
    t0 = time.perf_counter()
    per_cell_table(args.cell_runs or (40 if args.quick else 200), config)
    print(f"(per-cell table took {time.perf_counter() - t0:.0f} s)")
    throughput_table(args.frames)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
