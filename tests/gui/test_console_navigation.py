"""The console navigates in training: the simulated probe's pose comes over OpenIGTLink on
loopback (the simulator's pose server and the real client), every frame is posed and recorded in
posed.csv beside the session, the guide says TRACKING LOST when the tracker stops, and G picks
the next spot. Real widgets offscreen, a real pty and real sockets; waits are for conditions,
WAIT_MS bounding a hang.

The console fixture puts the driver on the served clock (tests/served.py: link state judged on
the device's time); navigation maps the device clock to the host's monotonic clock, on which the
tracker's poses are stamped, as in the field, so these tests give the driver that clock back.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from probe_nav.gui.guide_state import LOST, NO_SPOT
from probe_nav.io.frames_csv import read_frames_csv
from probe_nav.live.posed_recording import POSED_FILE
from tests.gui.conftest import WAIT_MS


@pytest.fixture
def console_sim(console_sim):
    """The console fixture with the driver on the host's monotonic clock (module docstring)."""
    window, sim = console_sim
    window.session.device.clock = time.monotonic
    return window, sim


def nav_snapshot(window):
    return window.navigation.navigator.snapshot()


def test_the_simulated_probe_is_tracked_and_its_frames_posed(console_sim, qtbot) -> None:
    window, sim = console_sim
    window.tabs.setCurrentWidget(window.navigate)
    qtbot.waitUntil(lambda: nav_snapshot(window).tracking == "tracking"
                    and nav_snapshot(window).posed_frames >= 20, timeout=WAIT_MS)
    sim.hold(12.0, -7.0, 3.0)
    # the pose server sends the held pose; float32 on the wire: within 1e-3 mm
    qtbot.waitUntil(lambda: nav_snapshot(window).pose is not None and math.dist(
        nav_snapshot(window).pose.position_mm, (12.0, -7.0, 3.0)) < 1e-3, timeout=WAIT_MS)
    assert nav_snapshot(window).pose.axis == (0.0, 0.0, -1.0)
    # a static probe over a node localises nothing: the guide asks for a sweep, no arrow
    assert window.navigate.display.status == NO_SPOT
    assert window.navigate.display.guidance is None


def test_tracker_gone_is_tracking_lost_and_frames_go_unposed(console_sim, qtbot) -> None:
    window, _sim = console_sim
    window.tabs.setCurrentWidget(window.navigate)
    qtbot.waitUntil(lambda: nav_snapshot(window).tracking == "tracking", timeout=WAIT_MS)
    window.navigation._pose_server.stop()
    qtbot.waitUntil(lambda: window.navigate.display.status == LOST, timeout=WAIT_MS)
    assert window.navigate.display.guidance is None and window.navigate.display.aim is None
    before = nav_snapshot(window).unposed_frames
    qtbot.waitUntil(lambda: nav_snapshot(window).unposed_frames > before + 5, timeout=WAIT_MS)


def test_posed_frames_are_recorded_beside_the_session(console_sim, qtbot) -> None:
    window, _sim = console_sim
    qtbot.waitUntil(lambda: nav_snapshot(window).posed_frames >= 30, timeout=WAIT_MS)
    folder = window.session.recorder.directory
    window.shutdown()  # as closing the console does: the last frames handed on, files finished
    table = read_frames_csv(folder / POSED_FILE)
    frames = read_frames_csv(folder / "frames.csv")
    assert table.complete and len(table) >= 30
    # every frame navigation handled is a frame of the session, in order, posed or not
    assert set(table.seq.tolist()) <= set(frames.seq.tolist())
    assert list(table.seq) == sorted(table.seq)
    posed = ~(table.position_mm[:, 0] != table.position_mm[:, 0])  # not NaN
    assert posed.sum() >= 30


def test_g_picks_the_next_spot(console_sim, qtbot) -> None:
    window, _sim = console_sim
    before = window.navigate.selected
    window.shortcuts["G"].activated.emit()
    assert window.navigate.selected == before + 1


def test_a_console_at_4x_poses_every_frame_where_the_simulated_probe_was(
        make_sim, make_console, qtbot) -> None:
    # demo --screenshot plays the simulator at 4x: the device clock runs 4 s per host second; the
    # navigator maps it at that rate. Every posed frame is compared with the simulator's own
    # path at the frame's mid-interval (device time). The sweep moves at 20-40 mm/s of device
    # time. A right pose is off by the smallest transport delay of the clock map's window (the
    # least of 100+ frames on loopback: ~1 ms of host, 4 ms of device, 0.16 mm) and, within
    # 1/30 s of device time of the path's 1-2 corners in these 10 s, by linear interpolation
    # between tracker samples 1/15 s of device apart (at most 1.3 mm, under 5% of frames): the
    # 95th percentile is under 0.7 mm. Mapped at 1x, every frame took its own arrival (the
    # console polls: 10-50 ms late, the 95th percentile measured 1.4 mm).
    sim = make_sim("sln-scan", speed=4.0)
    window = make_console(sim)
    window.session.device.clock = time.monotonic  # as console_sim: the host's clock
    qtbot.waitUntil(lambda: nav_snapshot(window).posed_frames >= 200, timeout=WAIT_MS)
    folder = window.session.recorder.directory
    window.shutdown()
    table = read_frames_csv(folder / POSED_FILE)
    posed = ~np.isnan(table.position_mm[:, 0])
    assert posed.sum() >= 200
    path = sim.server.emulator.sim.scenario.path
    truth = np.array([path.position_at(t - r / 2.0)
                      for t, r in zip(table.t_s[posed], table.real_s[posed], strict=True)])
    off = np.linalg.norm(table.position_mm[posed] - truth, axis=1)
    assert np.percentile(off, 95) < 0.7, np.percentile(off, [50, 95, 100])
