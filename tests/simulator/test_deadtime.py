"""Dead time emerges from the event-by-event counters and matches the textbook formulas
(probe_nav.calibration.deadtime, written independently); a paralysable counter's reading falls past
n = 1/tau and the device flags it as over range."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.calibration.deadtime import (
    nonparalysable_observed_cps,
    paralysable_max_observed_cps,
    paralysable_observed_cps,
)
from probe_nav.simulator.deadtime_sim import DeadTimeCounter
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.faults import FaultPlan, make_fault
from probe_nav.simulator.scenario import load
from tests.simulator.helpers import scenario_file

TAU_S = 2e-6
FRAME_S = 0.05


def recorded_rate(kind: str, true_cps: float, frames: int, seed: int = 1) -> tuple[float, float]:
    """Mean recorded rate and live fraction over `frames` frames at a constant true rate."""
    counter = DeadTimeCounter(kind, TAU_S, np.random.default_rng(seed))
    counts, live = 0, 0.0
    for i in range(frames):
        c, lv = counter.count(true_cps, i * FRAME_S, FRAME_S)
        counts, live = counts + c, live + lv
    return counts / (frames * FRAME_S), live / (frames * FRAME_S)


# Tolerance: over T = frames * 50 ms the recorded count M has variance <= M (a dead-time counter
# is sub-Poisson: var/mean = 1/(1+n tau)^2 non-paralysable, 1 - 2 n tau e^-n tau paralysable),
# so |m - formula| < 4.5 sqrt(m / T) fails by chance with probability < 7e-6.
@pytest.mark.parametrize("n_tau", [0.01, 0.1, 0.25, 0.5])
def test_nonparalysable_losses_match_the_formula(n_tau: float) -> None:
    n = n_tau / TAU_S
    frames = 100
    m, live_fraction = recorded_rate("nonparalysable", n, frames)
    expected = nonparalysable_observed_cps(n, TAU_S)
    assert abs(m - expected) < 4.5 * math.sqrt(expected / (frames * FRAME_S))
    # Live time: every recorded pulse costs tau, so live fraction = 1 - m tau = m / n.
    assert live_fraction == pytest.approx(1.0 - m * TAU_S, abs=1e-6)


@pytest.mark.parametrize("n_tau", [0.01, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0])
def test_paralysable_losses_match_the_formula(n_tau: float) -> None:
    n = n_tau / TAU_S
    frames = 60
    m, live_fraction = recorded_rate("paralysable", n, frames)
    expected = paralysable_observed_cps(n, TAU_S)
    assert abs(m - expected) < 4.5 * math.sqrt(expected / (frames * FRAME_S))
    # The counter is live only in gaps longer than tau: expected live fraction exp(-n tau),
    # whose sample sd over ~n T gaps is far below 1e-3.
    assert live_fraction == pytest.approx(math.exp(-n_tau), abs=3e-3)


def test_paralysable_reading_falls_past_one_over_e_tau() -> None:
    rates = [recorded_rate("paralysable", k / TAU_S, 40)[0] for k in (0.5, 1.0, 2.0, 3.0, 5.0)]
    peak = paralysable_max_observed_cps(TAU_S)
    # Rises to ~1/(e tau) at n = 1/tau, then falls: more activity, lower reading.
    assert rates[0] < rates[1] and rates[1] > rates[2] > rates[3] > rates[4]
    assert rates[1] == pytest.approx(peak, rel=0.01)  # sd ~ sqrt(184k/2 s)/184k = 0.2 %
    assert max(rates) < peak * 1.01


def test_counter_keeps_its_dead_time_across_frames() -> None:
    # Frames of 10 us at n tau = 1: a frame boundary must not reset the counter, or the
    # recorded rate would exceed the formula by a lot (every frame would start live).
    counter = DeadTimeCounter("paralysable", TAU_S, np.random.default_rng(3))
    frame = 1e-5
    total = sum(counter.count(1 / TAU_S, i * frame, frame)[0] for i in range(20_000))
    expected = paralysable_observed_cps(1 / TAU_S, TAU_S) * 20_000 * frame
    assert abs(total - expected) < 4.5 * math.sqrt(expected)


def test_ideal_counter_is_poisson() -> None:
    counter = DeadTimeCounter("nonparalysable", 0.0, np.random.default_rng(4))
    counts = np.array([counter.count(200.0, i * FRAME_S, FRAME_S)[0] for i in range(4000)])
    # mean 10 per frame; sd of the mean 0.05, of the variance ~0.23 (Poisson fourth moment).
    assert counts.mean() == pytest.approx(10.0, abs=0.25)
    assert counts.var() == pytest.approx(10.0, abs=1.2)


@pytest.mark.parametrize("kind", ["nonparalysable", "paralysable"])
def test_saturated_detector_is_flagged_over_range(tmp_path, kind: str) -> None:
    path = scenario_file(tmp_path, probe={"dead_time_kind": kind, "dead_time_s": TAU_S},
                         sources=[{"position_mm": [0, 0, -20], "activity_mbq": 0.02}],
                         background={"room_cps": 1.0, "tissue_cps": 4.0})
    sim = Simulation(load(str(path)), seed=2)
    sim.faults = FaultPlan([make_fault("saturate", 1.0, 1.0, param=1e7)])
    frames = [sim.step() for _ in range(60)]
    before, during, after = frames[:20], frames[20:40], frames[40:]
    assert not any(f.over_range for f in before + after)
    assert all(f.over_range for f in during)
    assert all(f.truth.extra_rate_cps == 1e7 for f in during)
    mean_before = np.mean([f.counts[0] for f in before])
    if kind == "paralysable":
        # n tau = 20: e^-20 of the pulses are recorded: the reading collapses to ~nothing.
        assert all(f.counts[0] <= 1 for f in during) and mean_before > 2
        assert all(f.live_s < 1e-6 for f in during)
    else:
        # Non-paralysable: recorded rate -> 1/tau; window 0 gets its share of the pulses.
        assert all(f.total_counts > 0.9 * FRAME_S / TAU_S for f in during)
        # Live fraction 1/(1 + n tau) = 1/21, n tau = 20 (+ the scenario's few cps).
        assert all(f.live_s / f.real_s == pytest.approx(1 / 21, abs=0.003) for f in during)
