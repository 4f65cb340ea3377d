"""Retention series from the therapy scenarios: counts follow the truth, seeds reproduce, bad input
is refused, `probe-nav sim retention` prints what `dosimetry fit` needs."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.retention import measure_series
from probe_nav.simulator.scenario import load
from tests.in_process import run_main

TIMES_H = (4.0, 24.0, 48.0, 72.0, 96.0, 168.0)
# Scenario and counting time: Ac-225's 8 MBq give ~9 cps, counted 300 s (the scenario says so).
THERAPY = {"lu177-psma-week": 60.0, "i131-release": 60.0, "ac225-psma": 300.0,
           "lu177-retention": 60.0}


@pytest.fixture(scope="module")
def series() -> dict:
    return {name: measure_series(load(name), TIMES_H, count_s, seed=18)
            for name, count_s in THERAPY.items()}


@pytest.mark.parametrize("name", sorted(THERAPY))
def test_counts_follow_the_expected_rates(series, name) -> None:
    s = series[name]
    expected = np.asarray(s.truth["expected_cps"]) * s.live_s
    # Counts in the window are Poisson with mean rate x live time (the dead-time counter keeps a
    # share live/real of every pulse; sub-Poisson by (1 - loss)^2 < 1 %). |z| < 4 fails by
    # chance with p = 6e-5 per point; the chi-square of the 6 points is held below its 99.9 %
    # point (p = 1e-3 per scenario). Seeds are fixed, so a pass is reproducible.
    z = (s.counts - expected) / np.sqrt(expected)
    assert np.all(np.abs(z) < 4.0), z
    assert float(np.sum(z**2)) < stats.chi2.ppf(0.999, len(z))
    bg_expected = np.asarray(s.truth["room_cps"]) * s.background_live_s
    z_bg = (s.background_counts.sum() - bg_expected.sum()) / math.sqrt(bg_expected.sum())
    assert abs(z_bg) < 4.0


@pytest.mark.parametrize("name", sorted(THERAPY))
def test_net_rate_is_proportional_to_the_true_retained_fraction(series, name) -> None:
    # The engine's rates (RateModel, sources' activity_at) against the closed-form truth: in fixed
    # geometry the net rate per retained fraction is one constant.
    s = series[name]
    per_fraction = np.asarray(s.truth["expected_net_cps"]) / np.asarray(
        s.truth["retained_fraction"])
    assert per_fraction == pytest.approx(np.full(len(TIMES_H), per_fraction[0]), rel=1e-9)
    assert s.truth["cps_per_mbq"] == pytest.approx([per_fraction[0]
                                                    / s.truth["administered_mbq"]] * 6)
    # Measured retained fraction: net rate over the constant; sd from the Poisson counts and
    # background (var = N / live^2 + B / live_b^2), |z| < 4 as above.
    measured = s.net_cps / per_fraction[0]
    sd = np.sqrt(s.counts / s.live_s**2 + np.maximum(s.background_counts, 1)
                 / s.background_live_s**2) / per_fraction[0]
    z = (measured - np.asarray(s.truth["retained_fraction"])) / sd
    assert np.all(np.abs(z) < 4.0), z


def test_therapy_scenarios_say_what_the_issue_asks(series) -> None:
    lu = series["lu177-psma-week"].truth
    assert 0.30 <= lu["retained_fraction"][1] <= 0.40  # 24 h
    assert lu["t_eff_fast_h"] <= lu["t_eff_slow_h"] / 4 and lu["fraction_fast"] >= 0.3
    assert lu["administered_mbq"] == pytest.approx(7400.0)
    # I-131: 20 uSv/h at 1 m after 3.7 GBq with ~0.05 uSv/h per MBq (the scenario's comment) is
    # 10.8 % retained: reached between 24 and 72 h (1-3 days).
    i131 = series["i131-release"].truth
    limit = 20.0 / (3700.0 * 0.05)
    assert i131["retained_fraction"][1] > limit > i131["retained_fraction"][3]
    assert i131["administered_mbq"] == pytest.approx(3700.0)
    ac = series["ac225-psma"]
    assert ac.truth["administered_mbq"] == pytest.approx(8.0)
    assert ac.window.startswith("Bi-213 440")
    # The retired mono-exponential scenario still gives T_eff = 1/(1/T_phys + 1/45 h).
    (mono,) = series["lu177-retention"].truth["components"]
    assert mono["effective_half_life_h"] == pytest.approx(1 / (1 / (6.647 * 24) + 1 / 45.0))


def test_ac225_counts_on_both_daughter_lines() -> None:
    scenario = load("ac225-psma")
    assert [w.name for w in scenario.windows] == ["Bi-213 440", "Fr-221 218"]
    fr = measure_series(scenario, (4.0, 24.0), 300.0, seed=3, window=1)
    bi = measure_series(scenario, (4.0, 24.0), 300.0, seed=3, window=0)
    assert fr.window.startswith("Fr-221 218") and np.all(fr.counts > 1000)
    assert fr.truth["retained_fraction"] == bi.truth["retained_fraction"]


def test_the_same_seed_reproduces_and_another_differs() -> None:
    scenario = load("i131-release")
    a = measure_series(scenario, (4.0, 48.0), seed=5)
    b = measure_series(scenario, (4.0, 48.0), seed=5)
    c = measure_series(scenario, (4.0, 48.0), seed=6)
    assert a.as_dict() == b.as_dict()
    assert not np.array_equal(a.counts, c.counts)


def test_the_series_does_not_touch_the_scenario_path() -> None:
    # Counted at the first waypoint: the same expected rate as the scenario played from its start.
    scenario = load("lu177-psma-week")
    s = measure_series(scenario, (4.0,), count_s=2.0)
    assert s.truth["expected_cps"][0] == pytest.approx(Simulation(scenario).rate_at(0.0),
                                                       rel=1e-12)


@pytest.mark.parametrize(("times", "kwargs", "problem"), [
    ((24.0, 4.0), {}, "times must increase"),
    ((4.0, 4.01), {}, "after the previous count"),
    ((0.001,), {}, "at least half the count time"),
    ((4.0, math.nan), {}, "finite"),
    ((), {}, "1 to 64"),
    ((4.0,), {"window": 1}, "window 1 out of range"),
    ((4.0,), {"count_s": 0.0}, "count time must be > 0"),
    ((4.0,), {"background_s": -1.0}, "background time must be > 0"),
])
def test_bad_series_requests_are_refused(times, kwargs, problem) -> None:
    with pytest.raises(ValueError, match=problem):
        measure_series(load("lu177-psma-week"), times, **kwargs)


def test_cli_json_has_what_dosimetry_fit_needs() -> None:
    result = run_main("sim", "retention", "lu177-psma-week", "--times-h", "4,24,48,96,168",
                      "--seed", "7", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"scenario", "nuclide", "times_h", "counts", "live_s", "background_cps",
            "background_sd_cps", "truth"} <= set(data)
    assert data["nuclide"] == "Lu-177" and data["times_h"] == [4, 24, 48, 96, 168]
    direct = measure_series(load("lu177-psma-week"), (4, 24, 48, 96, 168), seed=7)
    assert data["counts"] == direct.counts.tolist()
    assert {"retained_fraction", "tiac_h", "t_eff_h", "components", "expected_cps"} \
        <= set(data["truth"])


def test_cli_table() -> None:
    result = run_main("sim", "retention", "i131-release", "--times-h", "4,48")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("i131-release: I-131") and lines[1].startswith("t_h")
    assert lines[3].split()[0] == "48" and "TIAC" in lines[-1]


@pytest.mark.parametrize(("args", "problem"), [
    (("lu177-psma-week", "--times-h", "4,x"), "--times-h must be numbers"),
    (("lu177-psma-week", "--times-h", "24,4"), "times must increase"),
    (("lu177-psma-week", "--times-h", "24", "--window", "2"), "window 2 out of range"),
    (("lu177-psma-week", "--times-h", "24", "--count-s", "0"), "--count-s"),
    (("no-such-scenario", "--times-h", "24"), "unknown scenario"),
    (("lu177-psma-week",), "--times-h"),
])
def test_cli_bad_input_one_line_exit_2(args, problem) -> None:
    result = run_main("sim", "retention", *args)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1 and problem in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["lu177-psma-week", "i131-release", "ac225-psma"])
def test_new_scenarios_play_in_sim_run(name) -> None:
    result = run_main("sim", "run", "--scenario", name, "--duration", "3")
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) >= 4  # header, 3 frames, end line
