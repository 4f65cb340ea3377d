"""n-component biological clearance of a scenario source: the maths, the parser and the physics."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.calibration.nuclides import nuclide
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.physics import PointSource, biological_retention
from probe_nav.simulator.retention import clearance_truth
from probe_nav.simulator.scenario import ScenarioError, load
from tests.in_process import run_main
from tests.simulator.helpers import scenario_file

HOUR_S = 3600.0
LU177_H = 6.647 * 24  # DDEP
TWO = [{"fraction": 0.6, "biological_half_life_h": 4.0},
       {"fraction": 0.4, "biological_half_life_h": 60.0}]


def analytic(t_h: float, half_life_h: float, parts: list[dict]) -> float:
    """Activity share at t_h after administration: physical decay x sum_k f_k 2^(-t/T_bio,k)."""
    return 2 ** (-t_h / half_life_h) * sum(
        p["fraction"] * 2 ** (-t_h / p["biological_half_life_h"]) for p in parts)


def body(tmp_path, t0_h: float = 0.0, clearance=None, **source):
    src = {"position_mm": [0, 0, -150], "radius_mm": 150.0, "nuclide": "Lu-177",
           "injected_activity_mbq": 7400.0, **source}
    if clearance is not None:
        src["clearance"] = clearance
    return scenario_file(tmp_path, nuclide="Lu-177", frame_period_s=1.0,
                         t0_after_injection_h=t0_h, sources=[src],
                         path={"waypoints": [{"position_mm": [0, 0, 1000]}]})


def test_point_source_activity_is_decay_times_the_sum_of_components() -> None:
    parts = ((0.6, 4.0 * HOUR_S), (0.4, 60.0 * HOUR_S))
    src = PointSource("body", (0, 0, -100), 100.0, "Lu-177", clearance=parts)
    for t_h in (0.0, 1.0, 4.0, 24.0, 168.0, -2.0):
        assert src.activity_at(t_h * HOUR_S) == pytest.approx(
            100.0 * analytic(t_h, LU177_H, TWO), rel=1e-12)
    assert biological_retention(parts, 0.0) == pytest.approx(1.0)


def test_a_source_cannot_have_both_clearances() -> None:
    with pytest.raises(ValueError, match="not both"):
        PointSource("x", (0, 0, 0), 1.0, clearance=((1.0, 3600.0),),
                    biological_half_life_s=7200.0)


@pytest.mark.parametrize("t0_h", [0.0, 4.0, 24.0])
def test_fractions_are_at_administration_whatever_the_scenario_start(tmp_path, t0_h) -> None:
    # Scenario time t is t + t0 after administration; the activity there must be the analytic
    # curve of the administered activity, before and after the scenario start.
    src = load(str(body(tmp_path, t0_h, TWO))).sources[0]
    for t_h in (-t0_h, 0.0, 2.0, 20.0, 100.0):
        assert src.activity_at(t_h * HOUR_S) == pytest.approx(
            7400.0 * analytic(t_h + t0_h, LU177_H, TWO), rel=1e-10)


def test_activity_mbq_at_start_with_clearance_keeps_the_administration_fractions(tmp_path) -> None:
    # activity_mbq is the activity at scenario start; the fractions still refer to administration
    # (t0 earlier): the shares at start are f_k 2^(-t0/T_k) normalised.
    path = scenario_file(tmp_path, t0_after_injection_h=10.0, sources=[
        {"position_mm": [0, 0, -20], "activity_mbq": 5.0, "clearance": TWO}])
    src = load(str(path)).sources[0]
    assert src.activity_at(0.0) == pytest.approx(5.0)
    tc = nuclide("Tc-99m").half_life_s / HOUR_S
    ratio = analytic(30.0, tc, TWO) / analytic(10.0, tc, TWO)
    assert src.activity_at(20 * HOUR_S) == pytest.approx(5.0 * ratio, rel=1e-10)


def test_the_physics_rate_follows_the_clearance(tmp_path) -> None:
    # No background: the window rate is linear in the activity, so rate(t)/rate(0) must equal the
    # analytic activity ratio (the engine's RateModel against the closed form).
    sim = Simulation(load(str(body(tmp_path, 4.0, TWO))))
    rates = [sim.window_rates_at((t_h - 4.0) * HOUR_S)[0] for t_h in (4.0, 24.0, 96.0, 168.0)]
    for t_h, rate in zip((24.0, 96.0, 168.0), rates[1:], strict=True):
        assert rate / rates[0] == pytest.approx(
            analytic(t_h, LU177_H, TWO) / analytic(4.0, LU177_H, TWO), rel=1e-9)


def test_truth_tiac_and_effective_half_lives(tmp_path) -> None:
    truth = clearance_truth(load(str(body(tmp_path, 0.0, TWO))), [24.0])
    t_eff = [1 / (1 / LU177_H + 1 / p["biological_half_life_h"]) for p in TWO]
    assert [c["effective_half_life_h"] for c in truth["components"]] == pytest.approx(t_eff)
    tiac = sum(p["fraction"] * t / math.log(2) for p, t in zip(TWO, t_eff, strict=True))
    assert truth["tiac_h"] == pytest.approx(tiac, rel=1e-12)
    assert truth["t_eff_h"] == pytest.approx(tiac * math.log(2))
    assert truth["t_eff_fast_h"] == pytest.approx(t_eff[0])
    assert truth["t_eff_slow_h"] == pytest.approx(t_eff[1])
    assert truth["fraction_fast"] == pytest.approx(0.6)
    assert truth["retained_fraction"][0] == pytest.approx(analytic(24.0, LU177_H, TWO))
    # The TIAC is the integral of the retained fraction (trapezoids over 0..2000 h, 0.01 h steps).
    grid = np.linspace(0.0, 2000.0, 200_001)
    curve = np.array(clearance_truth(load(str(body(tmp_path, 0.0, TWO))), grid)
                     ["retained_fraction"])
    assert float(np.sum((curve[1:] + curve[:-1]) / 2) * 0.01) == pytest.approx(tiac, rel=1e-5)


def test_fractions_summing_to_one_within_1e_6_are_accepted(tmp_path) -> None:
    parts = [{"fraction": 0.3333333, "biological_half_life_h": 2.0},
             {"fraction": 0.6666662, "biological_half_life_h": 50.0}]  # sum 0.9999995
    src = load(str(body(tmp_path, 0.0, parts))).sources[0]
    assert sum(share for share, _ in src.clearance) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("clearance", "extra", "problem"), [
    ([{"fraction": 0.6, "biological_half_life_h": 4.0},
      {"fraction": 0.5, "biological_half_life_h": 60.0}], {}, "must sum to 1, got 1.1"),
    ([{"fraction": 0.6, "biological_half_life_h": 4.0},
      {"fraction": 0.399998, "biological_half_life_h": 60.0}], {}, "must sum to 1"),
    (TWO, {"biological_half_life_h": 30.0}, "both clearance and biological_half_life_h"),
    ([], {}, "clearance must be a list of 1 to 8"),
    ({"fraction": 1.0}, {}, "clearance must be a list of 1 to 8"),
    ([{"fraction": 1.0}], {}, "clearance[0] needs fraction and biological_half_life_h"),
    ([{"fraction": 1.0, "biological_half_life_h": -3.0}], {},
     "clearance[0].biological_half_life_h must be > 0"),
    ([{"fraction": 0.0, "biological_half_life_h": 3.0},
      {"fraction": 1.0, "biological_half_life_h": 9.0}], {}, "clearance[0].fraction must be > 0"),
    ([{"fraction": 1.5, "biological_half_life_h": 3.0}], {}, "fraction must be <= 1"),
    ([{"fraction": 1.0, "biological_half_life_h": 3.0, "organ": "kidney"}], {},
     "unknown key(s) organ in sources[0].clearance[0]"),
    ([{"fraction": "all", "biological_half_life_h": 3.0}], {}, "must be a number"),
])
def test_bad_clearance_is_refused_with_one_line(tmp_path, clearance, extra, problem) -> None:
    path = body(tmp_path, 0.0, clearance, **extra)
    with pytest.raises(ScenarioError) as err:
        load(str(path))
    assert problem in str(err.value) and "\n" not in str(err.value)


def test_nothing_left_at_scenario_start_is_refused(tmp_path) -> None:
    path = body(tmp_path, 5000.0, [{"fraction": 1.0, "biological_half_life_h": 1.0}])
    with pytest.raises(ScenarioError, match="nothing is left at scenario start"):
        load(str(path))


def test_bad_clearance_on_the_command_line_one_line_exit_2(tmp_path) -> None:
    path = body(tmp_path, 0.0, [{"fraction": 0.7, "biological_half_life_h": 4.0}])
    result = run_main("sim", "run", "--scenario", str(path), "--duration", "1")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "must sum to 1" in lines[0] and str(path) in lines[0]
