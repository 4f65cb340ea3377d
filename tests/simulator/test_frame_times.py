"""Simulated frames are valid frames: live time never exceeds real time, even by rounding."""

from __future__ import annotations

from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.scenario import load


def test_live_time_never_exceeds_real_time_over_a_long_run() -> None:
    sim = Simulation(load("sln-scan"), seed=3)
    frames = [sim.step() for _ in range(4000)]
    assert all(0.0 <= f.live_s <= f.real_s for f in frames)
    assert any(f.live_s < f.real_s for f in frames)  # dead time is being simulated at all
