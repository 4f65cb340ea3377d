"""Localisation benchmark (issue 17): time and accuracy of `probe-nav locate` on simulated 60 s
freehand sweeps (prints figures, no pass/fail).

For each case, fixed seeds: a 60 s freehand sweep over 60x60 mm (probe_nav.simulator.sweeps:
20 mm/s raster, 2 mm hand jitter, tilts up to 15 degrees, tissue scatter on, 5 + 15 cps of room
and blood-pool background, default cdte-14 probe) around a 10-20 kBq Tc-99m node 10-20 or 30-40
mm deep within 15 mm of the centre, or around nothing, or a 10-20 kBq node 10-20 mm deep under
the centre with a 20-100 MBq injection site 60-80 mm from it outside the square
(probe_nav.simulator.sweeps.injection_site_sources). The sweep is written as a frame CSV and
located through the command line (`locate --json`, default 3 mm voxels) in this process; the
time is the wall time of that call (the acceptance: under 20 s on the 2-core machine). Prints the
3D and depth error of the strongest spot (a missed node: inf) with its sd, the medians, for
background alone the spots with sd_mm <= 15 (acceptance: none), and beside the injection site
the strongest spot's error (acceptance: within 10 mm) and the confident spots that are not the
node (more than 10 mm from it, sd_mm <= 15).

Run: python benchmarks/bench_locate.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_nav.io.frames_csv import write_frames_csv
from probe_nav.simulator.physics import PointSource
from probe_nav.simulator.sweeps import freehand_sweep, injection_site_sources, node_scenario
from tests.in_process import run_main


def locate(folder: Path, name: str, sources: tuple[PointSource, ...], seed: int
           ) -> tuple[dict, float]:
    """Simulate, write and locate one sweep; the last JSON object and the locate time."""
    sweep = freehand_sweep(node_scenario(sources), 60.0, seed=seed)
    csv = folder / f"{name}-{seed}.csv"
    write_frames_csv(csv, sweep.frames, poses=sweep.poses)
    probe = folder / "probe.toml"
    probe.write_text('[probe]\npreset = "cdte-14"\n', encoding="utf-8")
    start = time.perf_counter()
    done = run_main("locate", str(csv), "--probe", str(probe), "--json")
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1]), elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 seeds per case")
    n = 2 if parser.parse_args().quick else 8
    times: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for label, depths in (("10-20 mm", (10.0, 20.0)), ("30-40 mm", (30.0, 40.0))):
            errors, depth_errors = [], []
            for seed in range(n):
                rng = np.random.default_rng(1000 + seed)
                truth = np.array([rng.uniform(-15, 15), rng.uniform(-15, 15),
                                  -rng.uniform(*depths)])
                kbq = rng.uniform(10.0, 20.0)
                out, elapsed = locate(folder, label[:5], (PointSource(
                    "node", tuple(truth), kbq / 1000.0),), seed)
                times.append(elapsed)
                spots = out["spots"]
                if spots:
                    s = spots[0]
                    err = float(np.linalg.norm([s["x_mm"] - truth[0], s["y_mm"] - truth[1],
                                                s["z_mm"] - truth[2]]))
                    dz = abs(s["z_mm"] - truth[2])
                    note = f"error {err:5.1f} mm, depth error {dz:5.1f} mm, sd {s['sd_mm']:5.1f} mm"
                else:
                    err = dz = float("inf")
                    note = "no spot"
                errors.append(err)
                depth_errors.append(dz)
                print(f"{label} seed {seed}: node {kbq:4.1f} kBq at {-truth[2]:4.1f} mm: {note}; "
                      f"{len(spots)} spot(s), b {out['background_cps']:.2f} cps, "
                      f"locate {elapsed:.1f} s", flush=True)
            print(f"{label}: median 3D error {np.median(errors):.1f} mm, median depth error "
                  f"{np.median(depth_errors):.1f} mm over {n} seeds")
        errors, others = [], 0
        for seed in range(n):
            node, site = injection_site_sources(seed)
            out, elapsed = locate(folder, "site", (node, site), seed)
            times.append(elapsed)
            truth = np.array(node.position_mm)
            errs = [float(np.linalg.norm([s["x_mm"], s["y_mm"], s["z_mm"]] - truth))
                    for s in out["spots"]]
            errors.append(errs[0] if errs else float("inf"))
            wrong = sum(1 for s, e in zip(out["spots"], errs, strict=True)
                        if e > 10.0 and s["sd_mm"] <= 15)
            others += wrong
            gap = float(np.linalg.norm(np.array(site.position_mm) - truth))
            print(f"injection site seed {seed}: {site.activity_mbq:4.0f} MBq {gap:4.1f} mm from a "
                  f"{node.activity_mbq * 1e3:4.1f} kBq node {-truth[2]:4.1f} mm deep: strongest "
                  f"spot {errors[-1]:5.1f} mm off; {len(errs)} spot(s), {wrong} other "
                  f"confident; b {out['background_cps']:.2f} cps, locate {elapsed:.1f} s",
                  flush=True)
        print(f"beside an injection site: median error {np.median(errors):.1f} mm, "
              f"{sum(e <= 10.0 for e in errors)} of {n} within 10 mm, {others} other confident "
              f"spot(s)")
        confident = 0
        for seed in range(n):
            out, elapsed = locate(folder, "bg", (), seed)
            times.append(elapsed)
            sure = [s for s in out["spots"] if s["sd_mm"] <= 15]
            confident += len(sure)
            print(f"background seed {seed}: {len(out['spots'])} spot(s), {len(sure)} with "
                  f"sd <= 15 mm, b {out['background_cps']:.2f} cps, locate {elapsed:.1f} s")
        print(f"background alone: {confident} confident spot(s) over {n} sweeps")
    print(f"locate time: median {np.median(times):.1f} s, max {max(times):.1f} s "
          f"({len(times)} runs)")


if __name__ == "__main__":
    main()
