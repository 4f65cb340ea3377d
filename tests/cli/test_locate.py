"""`probe-nav locate`: a simulated sweep written as a frame CSV with poses, found from the command
line; and its refusals (one line, exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from probe_nav.io.frames_csv import write_frames_csv
from probe_nav.simulator.physics import PointSource
from probe_nav.simulator.sweeps import freehand_sweep, node_scenario
from tests.in_process import run_main

PROBE_TOML = '[probe]\npreset = "cdte-14"\n'


@pytest.fixture(scope="module")
def sweep_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 30 s sweep over a 40 kBq node 12 mm deep (a strong, shallow node: the CLI's plumbing
    is under test here, the accuracy in tests/navigation/test_localise.py)."""
    node = PointSource("node", (6.0, -4.0, -12.0), 0.040)
    sweep = freehand_sweep(node_scenario((node,)), 30.0, seed=4)
    path = tmp_path_factory.mktemp("locate") / "sweep.csv"
    write_frames_csv(path, sweep.frames, poses=sweep.poses)
    return path


@pytest.fixture
def probe_toml(tmp_path: Path) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text(PROBE_TOML, encoding="utf-8")
    return path


@pytest.mark.slow
def test_locate_json_finds_the_node(sweep_csv: Path, probe_toml: Path) -> None:
    done = run_main("locate", str(sweep_csv), "--probe", str(probe_toml), "--json",
                    "--voxel-mm", "4")
    assert done.returncode == 0, done.stderr
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(last) >= {"spots", "background_cps"}
    spots = last["spots"]
    assert spots and set(spots[0]) == {"x_mm", "y_mm", "z_mm", "sd_mm", "relative_activity",
                                       "swept_around"}
    assert spots[0]["relative_activity"] == 1.0 and spots[0]["swept_around"] is True
    error = np.linalg.norm([spots[0]["x_mm"] - 6.0, spots[0]["y_mm"] + 4.0,
                            spots[0]["z_mm"] + 12.0])
    assert error < 5.0, spots
    assert 15.0 < last["background_cps"] < 25.0  # 5 + 15 cps simulated


def test_a_file_without_pose_columns_is_refused(tmp_path: Path, probe_toml: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("t_s,live_s,counts\n0.05,0.05,1\n# end: complete, 1 frames\n",
                     encoding="utf-8")
    done = run_main("locate", str(plain), "--probe", str(probe_toml))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no pose columns" in done.stderr


def test_no_frames_is_refused(tmp_path: Path, probe_toml: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("t_s,live_s,counts,x_mm,y_mm,z_mm,ux,uy,uz\n"
                     "0.05,0.05,1,,,,,,\n# end: complete, 1 frames\n", encoding="utf-8")
    done = run_main("locate", str(empty), "--probe", str(probe_toml))
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "no frames with a pose" in done.stderr


@pytest.mark.parametrize(("text", "message"), [
    ("[probe]\nangular_fwhm_deg = 'wide'\n", "probe.angular_fwhm_deg must be a number"),
    ("[probe]\nbogus = 1\n", "unknown key(s) bogus"),
    ("probe = 3\n", "no [probe] table"),
    ("[probe\n", "not a TOML file"),
    ('nuclide = "Xx-1"\n[probe]\n', "Xx-1"),
])
def test_a_bad_probe_file_is_refused(tmp_path: Path, text: str, message: str) -> None:
    probe = tmp_path / "probe.toml"
    probe.write_text(text, encoding="utf-8")
    frames = tmp_path / "f.csv"
    frames.write_text("t_s,live_s,counts,x_mm,y_mm,z_mm,ux,uy,uz\n"
                      "0.05,0.05,1,0,0,0,0,0,-1\n# end: complete, 1 frames\n", encoding="utf-8")
    done = run_main("locate", str(frames), "--probe", str(probe))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and message in done.stderr, done.stderr


@pytest.mark.parametrize("args", [["--voxel-mm", "0"], ["--background-cps", "-1"],
                                  ["--voxel-mm", "nan"]])
def test_bad_options_are_refused(tmp_path: Path, probe_toml: Path, args: list[str]) -> None:
    done = run_main("locate", str(tmp_path / "x.csv"), "--probe", str(probe_toml), *args)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
