"""The first physics model against closed-form numbers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from calibration.nuclides import nuclide, tissue_mu_per_mm, water_mu_per_mm
from simulator.engine import Simulation
from simulator.physics import PointSource, Pose, ProbeModel, source_rate_cps, tissue_path_mm
from simulator.scenario import ScenarioError, builtin_names, load

PROBE = ProbeModel(sensitivity_cps_per_mbq=10000.0, reference_distance_mm=10.0,
                   angular_fwhm_deg=40.0, leakage_fraction=0.001)


def test_water_mu_reproduces_the_table() -> None:
    # DOMAIN.md: 140.5 keV 0.154/cm (HVL 4.5 cm), 364 keV 0.110/cm, 27.5 keV 0.443/cm.
    assert water_mu_per_mm(140.5) == pytest.approx(0.0154)
    assert math.log(2) / water_mu_per_mm(140.5) == pytest.approx(45.0, rel=0.01)
    assert water_mu_per_mm(364.0) == pytest.approx(0.0110)
    assert water_mu_per_mm(27.5) == pytest.approx(0.0443)
    assert tissue_mu_per_mm(140.5) == pytest.approx(0.0154 * 1.05)


@pytest.mark.parametrize("depth_mm", [5.0, 12.0, 30.0, 50.0, 92.0])
def test_rate_versus_depth_is_inverse_square_times_attenuation(depth_mm: float) -> None:
    src = PointSource("node", (0.0, 0.0, -depth_mm), 0.01, "Tc-99m")
    rate = source_rate_cps(PROBE, Pose((0.0, 0.0, 0.0)), src, 0.0)
    mu = 0.0154 * 1.05
    expected = 10000.0 * 0.01 * (10.0 / depth_mm) ** 2 * math.exp(-mu * depth_mm)
    assert rate == pytest.approx(expected, rel=1e-9)


def test_probe_above_skin_attenuates_only_the_tissue_part() -> None:
    src = np.array([0.0, 0.0, -20.0])
    assert tissue_path_mm(np.array([0.0, 0.0, 10.0]), src) == pytest.approx(20.0)
    assert tissue_path_mm(np.array([30.0, 0.0, 20.0]), src) == pytest.approx(
        math.hypot(30.0, 40.0) / 2.0
    )


def test_angular_response_falls_to_the_leakage_floor() -> None:
    src = PointSource("s", (0.0, 0.0, -30.0), 0.1, "Tc-99m")
    on_axis = source_rate_cps(PROBE, Pose((0.0, 0.0, 0.0)), src, 0.0)
    ratios = []
    for angle_deg in (0, 20, 40, 90, 180):
        a = math.radians(angle_deg)
        axis = (math.sin(a), 0.0, -math.cos(a))
        ratios.append(source_rate_cps(PROBE, Pose((0.0, 0.0, 0.0), axis), src, 0.0) / on_axis)
    assert ratios[0] == pytest.approx(1.0)
    assert ratios[1] == pytest.approx(0.5, rel=1e-9)  # half the FWHM off axis
    assert ratios[1] > ratios[2] > ratios[3]
    assert ratios[3] == pytest.approx(0.001) and ratios[4] == pytest.approx(0.001)


def test_activity_decays_with_the_half_life() -> None:
    src = PointSource("s", (0, 0, -10), 1.0, "Tc-99m")
    half_life = nuclide("Tc-99m").half_life_s
    assert half_life == pytest.approx(6.01 * 3600)
    assert src.activity_at(half_life) == pytest.approx(0.5)
    assert src.activity_at(3 * half_life) == pytest.approx(0.125)


def test_counts_per_frame_are_poisson() -> None:
    sim = Simulation(load("background"), seed=12345)
    counts = np.array([sim.step(1.0).counts[0] for _ in range(2000)])
    mean = sim.rate_at(0.0)  # dead time is negligible at 10 cps
    values, observed = np.unique(np.minimum(counts, 20), return_counts=True)
    k = np.arange(0, 21)
    probs = stats.poisson.pmf(k, mean)
    probs[-1] = stats.poisson.sf(19, mean)
    expected = probs * len(counts)
    obs = np.zeros(21)
    obs[values] = observed
    # pool the sparse low tail so every expected count is >= 5
    keep = expected >= 5
    obs_pooled = np.append(obs[keep], obs[~keep].sum())
    exp_pooled = np.append(expected[keep], expected[~keep].sum())
    chi2 = ((obs_pooled - exp_pooled) ** 2 / exp_pooled).sum()
    dof = len(obs_pooled) - 1
    assert stats.chi2.sf(chi2, dof) > 0.001


def test_same_seed_same_counts_and_truth() -> None:
    a, b = Simulation(load("sln-scan"), 7), Simulation(load("sln-scan"), 7)
    assert [a.step() for _ in range(100)] == [b.step() for _ in range(100)]


def test_scan_passes_over_the_node() -> None:
    sim = Simulation(load("sln-scan"), 0)
    rates = [sim.step().truth.true_rate_cps for _ in range(int(21 / 0.05))]
    assert max(rates) > 4 * min(rates)


def test_every_builtin_scenario_loads() -> None:
    for name in builtin_names():
        scenario = load(name)
        assert scenario.description and scenario.frame_period_s > 0


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("nuclide = 'Xx-1'\n", "unknown nuclide"),
        ("frame_period_s = 0\n", "frame_period_s"),
        ("colour = 'red'\n", "unknown key"),
        ("[probe]\nsensitivty = 3\n", "sensitivty"),
        ("[[sources]]\nposition_mm = [0, 0, -10]\n", "activity_mbq"),
        ("[[sources]]\nposition_mm = [0, 0, -10]\nactivity_mbq = -1\n", "activity_mbq"),
        ("[path]\nwaypoints = []\n", "waypoints"),
    ],
)
def test_malformed_scenarios_say_what_is_wrong(tmp_path, text: str, problem: str) -> None:
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    assert str(path) in str(info.value) and problem in str(info.value)
