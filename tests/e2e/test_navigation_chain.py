"""The whole navigation chain through its real parts on loopback: a simulated probe on a pty
(DeviceServer, ProbeLink driver, LiveSession) sweeping a raster over a node; the simulator's pose
server -> the OpenIGTLink client -> frames posed at their mid-interval -> the live reconstruction
on its worker thread -> IMAGE, POINT and TRANSFORM to a second OpenIGTLink endpoint (a pyigtl
server standing in for 3D Slicer).

The simulator plays at 4x (a 60 s sweep in ~15 s); nothing here depends on the machine's speed:
waits are for conditions, bounded by HANG_S. The update rate is a benchmark figure
(benchmarks/bench_navigation.py), not a pass/fail."""

from __future__ import annotations

import dataclasses
import math
import socket
import time

import numpy as np
import pytest

from probe_nav.core.pipeline import PipelineConfig
from probe_nav.drivers.registry import open_device
from probe_nav.drivers.tracking.igtl_client import IgtlPoseSource
from probe_nav.gui.guide_state import is_guided
from probe_nav.io.igtl_out import SlicerLink
from probe_nav.live import LiveSession
from probe_nav.live.navigation import Navigator
from probe_nav.live.slicer_feed import SlicerFeed
from probe_nav.navigation.response import ResponseModel
from probe_nav.simulator.emulators.probelink import ProbeLinkEmulator
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.path import ScanPath, Waypoint
from probe_nav.simulator.physics import PointSource
from probe_nav.simulator.pose_server import PoseServer, device_pose_at
from probe_nav.simulator.server import DeviceServer
from probe_nav.simulator.sweeps import node_scenario, raster_mm
from tests.served import WRITE_WAIT_S

pytestmark = [pytest.mark.slow]
HANG_S = 150.0  # under pytest-timeout's 180 s
SPEED = 4.0
NODE = (5.0, -4.0, -15.0)
SWEEP_S = 60.0  # of device time: one raster along x and back along y over 60 x 60 mm


def scenario():
    corners = raster_mm((0.0, 0.0), 60.0, 10.0)
    path = ScanPath(tuple(Waypoint((float(x), float(y), 0.0), speed_mm_s=20.0)
                          for x, y in corners), loop=True)
    base = node_scenario((PointSource("node", NODE, 0.015),))
    return dataclasses.replace(base, path=path)


@pytest.fixture
def slicer():
    import pyigtl

    with socket.socket() as probe_port:  # a free port (pyigtl's server cannot say which it got)
        probe_port.bind(("127.0.0.1", 0))
        port = probe_port.getsockname()[1]
    server = pyigtl.OpenIGTLinkServer(port=port, local_server=True)
    try:
        yield server
    finally:
        server.stop()


def test_sweep_to_slicer_over_loopback(slicer) -> None:
    sc = scenario()
    device_server = DeviceServer(ProbeLinkEmulator(Simulation(sc, seed=3)),
                                 PtyLink(write_wait_s=WRITE_WAIT_S), speed=SPEED, seed=3)
    device = open_device(device_server.url, "probelink")
    device.open()
    device_server.start()
    poses = PoseServer(device_pose_at(device_server), rate_hz=60.0).start()
    navigator = Navigator(ResponseModel(sc.probe, sc.nuclide_name, tissue=sc.tissue),
                          IgtlPoseSource("127.0.0.1", poses.port), device_s_per_host_s=SPEED)
    session = LiveSession(device, PipelineConfig(), navigator=navigator)
    feed = SlicerFeed(SlicerLink("127.0.0.1", slicer.port, timeout_s=5.0), image_period_s=0.5)
    started = time.monotonic()
    try:
        deadline = time.monotonic() + HANG_S
        while device_server.played_t_s < SWEEP_S and time.monotonic() < deadline:
            session.poll()
            feed.update(navigator.snapshot(), time.monotonic())
            time.sleep(0.02)
        assert device_server.played_t_s >= SWEEP_S, "the sweep did not finish"
        device_server.stop(close_link=False)  # the sweep is over: no more frames
        # let the reconstruction catch up with the last frames, then send its state
        for _ in range(20):
            session.poll()
            time.sleep(0.05)
        delivered = device.stats.frames  # what reached the host (a loaded pty drops some)
        snap = navigator.snapshot()
        while (snap.recon is None or snap.recon.n_frames < snap.posed_frames
               or not snap.recon.spots) and time.monotonic() < deadline:
            time.sleep(0.05)
            session.poll()
            snap = navigator.snapshot()
        feed.update(snap, time.monotonic() + 10.0)
        assert feed.link.flush(30.0)
        print(f"sweep of {SWEEP_S} s at {SPEED}x: {time.monotonic() - started:.1f} s wall, "
              f"{snap.posed_frames} posed, {snap.unposed_frames} unposed, "
              f"{snap.update_hz:.1f} updates/s, spots {snap.recon.spots}")
    finally:
        session.close()
        navigator.close()
        poses.stop()
        device_server.stop()
        feed.close()

    # every frame that reached the host was posed but the first few, before the first pose
    # arrived, and any whose poses came more than POSE_WAIT_S late on a loaded machine (seen:
    # 3-7 in 4600). Frames a loaded machine's pty lost never reached navigation (the link's own
    # tests count those); half the sweep is still enough for the spot checked below.
    assert delivered >= 0.5 * SWEEP_S / sc.frame_period_s
    assert snap.posed_frames >= 0.95 * delivered
    assert snap.unposed_frames <= 0.02 * snap.posed_frames
    spots = slicer.wait_for_message("ProbeNavSpots", timeout=30)
    image = slicer.wait_for_message("ProbeNavActivity", timeout=30)
    probe = slicer.wait_for_message("ProbeToTracker", timeout=30)
    assert spots is not None and image is not None and probe is not None
    # Slicer got the node: 15 kBq at 15 mm under 60 s of sweep localises to ~2 mm (docs/
    # navigation.md: median 2.2 mm, worst of 8 seeds 5.4 mm); 10 mm bounds a wrong answer. And
    # the guide leads to it and to no spot anywhere else (gui.guide_state.is_guided): with the
    # device clock mapped at 1x instead of the simulator's 4x, a loaded host split the node into
    # two spots 7 mm either side of it, or added a ghost 30-40 mm away (seen in CI).
    positions = np.asarray(spots.positions)
    found = min(positions, key=lambda p: math.dist(p, NODE))
    assert math.dist(found, NODE) < 10.0, (positions, NODE)
    guided = [s for s in snap.recon.spots if is_guided(s)]
    assert guided and all(math.dist((s.x_mm, s.y_mm, s.z_mm), NODE) < 10.0 for s in guided), \
        snap.recon.spots
    # the image is the reconstruction's grid: it holds the node's x-y
    assert image.image.size > 100 and np.isfinite(image.image).all()
    ijk = np.linalg.inv(image.ijk_to_world_matrix) @ [NODE[0], NODE[1], NODE[2], 1.0]
    k, j, i = image.image.shape
    assert 0 <= ijk[0] < i and 0 <= ijk[1] < j and 0 <= ijk[2] < k
    # the probe Slicer shows is on the skin, pointing down
    assert abs(probe.matrix[2, 3]) < 1e-3 and probe.matrix[2, 2] == pytest.approx(-1.0)
