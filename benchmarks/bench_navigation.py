"""Live navigation benchmark (issue 17): the Navigator's update rate and snapshot latency with
30, 60 and 120 s of 10 Hz frames already in the sweep, and the time of a temporal calibration
(prints figures, no pass/fail).

For each size: a freehand sweep (probe_nav.simulator.sweeps: 60x60 mm raster at 20 mm/s, 10 Hz
frames, a 15 kBq Tc-99m node 15 mm deep, ~20 cps background) whose first N s are handed to a
Navigator at once (their poses from a fake pose source at 20 Hz, in the past), then 10 more
seconds of frames in real time (one every 100 ms, with the poses arriving as they become true).
The same beside an injection site (the last row, "+ site": injection_site_sources(1), a 67 MBq
site 72 mm from a 14 kBq node, tissue scatter on: the far field is in use and refitted at every
spot cycle). Measured over those 10 s, with the worker thread and this thread sharing the
machine:
* update_hz: snapshots the worker published per second (each a new image or new spots);
* the snapshot latency: from on_frame of a frame to the first snapshot that includes it
  (median and max; the acceptance: >= 2 Hz, i.e. a frame shown within ~0.5 s);
* on_frame: the caller's time per call (it must not wait for the reconstruction).
A long operation: a LiveReconstruction fed 60 minutes of 10 Hz frames of a moving probe: the
poses it keeps, its matrix's size and an image's time (bounded by the cap, MAX_ELEMENTS).
The temporal calibration: `estimate_latency` on a 30 s sweep at 20 Hz over a 100 kBq source,
-300..+300 ms in 20 ms steps.

Run: python benchmarks/bench_navigation.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.live.navigation import Navigator
from probe_nav.navigation.live_recon import LiveReconstruction
from probe_nav.navigation.response import ResponseModel
from probe_nav.navigation.temporal import estimate_latency, repose
from probe_nav.simulator.physics import PointSource, ProbeModel
from probe_nav.simulator.sweeps import (
    freehand_sweep,
    hand_path,
    injection_site_sources,
    node_scenario,
)

LIVE_S = 10.0  # seconds of real-time frames measured after the preload
PERIOD_S = 0.1


class Source:
    """Pose samples released once the host clock has passed their time."""

    name = "bench"

    def __init__(self, samples: list[PoseSample]) -> None:
        self.samples, self.next = samples, 0

    def poll(self) -> list[PoseSample]:
        now = time.monotonic()
        start = self.next
        while self.next < len(self.samples) and self.samples[self.next].host_s <= now:
            self.next += 1
        return self.samples[start:self.next]

    def close(self) -> None:
        pass


def _poses(mids: np.ndarray, tips: np.ndarray, axes: np.ndarray, t0: float) -> list[PoseSample]:
    """20 Hz samples along the path (linear between the frames' mid poses)."""
    t = np.arange(mids[0], mids[-1], 0.05)
    p, a = repose(mids, tips, axes, t)
    return [PoseSample(t0 + ti, tuple(pi), tuple(ai)) for ti, pi, ai in zip(t, p, a, strict=True)]


def live_case(model: ResponseModel, preload_s: float, site: bool = False) -> dict[str, float]:
    """Preload preload_s of frames, then measure LIVE_S of real-time frames (beside an
    injection site if site)."""
    node = PointSource("node", (5.0, -8.0, -15.0), 0.015)
    sources: tuple[PointSource, ...] = (node,)
    if site:
        sources = injection_site_sources(1)
    sweep = freehand_sweep(node_scenario(sources, frame_period_s=PERIOD_S),
                           preload_s + LIVE_S + 1.0, seed=1)
    mids = sweep.t_s - PERIOD_S / 2
    n_pre = round(preload_s / PERIOD_S)
    t0 = time.monotonic() - sweep.t_s[n_pre - 1] - 0.01  # frame n_pre - 1 has just arrived
    nav = Navigator(model, Source(_poses(mids, sweep.position_mm, sweep.axis, t0)))
    try:
        for f in sweep.frames[:n_pre]:
            nav.on_frame(f, t0 + f.t_s)
        deadline = time.monotonic() + 120.0
        while (r := nav.snapshot().recon) is None or r.n_frames < n_pre:  # caught up
            if time.monotonic() > deadline:
                raise SystemExit("the worker did not catch up in 120 s")
            time.sleep(0.01)
        waiting: list[tuple[int, float]] = []
        delays, calls = [], []
        start = time.monotonic()
        published = 0
        k = n_pre
        while k < len(sweep.frames) and time.monotonic() - start < LIVE_S:
            now = time.monotonic()
            f = sweep.frames[k]
            if now >= t0 + f.t_s:
                c0 = time.perf_counter()
                nav.on_frame(f, now)
                calls.append(time.perf_counter() - c0)
                k += 1
                waiting.append((nav.snapshot().posed_frames, now))
            snap = nav.snapshot()
            if snap.recon is not None:
                while waiting and snap.recon.n_frames >= waiting[0][0]:
                    delays.append(time.monotonic() - waiting.pop(0)[1])
            time.sleep(0.005)
        published = nav.snapshot().update_hz
    finally:
        nav.close()
    return {"preload_s": preload_s, "update_hz": published,
            "latency_median_s": float(np.median(delays)) if delays else float("nan"),
            "latency_max_s": float(np.max(delays)) if delays else float("nan"),
            "shown": len(delays), "frames": k - n_pre,
            "on_frame_max_ms": 1000 * max(calls) if calls else float("nan"),
            "spots": len(snap.recon.spots) if snap.recon is not None else 0}


def calibration_time(model: ResponseModel) -> tuple[float, float, float]:
    """(seconds, latency found, its sd) of a temporal calibration with 80 ms simulated."""
    source = PointSource("calibration", (0.0, 0.0, -10.0), 0.1)
    sweep = freehand_sweep(node_scenario((source,), frame_period_s=0.05), 30.0, seed=0,
                           side_mm=40.0, speed_mm_s=30.0)
    mids = sweep.t_s - 0.025
    h = mids + 0.08
    tips, axes = repose(mids, sweep.position_mm, sweep.axis, h)
    start = time.perf_counter()
    result = estimate_latency(model, h, tips, axes, h, sweep.live_s, sweep.counts)
    return time.perf_counter() - start, result.latency_s, result.sd_s


def long_operation(model: ResponseModel, minutes: float = 60.0) -> dict[str, float]:
    """A LiveReconstruction fed `minutes` of 10 Hz frames of a moving probe (the hand path over
    60x60 mm again and again, background counts only: the cost does not depend on the counts),
    imaged every 60 s of frames: the poses kept, the matrix's size and the last image's time."""
    n = round(minutes * 60.0 / PERIOD_S)
    tips, axes = hand_path(n, PERIOD_S, seed=9)
    counts = np.random.default_rng(9).poisson(20.0 * PERIOD_S, n)
    rec = LiveReconstruction(model)
    times = []
    for i in range(n):
        rec.add(tips[i], axes[i], PERIOD_S, counts[i])
        if i % 600 == 599:
            start = time.perf_counter()
            snap = rec.update_image()
            times.append(time.perf_counter() - start)
    steady = []
    for i in range(20):  # then as live: 3 new frames per image (0.3 s at 10 Hz)
        for k in range(3):
            j = (3 * i + k) % n
            rec.add(tips[j], axes[j], PERIOD_S, counts[j])
        start = time.perf_counter()
        snap = rec.update_image()
        steady.append(time.perf_counter() - start)
    return {"frames": snap.n_frames, "poses": snap.n_poses, "dropped": snap.dropped_frames,
            "matrix_mb": rec._system.nbytes / 1e6, "image_s": float(np.median(steady)),
            "image_max_s": max(steady), "batch_s": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="30 s only")
    sizes = (30.0,) if parser.parse_args().quick else (30.0, 60.0, 120.0)
    model = ResponseModel(ProbeModel())
    print(f"{'frames in':>10} {'update':>8} {'latency':>17} {'shown':>7} {'on_frame':>9} spots")
    print(f"{'(s, 10 Hz)':>10} {'(Hz)':>8} {'median / max (s)':>17} {'':>7} {'max (ms)':>9}")
    for size, site in [*((size, False) for size in sizes), (sizes[-1], True)]:
        r = live_case(model, size, site)
        label = f"{size:.0f} + site" if site else f"{size:.0f}"
        print(f"{label:>10} {r['update_hz']:8.2f} {r['latency_median_s']:8.2f} / "
              f"{r['latency_max_s']:5.2f} {r['shown']:3d}/{r['frames']:<3d} "
              f"{r['on_frame_max_ms']:9.2f} {r['spots']}")
    long = long_operation(model, 10.0 if parser.parse_args().quick else 60.0)
    print(f"a long operation: {long['frames']} frames (10 Hz), {long['poses']} poses kept, "
          f"{long['dropped']} forgotten, system matrix {long['matrix_mb']:.0f} MB; then an "
          f"image with 3 new frames: median {long['image_s']:.2f} s, max "
          f"{long['image_max_s']:.2f} s (with 600 new frames: up to {long['batch_s']:.1f} s)")
    seconds, latency_s, sd_s = calibration_time(model)
    print(f"temporal calibration (30 s at 20 Hz, +-300 ms in 20 ms steps): {seconds:.1f} s, "
          f"found {1000 * latency_s:.1f} +- {1000 * sd_s:.1f} ms (simulated 80 ms)")


if __name__ == "__main__":
    main()
