"""The simulator's crosstalk bench: one isotope counted in every energy window, in scatter.

A single-isotope point source sits `distance_mm` deep in a tissue-equivalent phantom (the
scenario's tissue, else soft tissue, 1.05 x water), the probe on its surface looking down, as
over a patient: Compton scatter in the tissue (probe_nav.simulator.scatter, docs/scatter.md),
and the detector's own low-energy tail, put part of a higher-energy isotope's photons (Tc-99m,
140.5 keV) into a lower window (I-125, 20-45 keV). First the background is counted at the same
pose before the source is put in (room background only: a phantom has no blood pool), then the
source. Truth is the physics model's expected window rates of the source alone, before counting
noise and dead time, so its spill fractions check the analysis against the physics.
Deterministic for a given seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from probe_nav.calibration.crosstalk_measure import own_window
from probe_nav.drivers.frames import EnergyWindow
from probe_nav.simulator.bench_setup import DOWN, count_at, simulation
from probe_nav.simulator.physics import PointSource, Pose, ProbeModel, Tissue

SKIN = (0.0, 0.0, 0.0)  # the probe tip on the phantom's surface
FRAME_S = 10.0  # longest frame counted at once


@dataclass(frozen=True)
class CrosstalkCount:
    """Counts of every window with the source (`counts`, over live_s/real_s) and without it
    (`background_counts`, over background_live_s); truth: `expected_cps` (the source alone,
    per window, before dead time, at mid-count) and `spill` (expected_cps / its own window's)."""

    nuclide: str
    source_window: int
    windows: tuple[EnergyWindow, ...]
    counts: np.ndarray
    live_s: float
    real_s: float
    background_counts: np.ndarray
    background_live_s: float
    activity_mbq: float
    distance_mm: float
    truth: dict[str, object] = field(default_factory=dict)


def _setup(scenario_or_probe: str | ProbeModel, windows: Sequence[EnergyWindow] | None,
           room_cps: float | None) -> tuple[ProbeModel, Tissue, tuple[EnergyWindow, ...], float,
                                            str]:
    """Probe, tissue, windows, room rate and tracer of a scenario (by name or path) or a probe."""
    if isinstance(scenario_or_probe, ProbeModel):
        if not windows:
            raise ValueError("give the windows when the bench is given a probe, not a scenario")
        return (scenario_or_probe, Tissue(), tuple(windows),
                0.0 if room_cps is None else room_cps, "Tc-99m")
    from probe_nav.simulator.scenario import load

    sc = load(scenario_or_probe)
    tissue = sc.tissue if sc.tissue.scatter else Tissue(sc.tissue.mu_scale_to_water)
    return (sc.probe, tissue, tuple(windows) if windows else sc.windows,
            sc.background.room_cps if room_cps is None else room_cps, sc.nuclide_name)


def bench_crosstalk(scenario_or_probe: str | ProbeModel,
                    windows: Sequence[EnergyWindow] | None = None,
                    nuclide_name: str = "Tc-99m", activity_mbq: float = 1.0,
                    distance_mm: float = 20.0, count_s: float = 60.0, seed: int = 0,
                    background_s: float | None = None,
                    room_cps: float | None = None) -> CrosstalkCount:
    """Count one `nuclide_name` source `distance_mm` deep in the phantom in every window (the
    scenario's windows unless given), after a background count of `background_s` (default
    count_s) at the same pose. ScenarioError for an unknown scenario, ValueError for a
    nuclide without its own window or an impossible geometry."""
    if not (distance_mm >= 0 and count_s > 0 and activity_mbq > 0):
        raise ValueError("the bench needs distance >= 0 mm, count time > 0 s, activity > 0 MBq")
    probe, tissue, wins, room, tracer = _setup(scenario_or_probe, windows, room_cps)
    source_window = own_window(wins, nuclide_name)
    bg_s = count_s if background_s is None else background_s
    src = PointSource(nuclide_name, (0.0, 0.0, -float(distance_mm)), activity_mbq,
                      nuclide_name, from_s=bg_s)
    sim = simulation([src], probe, seed, tracer, room, tissue, wins)
    background = _count(sim, bg_s)
    mid = sim.t_s + count_s / 2.0
    counts = _count(sim, count_s)
    model = sim.model
    source_row = model.rates(Pose(SKIN, DOWN), mid)[0]
    expected = np.array([source_row @ model.window_fractions(w.lo_kev, w.hi_kev) for w in wins])
    truth = {"expected_cps": expected, "spill": expected / expected[source_window],
             "room_cps": room, "tissue_mu_scale": tissue.mu_scale_to_water}
    return CrosstalkCount(nuclide_name, source_window, wins, counts.counts, counts.live_s,
                          counts.real_s, background.counts, background.live_s, activity_mbq,
                          float(distance_mm), truth)


@dataclass(frozen=True)
class _Total:
    counts: np.ndarray
    live_s: float
    real_s: float


def _count(sim, real_s: float) -> _Total:
    """Every window's counts over real_s at the bench pose, in frames of at most FRAME_S (the
    engine draws an energy per pulse: one long frame would hold them all in memory at once)."""
    n = max(1, math.ceil(real_s / FRAME_S))
    frames = [count_at(sim, SKIN, DOWN, real_s / n)[0] for _ in range(n)]
    return _Total(np.sum([f.counts for f in frames], axis=0),
                  float(sum(f.live_s for f in frames)), float(sum(f.real_s for f in frames)))
