"""The simulation engine: plays a scenario and produces counts with their ground truth."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.physics import Pose, observed_counts, true_rate_cps
from simulator.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Truth:
    """What really happened during one frame: the expected rate and where the probe was."""

    t_s: float
    true_rate_cps: float  # expected detected rate before dead time, mid-interval
    position_mm: tuple[float, float, float]


@dataclass(frozen=True, slots=True)
class SimFrame:
    """One counting interval as the physics produced it, before any protocol encoding."""

    t_end_s: float
    real_s: float
    live_s: float
    counts: tuple[int, ...]
    truth: Truth


class Simulation:
    """Deterministic for a given seed: the same scenario and seed give the same counts."""

    def __init__(self, scenario: Scenario, seed: int = 0) -> None:
        self.scenario = scenario
        self.rng = np.random.default_rng(seed)
        self.t_s = 0.0
        self._override_position: tuple[float, float, float] | None = None

    def set_position(self, position_mm: tuple[float, float, float] | None) -> None:
        """Drive the probe from outside (interactive); None returns to the scripted path."""
        self._override_position = position_mm

    def position_at(self, t_s: float) -> tuple[float, float, float]:
        """Where the probe is at scenario time `t_s`."""
        if self._override_position is not None:
            return self._override_position
        return self.scenario.path.position_at(t_s)

    def rate_at(self, t_s: float) -> float:
        """Expected detected rate (before dead time) at scenario time `t_s`."""
        sc = self.scenario
        pose = Pose(self.position_at(t_s), sc.axis)
        return true_rate_cps(sc.probe, pose, sc.sources, sc.background_cps, t_s)

    def step(self, real_s: float | None = None) -> SimFrame:
        """Advance one counting interval and return its counts and truth."""
        real_s = self.scenario.frame_period_s if real_s is None else real_s
        mid = self.t_s + real_s / 2.0
        rate = self.rate_at(mid)
        counts, live_s = observed_counts(self.rng, rate, real_s, self.scenario.probe.dead_time_s)
        self.t_s += real_s
        truth = Truth(self.t_s, rate, self.position_at(mid))
        return SimFrame(self.t_s, real_s, live_s, (counts,), truth)
