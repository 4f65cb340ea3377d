"""`probe-nav track calibrate` end to end (in-process): a poses file and the simulator give the
tip; a slipped tip is refused with nothing written; bad input is one line and exit 2."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

from probe_nav.simulator.tracking import matrices_to_quaternions, pivot_sweep
from tests.in_process import run_main


def write_poses(path: Path, shift_after: int | None = None) -> Path:
    sweep = pivot_sweep(n_poses=120, noise_mm=0.2, seed=7)
    positions = sweep.translations_mm.copy()
    if shift_after is not None:
        positions[shift_after:] += [5.0, 0.0, 0.0]
    q = matrices_to_quaternions(sweep.rotations)
    lines = ["# a pivot recording", "t_s,qw,qx,qy,qz,x_mm,y_mm,z_mm,quality"]
    lines += [",".join([f"{0.05 * i:g}", *(repr(float(v)) for v in q[i]),
                        *(repr(float(v)) for v in positions[i]), "ok"])
              for i in range(len(q))]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_poses_file_gives_the_tip_and_writes_it(tmp_path: Path) -> None:
    poses = write_poses(tmp_path / "pivot.csv")
    out = tmp_path / "tip.toml"
    run = run_main("track", "calibrate", str(poses), "--json", "--out", str(out))
    assert run.returncode == 0, run.stderr
    result = json.loads(run.stdout)
    truth = pivot_sweep(n_poses=1, seed=7).tip_mm
    assert np.linalg.norm(np.array(result["tip_mm"]) - truth) < 0.5
    assert result["poses"] == 120 and result["rms_mm"] < 1.0
    saved = tomllib.loads(out.read_text())["tip"]
    assert saved["offset_mm"] == pytest.approx(result["tip_mm"], abs=1e-3)
    again = run_main("track", "calibrate", str(poses), "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr


def test_the_simulator_prints_the_truth_beside_the_result() -> None:
    run = run_main("track", "calibrate", "--sim", "--seed", "3")
    assert run.returncode == 0, run.stderr
    assert "simulated truth" in run.stdout and "RMS residual" in run.stdout


def test_a_slipped_tip_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    poses = write_poses(tmp_path / "slipped.csv", shift_after=60)
    out = tmp_path / "tip.toml"
    run = run_main("track", "calibrate", str(poses), "--out", str(out))
    assert run.returncode == 1
    assert "calibration refused" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.parametrize(("text", "message"), [
    ("t_s,qw,qx,qy,qz,x_mm,y_mm\n", "lacks z_mm"),
    ("qw,qx,qy,qz,x_mm,y_mm,z_mm\n1,0,0,0,1,2\n", "6 values for 7 columns"),
    ("qw,qx,qy,qz,x_mm,y_mm,z_mm\n1,0,0,0,1,2,abc\n", "not a number"),
    ("qw,qx,qy,qz,x_mm,y_mm,z_mm\n1,0,0,0,1,2,nan\n", "not finite"),
    ("qw,qx,qy,qz,x_mm,y_mm,z_mm\n" + "1,0,0,0,1,2,3\n" * 2, "at least 4"),
    ("qw,qx,qy,qz,x_mm,y_mm,z_mm\n" + "2,0,0,0,1,2,3\n" * 5, "length is 2"),
    ("qw,qx,qy,qz,x_mm,y_mm,z_mm\n" + "1,0,0,0,1,2,3\n" * 5, "about two axes"),
    ("# only comments\n", "no header"),
])
def test_bad_poses_are_one_line_and_exit_2(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    run = run_main("track", "calibrate", str(path))
    assert run.returncode == 2, run.stderr
    assert message in run.stderr and len(run.stderr.strip().splitlines()) == 1


def test_bad_options_are_refused() -> None:
    assert run_main("track", "calibrate", "--sim", "--max-rms-mm", "0").returncode == 2
    assert run_main("track", "calibrate", "--sim", "--noise-mm", "-1").returncode == 2
    assert run_main("track", "calibrate").returncode == 2
