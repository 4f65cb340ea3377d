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
    last = snaps[-1]
    assert last["device"]["serial"] == "SIM-0001"
    assert last["device"]["protocol"] == "probelink 2.0"
    assert last["dropped_frames"] == 0 and last["bad_frames"] == 0
    # Every frame of the device's stream since the first one seen arrived: the count matches
    # the span of device time (20 frames/s), however the OS scheduled the two processes.
    first = next(s for s in snaps if s["frames"] > 0)
    first_frame_t_s = first["device_t_s"] - (first["frames"] - 1) * 0.05
    assert last["frames"] == round((last["device_t_s"] - first_frame_t_s) / 0.05) + 1
    assert last["frames"] >= 40  # 2 s of the 5 (nearly 100 when the machine is idle)
    # The last live reading (the very last snapshot may be STALE if the OS paused the server
    # for half a second; that is the monitor doing its job).
    live = [s for s in snaps if s["rate_cps"] is not None]
    assert live and all(s["link"] == "connected" for s in live)
    truth = expected_observed_cps("sln-static")
    # The meter (tau 1 s) has Poisson sd sqrt(r / 2 tau) ~ 5.5 cps here; it reports its own sd.
    # |z| < 4.5 fails by chance with probability 7e-6.
    assert live[-1]["rate_sd_cps"] == pytest.approx(math.sqrt(truth / 2.0), rel=0.35)
    assert abs(live[-1]["rate_cps"] - truth) < 4.5 * live[-1]["rate_sd_cps"]


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


def newest_frame_age_s(snaps: list[dict]) -> float:
    """How long, at the last snapshot, the monitor has held its newest frame, in the monitor's
    own clock (snapshot t_s): at least since the first snapshot that showed that frame count.
    A lower bound of the true age (the frame came in after the snapshot before), so a check
    against it cannot fail because the OS ran the monitor late."""
    last = snaps[-1]
    first_with_count = next(s for s in snaps if s["frames"] == last["frames"])
    return last["t_s"] - first_with_count["t_s"]


def test_disconnect_is_reported_within_a_second_and_the_monitor_resumes(serve, tmp_path) -> None:
    """The promise: no reading is shown as live a second after the last frame came in (the
    device went silent or away), measured in the monitor's own snapshot times, not in this
    test's wall clock; and the monitor says disconnected and resumes at the same URL."""
    link = str(tmp_path / "ttyPROBE")
    first = serve("--scenario", "sln-static", "--link-path", link, "--seed", "1")
    assert first.url == link
    monitor = subprocess.Popen(cli("monitor", "--device", link, "--json", "--duration", "120",
                                   "--interval", "0.1"),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    snaps: list[dict] = []
    try:
        assert monitor.stdout is not None

        def next_snap() -> dict:
            line = monitor.stdout.readline()
            assert line, monitor.stderr.read()
            snaps.append(json.loads(line))
            if snaps[-1]["rate_cps"] is not None:  # live: never on a frame a second old
                assert snaps[-1]["link"] == "connected"
                assert newest_frame_age_s(snaps) < 1.0, snaps[-12:]
            return snaps[-1]

        while not ((snap := next_snap())["link"] == "connected" and snap["rate_cps"] is not None):
            pass
        assert first.stop() == 0
        while (snap := next_snap())["link"] != "disconnected":
            pass  # connected until the last frames are read, perhaps stale a moment: both checked
        assert snap["rate_cps"] is None  # never a stale reading shown as live
        # The monitor keeps running with no device, then the device comes back at the same URL.
        for _ in range(5):
            snap = next_snap()
            assert snap["link"] == "disconnected" and snap["rate_cps"] is None
        serve("--scenario", "sln-static", "--link-path", link, "--seed", "2")
        deadline = time.monotonic() + 60  # only bounds a hang
        while not ((snap := next_snap())["link"] == "connected" and snap["rate_cps"] is not None):
            assert time.monotonic() < deadline, "the monitor did not resume"
        assert snap["reconnects"] >= 1
        assert monitor.poll() is None
    finally:
        monitor.terminate()
        monitor.wait(30)
        assert monitor.returncode == 0
        monitor.stdout.close()
        monitor.stderr.close()
