"""Counts go from the simulator over a real pty, through the ProbeLink driver, to the monitor."""

from __future__ import annotations

import json
import math
import subprocess
import time

import pytest

from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.scenario import load
from tests.conftest import ROOT, cli, run_cli


def expected_observed_cps(scenario: str) -> float:
    """The scenario's true rate after the counter's non-paralysable dead time."""
    sim = Simulation(load(scenario))
    n = sim.rate_at(1.0)
    return n / (1.0 + n * sim.scenario.probe.dead_time_s)


def test_pty_sim_to_monitor_rate_matches_truth(serve) -> None:
    server = serve("--protocol", "probelink", "--scenario", "sln-static", "--seed", "3")
    assert server.url.startswith("/dev/pts/")
    result = run_cli("monitor", "--device", server.url, "--duration", "5", "--json",
                     "--meter", "1")
    assert result.returncode == 0, result.stderr
    snaps = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(snaps) >= 15
    last = snaps[-1]
    assert last["link"] == "connected"
    assert last["device"]["serial"] == "SIM-0001"
    assert last["device"]["protocol"] == "probelink 1.0"
    assert last["dropped_frames"] == 0 and last["bad_frames"] == 0
    # 20 frames/s for ~5 s, less start-up.
    assert 80 <= last["frames"] <= 110
    truth = expected_observed_cps("sln-static")
    # The meter (tau 1 s) has Poisson sd sqrt(r / 2 tau) ~ 5.5 cps here; it reports its own sd.
    # |z| < 4.5 fails by chance with probability 7e-6.
    assert last["rate_sd_cps"] == pytest.approx(math.sqrt(truth / 2.0), rel=0.35)
    assert abs(last["rate_cps"] - truth) < 4.5 * last["rate_sd_cps"]


def test_monitor_sim_in_process_reports_identity_and_rate() -> None:
    result = run_cli("monitor", "--sim", "sln-static", "--duration", "3", "--json", "--seed", "1")
    assert result.returncode == 0, result.stderr
    snaps = [json.loads(line) for line in result.stdout.splitlines()]
    assert {"t_s", "rate_cps", "link"} <= set(snaps[-1])
    live = [s for s in snaps if s["rate_cps"] is not None]
    assert live and all(s["link"] == "connected" for s in live)
    truth = expected_observed_cps("sln-static")
    assert abs(live[-1]["rate_cps"] - truth) < 4.5 * live[-1]["rate_sd_cps"]


def test_demo_runs_the_simulator_in_the_monitor() -> None:
    result = run_cli("demo", "--duration", "1.5")
    assert result.returncode == 0, result.stderr
    assert "simulated probe" in result.stdout and "link connected" in result.stdout


def test_terminal_output_is_readable() -> None:
    result = run_cli("monitor", "--sim", "sln-static", "--duration", "1.5")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("cps" in line and "link connected" in line for line in lines)
    assert "probe-nav simulated probe #SIM-0001" in lines[-1]


def test_disconnect_is_reported_within_a_second_and_the_monitor_resumes(serve, tmp_path) -> None:
    link = str(tmp_path / "ttyPROBE")
    first = serve("--scenario", "sln-static", "--link-path", link, "--seed", "1")
    assert first.url == link
    monitor = subprocess.Popen(cli("monitor", "--device", link, "--json", "--duration", "30",
                                   "--interval", "0.1"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert monitor.stdout is not None

        def next_snap() -> dict:
            line = monitor.stdout.readline()
            assert line, monitor.stderr.read()
            return json.loads(line)

        while next_snap()["link"] != "connected":
            pass
        unplugged = time.monotonic()
        assert first.stop() == 0
        while (snap := next_snap())["link"] == "connected":
            assert snap["rate_cps"] is not None
        noticed = time.monotonic() - unplugged
        assert snap["link"] == "disconnected"
        assert snap["rate_cps"] is None  # never a stale reading shown as live
        assert noticed < 1.0
        # The monitor keeps running with no device, then the device comes back at the same URL.
        for _ in range(5):
            snap = next_snap()
            assert snap["link"] == "disconnected" and snap["rate_cps"] is None
        serve("--scenario", "sln-static", "--link-path", link, "--seed", "2")
        deadline = time.monotonic() + 10
        while not ((snap := next_snap())["link"] == "connected" and snap["rate_cps"] is not None):
            assert time.monotonic() < deadline, "the monitor did not resume"
        assert snap["reconnects"] >= 1
        assert monitor.poll() is None
    finally:
        monitor.terminate()
        monitor.wait(10)
        assert monitor.returncode == 0
        monitor.stdout.close()
        monitor.stderr.close()
