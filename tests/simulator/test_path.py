"""Scripted probe motion with axes, and the interactive pose a GUI drives from another thread."""

from __future__ import annotations

import math
import threading

import pytest

from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.path import InteractivePose, ScanPath, Waypoint
from probe_nav.simulator.scenario import load


def test_waypoints_with_speeds_dwells_travel_times_and_axes() -> None:
    tilt = (math.sin(math.radians(30)), 0.0, -math.cos(math.radians(30)))
    path = ScanPath((
        Waypoint((0.0, 0.0, 0.0), dwell_s=1.0),
        Waypoint((100.0, 0.0, 0.0), speed_mm_s=50.0, dwell_s=1.0),  # 2 s travel
        Waypoint((100.0, 0.0, 0.0), axis=tilt, travel_s=2.0, dwell_s=1.0),
    ))
    assert path.duration_s == pytest.approx(7.0)
    assert path.position_at(0.5) == (0.0, 0.0, 0.0)
    assert path.position_at(2.0) == pytest.approx((50.0, 0.0, 0.0))
    assert path.axis_at(3.5) == pytest.approx((0.0, 0.0, -1.0))
    half = path.axis_at(5.0)  # halfway through the turn: the normalised mean of both axes
    assert math.degrees(math.acos(-half[2])) == pytest.approx(15.0, abs=0.01)
    assert path.axis_at(6.5) == pytest.approx(tilt)
    assert path.position_at(100.0) == pytest.approx((100.0, 0.0, 0.0))  # stays put


def test_loop_repeats() -> None:
    path = ScanPath((Waypoint((0.0, 0.0, 0.0)), Waypoint((10.0, 0.0, 0.0), speed_mm_s=10.0)),
                    loop=True)
    assert path.position_at(0.25)[0] == pytest.approx(2.5)
    assert path.position_at(1.25)[0] == pytest.approx(2.5)


def test_interactive_pose_is_set_atomically_from_another_thread() -> None:
    pose = InteractivePose()
    stop = threading.Event()

    def drive() -> None:
        i = 0
        while not stop.is_set():
            x = float(i % 100)
            pose.set((x, x, -x), (0.0, 0.0, -1.0) if i % 2 else (1.0, 0.0, 0.0))
            i += 1

    worker = threading.Thread(target=drive)
    worker.start()
    try:
        seen = 0
        while seen < 2000:
            got = pose.get()
            if got is None:
                continue
            (x, y, z), axis = got
            assert x == y == -z  # never half of one pose and half of another
            assert axis in ((0.0, 0.0, -1.0), (1.0, 0.0, 0.0))
            seen += 1
    finally:
        stop.set()
        worker.join()


def test_simulation_follows_the_interactive_pose_then_the_script_again() -> None:
    sim = Simulation(load("sln-static"))
    over_node = sim.rate_at(0.0)
    sim.set_pose((0.0, 0.0, 0.0), (1.0, 0.0, 0.0))  # looking sideways: node at 90 degrees
    assert sim.rate_at(0.0) < over_node / 5
    frame = sim.step()
    assert frame.truth.axis == (1.0, 0.0, 0.0)
    sim.pose.release()
    assert sim.rate_at(0.0) == pytest.approx(over_node)
