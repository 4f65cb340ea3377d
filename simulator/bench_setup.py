"""Building blocks of the simulator's QC/NEMA benches (probe_nav.simulator.benches): a probe with
overrides, a Simulation of sources in air or water with the probe held still, counting at a pose,
and expected rates straight from the rate model (the benches' ground truth).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from probe_nav.calibration.nuclides import nuclide
from probe_nav.drivers.frames import EnergyWindow
from probe_nav.simulator.engine import SimFrame, Simulation
from probe_nav.simulator.path import ScanPath, Vec3, Waypoint
from probe_nav.simulator.physics import PointSource, Pose, ProbeModel, Tissue
from probe_nav.simulator.rates import Background
from probe_nav.simulator.scenario import Scenario

DOWN: Vec3 = (0.0, 0.0, -1.0)
AIR_Z_MM = 100.0  # sources "in air" sit this far above the water/tissue surface z = 0
WATER = Tissue(mu_scale_to_water=1.0)


def bench_probe(probe: ProbeModel | None = None, **overrides: object) -> ProbeModel:
    """The default simulated probe (or `probe`) with field overrides."""
    return dataclasses.replace(probe or ProbeModel(), **overrides)


def seeds(seed: int, n: int) -> list[int]:
    """n independent integer seeds derived from one."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


def simulation(sources: Sequence[PointSource], probe: ProbeModel, seed: int,
               nuclide_name: str = "Tc-99m", room_cps: float = 0.0,
               tissue: Tissue = WATER, windows: Sequence[EnergyWindow] | None = None
               ) -> Simulation:
    """A Simulation of fixed sources; window 0 is the nuclide's usual window unless given."""
    nuc = nuclide(nuclide_name)
    scenario = Scenario(
        name="bench", description="QC/NEMA bench", nuclide_name=nuc.name, frame_period_s=1.0,
        probe=probe, sources=tuple(sources), background=Background(room_cps=room_cps),
        path=ScanPath((Waypoint((0.0, 0.0, AIR_Z_MM + 50.0)),)), tissue=tissue,
        windows=tuple(windows) if windows else (EnergyWindow(nuc.window.lo_kev, nuc.window.hi_kev,
                                                             nuc.name),))
    return Simulation(scenario, seed=seed)


def count_at(sim: Simulation, position_mm: Vec3, axis: Vec3, real_s: float
             ) -> tuple[SimFrame, float]:
    """Hold the probe at a pose for real_s; the frame and the expected window-0 rate (before
    dead time, at mid-count) that the physics promised."""
    sim.set_pose(position_mm, axis)
    expected = sim.rate_at(sim.t_s + real_s / 2.0)
    return sim.step(real_s), expected


def total_rate_per_mbq(probe: ProbeModel, nuclide_name: str, position_mm: Vec3,
                       probe_mm: Vec3, axis: Vec3 = DOWN, tissue: Tissue = WATER) -> float:
    """Rate of every pulse above the threshold (what the dead time acts on) from 1 MBq."""
    sim = simulation([PointSource("unit", position_mm, 1.0, nuclide_name)], probe, 0,
                     nuclide_name, tissue=tissue)
    model = sim.model
    rates = model.rates(Pose(probe_mm, axis), 0.0)[:1].sum(axis=0)
    return float(rates @ model.above_threshold())


def axis_at_angle(angle_deg: float) -> Vec3:
    """Probe axis tilted angle_deg from straight down, in the x-z plane (towards -x)."""
    a = math.radians(angle_deg)
    return (-math.sin(a), 0.0, -math.cos(a))
