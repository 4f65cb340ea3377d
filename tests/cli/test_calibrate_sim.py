"""`probe-nav calibrate energy|deadtime --sim` end to end: the simulator on a pty, the QC records
in a real database; the stored calibration is checked against the simulator's own truth (the
scenario). The tests that read a stored calibration back run on SQLite and PostgreSQL (the dead
time's two methods one on each, so the slow runs are not doubled); the others are about the
analysis, not the store, and use a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probe_nav.io.n42 import read_n42
from probe_nav.simulator.scenario import builtin_dir, load
from tests.backends import QC_SCHEMA, Db, backend_fixture, database
from tests.conftest import run_cli

ENERGY = builtin_dir() / "qc-energy.toml"

qc_db = backend_fixture("qc.sqlite", QC_SCHEMA)


def _tail_free_scenario(tmp_path: Path) -> Path:
    """qc-energy with an ideal Gaussian photopeak (no CdTe hole tailing, which pulls centroids
    0.3-0.8 keV low: docs/qc-analyses.md), so the truth is the ADC's channel map alone."""
    text = ENERGY.read_text().replace("[probe]\n", "[probe]\ntail_fraction = 0.0\n", 1)
    path = tmp_path / "qc-energy-ideal.toml"
    path.write_text(text)
    return path


@pytest.mark.slow
def test_energy_calibration_recovers_the_simulated_gain_and_is_applied(tmp_path: Path,
                                                                       qc_db: Db) -> None:
    db = qc_db.arg
    scenario = _tail_free_scenario(tmp_path)
    kev = load(str(scenario)).probe.kev_per_channel  # the truth: bin i holds [i k, (i+1) k)
    done = run_cli("calibrate", "energy", "--sim", str(scenario), "--speed", "30",
                   "--duration", "120", "--seed", "3", "--db", db, "--operator", "phys",
                   "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    # Lines from the scenario's own sources: Am-241, Co-57 and Cs-137 (not the Compton edge).
    assert {59.5409, 661.657} <= set(out["energies_kev"])  # ENSDF/DDEP line energies
    birge = max(1.0, out["chi2_dof"] or 1.0) ** 0.5
    (c0, c1), (sd0, sd1) = out["coefficients"], out["coefficients_sd"]
    assert abs(c1 - kev) <= 3 * birge * sd1, (c1, sd1)
    assert abs(c0 - 0.5 * kev) <= 3 * birge * sd0, (c0, sd0)  # bin centre at (i + 0.5) k
    # The stored calibration is the probe's active one: the next acquisition carries it in
    # place of the device's own (0, 3) keV/channel.
    again = run_cli("calibrate", "energy", "--sim", str(scenario), "--speed", "30",
                    "--duration", "30", "--seed", "4", "--db", db, "--operator", "phys")
    assert again.returncode == 0, again.stderr
    first, second = sorted((tmp_path / "raw").glob("*energy.n42"))
    assert read_n42(first).energy_calibration[:2] == pytest.approx((0.0, kev))
    assert read_n42(second).energy_calibration[:2] == pytest.approx((c0, c1), rel=1e-9)


@pytest.mark.slow
def test_energy_calibration_with_cdte_tailing_stays_within_a_quarter_percent(
        tmp_path: Path) -> None:
    done = run_cli("calibrate", "energy", "--sim", "qc-energy", "--speed", "30", "--duration",
                   "60", "--db", str(tmp_path / "qc.sqlite"), "--operator", "phys", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    kev = load("qc-energy").probe.kev_per_channel
    assert out["coefficients"][1] == pytest.approx(kev, rel=0.0025)
    assert 2.0 < out["fwhm_pct"] < 6.0  # 3.7 % at 661.7 keV for 8 % at 140.5 keV, sqrt(E)


def test_co57_alone_calibrates_from_its_two_resolved_peaks_or_is_refused(tmp_path: Path) -> None:
    # Co-57 alone has two resolved photopeaks, 14.4 and 122.1 keV (136.5 keV sits in 122's
    # tail): enough for a linear calibration (the 14.4 keV gamma was missing from the line table
    # before issue 16, when this was refused). --log-level error: on a loaded machine the pty may
    # overflow at 30x and the driver rightly logs the lost frames as warnings.
    db = tmp_path / "qc.sqlite"
    kev = load("qc-co57").probe.kev_per_channel
    done = run_cli("--log-level", "error", "calibrate", "energy", "--sim", "qc-co57", "--speed",
                   "30", "--duration", "20", "--db", str(db), "--json")
    assert done.returncode == 0, done.stderr
    gain = json.loads(done.stdout)["coefficients"][1]
    assert abs(gain / kev - 1.0) < 0.01, gain  # issue 16: within 1 % in gain
    # Told to use only 122.1 and 136.5 keV, it cannot tell them apart: refused, never mismatched.
    done = run_cli("--log-level", "error", "calibrate", "energy", "--sim", "qc-co57", "--speed",
                   "30", "--duration", "20", "--db", str(db), "--lines", "122.1,136.5")
    assert done.returncode == 2, done.stdout
    assert "match at most one of the lines 122.1, 136.5 keV" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1  # no SciPy warnings, no traceback


@pytest.mark.slow
def test_daily_checks_the_battery_the_device_reports(tmp_path: Path, serve) -> None:
    db = tmp_path / "qc.sqlite"
    ok = run_cli("qc", "daily", "--sim", "qc-co57", "--speed", "20", "--duration", "5",
                 "--db", str(db), "--operator", "tech", "--json")
    assert ok.returncode == 0, ok.stderr
    out = json.loads(ok.stdout)
    assert 0 < out["battery_pct"] <= 100 and out["battery_pass"] is True
    # A device whose battery reads 5 % from the start: the daily QC fails on it.
    device = serve("--protocol", "probelink", "--scenario", "qc-co57", "--speed", "20",
                   "--faults", "lowbat@0:5")
    low = run_cli("qc", "daily", "--device", device.url, "--duration", "5", "--db", str(db),
                  "--operator", "tech", "--json")
    assert low.returncode == 1, low.stderr
    out = json.loads(low.stdout)
    assert out["battery_pct"] == 5 and out["battery_pass"] is False and out["pass"] is False


@pytest.mark.timeout(600)  # ~15 s idle, up to a minute on a loaded machine
@pytest.mark.parametrize(("method", "backend"), [("two-source", "sqlite"),
                                                  ("decaying-source", "postgresql")])
def test_deadtime_on_the_simulator_recovers_the_probes_dead_time(
        tmp_path: Path, method: str, backend: str, request: pytest.FixtureRequest,
        monkeypatch: pytest.MonkeyPatch) -> None:
    db = database(request, tmp_path, monkeypatch, backend, "qc.sqlite", QC_SCHEMA).arg
    probe = load("qc-co57").probe  # the scenario's configured counter is the truth
    done = run_cli("calibrate", "deadtime", "--sim", "qc-co57", "--method", method, "--seed",
                   "5", "--db", db, "--operator", "phys", "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["model"] == probe.dead_time_kind and out["method"] == method
    assert abs(out["dead_time_s"] - probe.dead_time_s) <= 3 * out["dead_time_sd_s"]
    assert out["dead_time_sd_s"] < 0.05 * probe.dead_time_s
    hist = run_cli("qc", "history", "--db", db, "--json")
    record = json.loads(hist.stdout)
    assert record["test"] == "deadtime" and record["kind"] == "calibration"
    assert record["result"]["dead_time_s"] == out["dead_time_s"]
