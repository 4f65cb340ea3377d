"""The simulator's OpenIGTLink pose server, through the real protocol on 127.0.0.1 and the real
client: poses round trip, its noise, its late stamps, its dropouts; the simulator's pose_at
helpers; and `probe-nav sim poses`."""

from __future__ import annotations

import itertools
import math
import os
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from probe_nav.drivers.tracking.igtl_client import IgtlPoseSource
from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.simulator.pose_server import PoseServer, device_pose_at, scenario_pose_at
from tests.in_process import run_main
from tests.tracking.igtl_peer import wait_for

F32_EPS = float(np.finfo(np.float32).eps)
STAMP_SLACK_S = 1e-3  # stamp -> host time: the two ends' wall-monotonic offsets, read apart


def _moving(speed_mm_s: float):
    """A probe moving along x at speed_mm_s from 100 mm (at the host time of this call), tilted
    in y-z (it stays within a tracker's plausible 10 m for minutes)."""
    axis = (0.0, 0.6, -0.8)
    t0 = time.monotonic()

    def pose_at(h: float):
        return (100.0 + speed_mm_s * (h - t0), -20.0, 5.0), axis
    return pose_at


def _collect(source: IgtlPoseSource, n: int, timeout_s: float = 30.0) -> list[PoseSample]:
    got: list[PoseSample] = []
    assert wait_for(lambda: len(got) >= n or bool(got.extend(source.poll())), timeout_s), \
        f"{len(got)} of {n} samples"
    return got[:n]


def test_poses_round_trip_within_float32() -> None:
    pose_at = _moving(1.0)
    with PoseServer(pose_at, rate_hz=200.0) as server, \
            IgtlPoseSource(port=server.port) as source:
        samples = _collect(source, 50)
    assert source.rejected == 0
    for s in samples:
        true_position, true_axis = pose_at(s.host_s)
        # float32 on the wire: half an ulp of |x| <= 200 mm; the recovered time: 1 ms at 1 mm/s
        tol_mm = F32_EPS * 200.0 + 1.0 * STAMP_SLACK_S
        assert np.allclose(s.position_mm, true_position, rtol=0, atol=tol_mm)
        assert np.allclose(s.axis, true_axis, rtol=0, atol=4 * F32_EPS)
    host = [s.host_s for s in samples]
    assert all(b > a for a, b in itertools.pairwise(host))


def test_noise_sd_is_recovered() -> None:
    """The tip's noise sd from 400 samples of a still probe: the pooled sd over 3 axes has
    3 x 399 degrees of freedom, so a relative sd of 1/sqrt(2 x 1197) = 2.0 %; 4 sigma: 8 %.
    The axis: the angle^2 to the true axis is sd^2 chi-square(2) (two Gaussian tilts), so
    sqrt(mean/2) estimates sd with a relative sd of 1/(2 sqrt(400)) = 2.5 %; 4 sigma: 10 %."""
    still = (12.0, -7.0, 3.0), (0.0, 0.0, -1.0)
    with PoseServer(lambda h: still, rate_hz=500.0, noise_mm=0.5, noise_deg=1.0,
                    seed=7) as server, IgtlPoseSource(port=server.port) as source:
        samples = _collect(source, 400)
    tips = np.array([s.position_mm for s in samples]) - np.array(still[0])
    sd_mm = math.sqrt(np.sum((tips - tips.mean(axis=0)) ** 2) / (3 * (len(tips) - 1)))
    assert sd_mm == pytest.approx(0.5, rel=0.08)
    cosines = np.clip(np.array([s.axis for s in samples]) @ np.array(still[1]), -1, 1)
    sd_deg = math.degrees(math.sqrt(np.mean(np.arccos(cosines) ** 2) / 2))
    assert sd_deg == pytest.approx(1.0, rel=0.10)


@pytest.mark.parametrize("client_latency_s", [0.0, 0.2])
def test_latency_shows_as_a_stamp_offset(client_latency_s: float) -> None:
    """Stamps late by 0.2 s on a probe moving at 50 mm/s: the pose at a sample's host_s is
    10 mm behind, unless the client is told the latency (then host_s is moved back by it)."""
    speed, latency = 50.0, 0.2
    pose_at = _moving(speed)
    with PoseServer(pose_at, rate_hz=100.0, latency_s=latency) as server, \
            IgtlPoseSource(port=server.port, latency_s=client_latency_s) as source:
        samples = _collect(source, 30)
    offsets = [s.position_mm[0] - pose_at(s.host_s)[0][0] for s in samples]
    expected = -speed * (latency - client_latency_s)
    # stamp recovery within 1 ms -> 0.05 mm at 50 mm/s; float32 of < 2000 mm -> 1e-4 mm
    assert np.allclose(offsets, expected, atol=speed * STAMP_SLACK_S + F32_EPS * 2000.0)


def test_dropouts_send_nothing() -> None:
    with PoseServer(_moving(1.0), rate_hz=200.0, dropouts=[(0.0, 0.4), (0.6, 0.3)]) as server, \
            IgtlPoseSource(port=server.port) as source:
        samples: list[PoseSample] = []
        assert wait_for(lambda: bool(samples.extend(source.poll()))
                        or (samples and samples[-1].host_s - server.start_s > 1.2))
    t = np.array([s.host_s for s in samples]) - server.start_s
    inside = ((t > 0.0 + STAMP_SLACK_S) & (t < 0.4 - STAMP_SLACK_S)) | \
        ((t > 0.6 + STAMP_SLACK_S) & (t < 0.9 - STAMP_SLACK_S))
    assert not inside.any(), t[inside]
    assert ((t > 0.4) & (t < 0.6)).any() and (t > 0.9).any()


def test_random_dropouts_are_seeded_and_cover_their_share() -> None:
    """Dropouts at 0.5 per second of 0.5 s each cover about 1 - exp(-0.25) = 22 % of the time
    (a Poisson process of starts; a point is uncovered if no start fell in the 0.5 s before).
    Over 400 s the dropouts number ~200 and the covered share has a relative sd of ~7 %: 4 sigma
    is 0.22 +- 0.06."""
    def covered(seed: int) -> np.ndarray:
        server = PoseServer(lambda h: ((0.0, 0.0, 0.0), (0.0, 0.0, 1.0)), dropouts=0.5,
                            seed=seed, clock=lambda: 0.0)
        try:
            return np.array([server.in_dropout(t) for t in np.arange(0.0, 400.0, 0.01)])
        finally:
            server.stop()
    a, b = covered(1), covered(1)
    assert np.array_equal(a, b)
    assert a.mean() == pytest.approx(1 - math.exp(-0.25), abs=0.06)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        PoseServer(_moving(1.0), host="0.0.0.0")
    with pytest.raises(ValueError, match="rate_hz"):
        PoseServer(_moving(1.0), rate_hz=0.0)
    with pytest.raises(ValueError, match="noise_mm"):
        PoseServer(_moving(1.0), noise_mm=-1.0)


def test_scenario_pose_at_follows_the_scenario_path() -> None:
    from probe_nav.simulator.engine import Simulation
    from probe_nav.simulator.scenario import load

    sim = Simulation(load("sln-scan"))
    pose_at = scenario_pose_at(sim, start_host_s=1000.0, speed=2.0)
    for t in (0.0, 2.5, 7.0):
        position, axis = pose_at(1000.0 + t / 2.0)
        assert position == sim.pose_at(t).position_mm and axis == sim.pose_at(t).axis


def test_device_pose_at_follows_a_running_device_server() -> None:
    from probe_nav.simulator.launch import start_server

    server = start_server("probelink", "sln-scan", "pty", seed=0, speed=4.0)
    try:
        pose_at = device_pose_at(server)
        now = time.monotonic()
        device_t = server.device_t_s
        position, _ = pose_at(now)
        # device time at `now` is within the few ms between the two reads (x 4 speed)
        expected = [server.emulator.sim.pose_at(device_t + dt).position_mm[0]
                    for dt in (-0.1, 0.0)]
        assert min(expected) - 1e-9 <= position[0] <= max(expected) + 1e-9
    finally:
        server.stop()


def test_sim_poses_serves_and_stops_cleanly_on_ctrl_c() -> None:
    proc = subprocess.Popen([sys.executable, "-m", "probe_nav", "sim", "poses", "--port", "0",
                             "--noise-mm", "0.1"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ})
    try:
        port = int(proc.stdout.readline())
        with IgtlPoseSource(port=port) as source:
            samples = _collect(source, 5)
        assert all(s.valid for s in samples)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0 and "Traceback" not in err, err


def test_sim_poses_bad_arguments() -> None:
    done = run_main("sim", "poses", "--noise-mm", "-1")
    assert done.returncode == 2 and "--noise-mm" in done.stderr
    done = run_main("sim", "poses", "--scenario", "no-such-scenario", "--port", "0")
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    with socket.create_server(("127.0.0.1", 0)) as taken:
        done = run_main("sim", "poses", "--port", str(taken.getsockname()[1]))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "cannot serve on port" in done.stderr
