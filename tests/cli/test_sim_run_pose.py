"""The probe's pose in frame CSV files on the command line: `sim run` writes the simulator's true
mid-frame pose, `replay` reads (and ignores) it or refuses a bad one, `repair` keeps it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from probe_nav.drivers.frames import CountFrame
from probe_nav.io.frames_csv import read_frames_csv, write_frames_csv
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.scenario import load
from tests.in_process import run_main

HEADER = "t_s,live_s,counts,real_s,x_mm,y_mm,z_mm,ux,uy,uz"


def _mid_poses(scenario_name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The scripted pose at the middle of each of the first n frames, on the engine's own time
    grid (frame k spans [t0, t0 + period], t0 rounded to ns as Simulation.step does)."""
    scenario = load(scenario_name)
    sim = Simulation(scenario, 0)
    period = scenario.frame_period_s
    positions, axes, t0 = [], [], 0.0
    for _ in range(n):
        pose = sim.pose_at(t0 + period / 2.0)
        positions.append(pose.position_mm)
        axes.append(pose.axis)
        t0 = round(t0 + period, 9)
    return np.array(positions), np.array(axes)


@pytest.mark.parametrize(("scenario", "moves"), [
    ("sln-scan", "position"),  # a sweep along x at a fixed axis
    ("breast-shine-through", "axis"),  # tilts towards the injection site and away
])
def test_sim_run_writes_the_true_mid_frame_pose(tmp_path: Path, scenario: str,
                                                moves: str) -> None:
    out = tmp_path / "run.csv"
    done = run_main("sim", "run", "--scenario", scenario, "--duration", "25", "--seed", "3",
                    "--out", str(out))
    assert done.returncode == 0, done.stderr
    table = read_frames_csv(out)
    assert table.complete and len(table) == 500  # 25 s of 50 ms frames
    assert table.position_mm is not None and table.axis is not None
    # The pose is the one the engine counted with, bit for bit (repr in the file)
    positions, axes = _mid_poses(scenario, len(table))
    np.testing.assert_array_equal(table.position_mm, positions)
    np.testing.assert_array_equal(table.axis, axes)
    # ... which is the mid-frame one: t_s - real_s / 2 (both as printed, to the us: the pose
    # moves at most speed x 1 us = 0.1 um at the 100 mm/s these paths never exceed)
    mids = table.t_s - table.real_s / 2 if table.real_s is not None else None
    assert mids is not None
    sim = Simulation(load(scenario), 0)
    again = np.array([sim.pose_at(float(t)).position_mm for t in mids])
    np.testing.assert_allclose(table.position_mm, again, rtol=0, atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(table.axis, axis=1), 1.0, rtol=0, atol=1e-12)
    # The path really moves (else the comparison above proves little)
    if moves == "position":
        assert np.ptp(table.position_mm[:, 0]) > 100.0
    else:
        assert np.ptp(table.axis[:, 0]) > 0.9  # ux from -0.5 to 0.5


def test_sim_run_jsonl_and_stdout_csv_keep_their_shape(tmp_path: Path) -> None:
    done = run_main("sim", "run", "--duration", "0.1")
    assert done.returncode == 0, done.stderr
    header = done.stdout.splitlines()[1].split(",")
    assert header[header.index("x_mm"):header.index("x_mm") + 6] == [
        "x_mm", "y_mm", "z_mm", "ux", "uy", "uz"]
    assert "axis_x" not in header


def _posed(path: Path, n: int = 1200) -> tuple[list[CountFrame], list]:
    """A recording with a node from 30 to 35 s and a probe sweeping along x (a dropout every
    tenth frame), written with and without its poses by the library writer."""
    rng = np.random.default_rng(7)
    frames, poses = [], []
    for i in range(n):
        t_s = round(0.05 * (i + 1), 9)
        rate_cps = 300.0 if 30.0 < t_s <= 35.0 else 20.0
        frames.append(CountFrame(i, t_s, 0.05, 0.05, (int(rng.poisson(rate_cps * 0.05)),)))
        tilt = math.radians(i % 40)
        poses.append(None if i % 10 == 9 else
                     ((-60.0 + 0.1 * i, 3.5, 0.0), (math.sin(tilt), 0.0, -math.cos(tilt))))
    write_frames_csv(path, frames, poses=poses)
    return frames, poses


def test_replay_of_a_file_with_poses_is_as_without(tmp_path: Path) -> None:
    posed, plain = tmp_path / "posed.csv", tmp_path / "plain.csv"
    frames, _ = _posed(posed)
    write_frames_csv(plain, frames)
    assert "x_mm" in posed.read_text() and "x_mm" not in plain.read_text()
    for options in (("--json",), ("--events", "--background-cps", "20")):
        with_poses = run_main("replay", str(posed), *options)
        without = run_main("replay", str(plain), *options)
        assert with_poses.returncode == without.returncode == 0, with_poses.stderr
        assert with_poses.stdout == without.stdout and with_poses.stdout
        assert with_poses.stderr == without.stderr
    events = run_main("replay", str(posed), "--events", "--background-cps", "20").stdout
    assert '"hot"' in events  # the node is found: the test compares real output


@pytest.mark.parametrize(("header", "row", "needle"), [
    ("t_s,live_s,counts,x_mm,y_mm,z_mm", "0.05,0.05,1,0,0,0",
     "line 2: pose columns come all six or none: has x_mm,y_mm,z_mm, missing ux,uy,uz"),
    (HEADER, "0.05,0.05,1,0.05,0,0,0,0.87,0,0",
     "line 3: ux,uy,uz must be a unit vector, got length 0.87"),
    (HEADER, "0.05,0.05,1,0.05,0,nan,0,0,0,1", "line 3: column y_mm must be finite"),
    (HEADER, "0.05,0.05,1,0.05,0,0,inf,0,0,1", "line 3: column z_mm must be finite"),
    (HEADER, "0.05,0.05,1,0.05,1,2,3,,,", "line 3: partly empty pose: column ux,uy,uz empty"),
])
def test_replay_of_a_bad_pose_is_one_line_and_status_2(tmp_path: Path, header: str, row: str,
                                                       needle: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(f"# pose test\n{header}\n{row}\n")
    done = run_main("replay", str(bad), "--json")
    assert done.returncode == 2 and done.stdout == "", done
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{bad}, {needle}" in lines[0], done.stderr


def test_repair_of_a_torn_posed_recording_keeps_the_poses(tmp_path: Path) -> None:
    whole = tmp_path / "whole.csv"
    _, poses = _posed(whole, n=40)
    lines = whole.read_text().splitlines(keepends=True)
    source = tmp_path / "rec.partial.csv"
    source.write_text("".join(lines[:1 + 25]) + lines[26][:30])  # header, 25 rows, torn row
    done = run_main("repair", str(source))
    assert done.returncode == 0, done.stderr
    table = read_frames_csv(tmp_path / "rec.csv")
    assert table.end == "repaired" and len(table) == 25
    assert table.position_mm is not None and table.axis is not None
    expected = [[math.nan] * 3 if p is None else list(p[0]) for p in poses[:25]]
    assert table.position_mm.tobytes() == np.array(expected).tobytes()
    expected_axes = [[math.nan] * 3 if p is None else list(p[1]) for p in poses[:25]]
    assert table.axis.tobytes() == np.array(expected_axes).tobytes()
