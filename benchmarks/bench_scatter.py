"""Scatter-model benchmark: setup time per (response, line) and time per call (no pass/fail).

The live simulator calls ScatterModel.rates every frame (10 Hz) for each line of each nuclide
present; the budget is ~3 ms per call with 6 sources and ~0.5 s setup per (probe, line). The
response is the default head's (simulator/probe_geometry.py ProbeResponse); the setup time
depends on the response (the first setup also builds the head's path table), the per-call time
does not (the response is tabulated at setup).

Run: python benchmarks/bench_scatter.py [--calls N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from probe_nav.simulator.physics import ProbeModel, Tissue
from probe_nav.simulator.probe_geometry import ProbeResponse
from probe_nav.simulator.scatter import ScatterModel

SOURCES_MM = np.array([[0.0, 0.0, -30.0], [20.0, 5.0, -20.0], [60.0, 0.0, -40.0],
                       [-30.0, 10.0, -25.0], [100.0, -20.0, -30.0], [5.0, 5.0, -10.0]])


def per_call_ms(model: ScatterModel, sources: np.ndarray, calls: int) -> tuple[float, float]:
    """Best and median over 7 runs of the mean time per call, in ms (poses vary like a moving
    probe), after one warm-up pass. On a shared machine the best run is the cost; the median
    shows the load."""
    rng = np.random.default_rng(0)
    tips = np.column_stack([rng.uniform(-50, 50, calls), rng.uniform(-50, 50, calls),
                            np.zeros(calls)])
    axes = np.column_stack([rng.uniform(-0.5, 0.5, calls), rng.uniform(-0.5, 0.5, calls),
                            -np.ones(calls)])
    # Warm-up over every pose: until malloc has seen the largest temporaries it maps fresh
    # pages for them, and the first few hundred calls of a process run 2-3x slower.
    for tip, axis in zip(tips, axes, strict=True):
        model.rates(tip, axis, sources)
    runs = []
    for _ in range(7):
        start = time.perf_counter()
        for tip, axis in zip(tips, axes, strict=True):
            model.rates(tip, axis, sources)
        runs.append((time.perf_counter() - start) / calls * 1e3)
    return float(np.min(runs)), float(np.median(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()
    head = ProbeModel().geometry
    response = ProbeResponse(head)
    for energy_kev in (140.5, 364.5):
        start = time.perf_counter()
        model = ScatterModel(response, energy_kev, Tissue(), -head.crystal_centre_z_mm)
        setup_s = time.perf_counter() - start
        print(f"{energy_kev:6.1f} keV: {len(model.sites.weights_mm3)} sites, "
              f"{model.n_bins} angle bins, setup {setup_s:.2f} s")
        for n in (1, 6):
            best, median = per_call_ms(model, SOURCES_MM[:n], args.calls)
            print(f"    {n} source(s): {best:.2f} ms per call (median of runs {median:.2f})")


if __name__ == "__main__":
    main()
