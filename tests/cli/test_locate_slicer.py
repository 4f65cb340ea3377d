"""`probe-nav locate --nrrd/--slicer`: the image written as NRRD and sent, with the spots, to an
OpenIGTLink server (a bare peer standing in for 3D Slicer); an unreachable Slicer; bad options."""

from __future__ import annotations

import json
from pathlib import Path

import nrrd
import numpy as np
import pytest

from probe_nav.io.frames_csv import write_frames_csv
from probe_nav.simulator.physics import PointSource
from probe_nav.simulator.sweeps import freehand_sweep, node_scenario
from tests.in_process import run_main
from tests.tracking.igtl_peer import RawPeer, wait_for


@pytest.fixture(scope="module")
def sweep_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 20 s sweep over a strong shallow node (the plumbing is under test, not accuracy)."""
    node = PointSource("node", (6.0, -4.0, -12.0), 0.040)
    sweep = freehand_sweep(node_scenario((node,)), 20.0, seed=4)
    path = tmp_path_factory.mktemp("locate-slicer") / "sweep.csv"
    write_frames_csv(path, sweep.frames, poses=sweep.poses)
    return path


@pytest.fixture
def probe_toml(tmp_path: Path) -> Path:
    path = tmp_path / "probe.toml"
    path.write_text('[probe]\npreset = "cdte-14"\n', encoding="utf-8")
    return path


@pytest.mark.slow
@pytest.mark.xdist_group("locate-slicer")  # one worker builds the sweep for both
def test_nrrd_and_slicer_get_the_image_and_the_spots(sweep_csv: Path, probe_toml: Path,
                                                     tmp_path: Path) -> None:
    peer = RawPeer()
    out = tmp_path / "activity.nrrd"
    try:
        done = run_main("locate", str(sweep_csv), "--probe", str(probe_toml), "--json",
                        "--voxel-mm", "4", "--nrrd", str(out), "--slicer",
                        f"127.0.0.1:{peer.port}")
        assert done.returncode == 0, done.stderr
        spots = json.loads(done.stdout.strip().splitlines()[-1])["spots"]
        assert wait_for(lambda: len(peer.messages()) == 2)
        kinds = {e.header.message_type: e for e in peer.messages()}
    finally:
        peer.close()
    assert set(kinds) == {"IMAGE", "POINT"}
    assert all(e.kind == "message" for e in kinds.values())
    points = kinds["POINT"].message
    assert len(points.positions) == len(spots) >= 1
    assert np.allclose(points.positions[0], [spots[0][k] for k in ("x_mm", "y_mm", "z_mm")],
                       atol=1e-4)
    data, header = nrrd.read(str(out), index_order="F")
    sent = kinds["IMAGE"].message
    assert np.array_equal(sent.image.transpose(2, 1, 0), data)  # the same volume ...
    assert np.allclose(sent.ijk_to_world_matrix[:3, 3], header["space origin"], atol=1e-4)
    assert np.allclose(sent.ijk_to_world_matrix[:3, :3], header["space directions"].T)


@pytest.mark.slow
@pytest.mark.xdist_group("locate-slicer")
def test_an_unreachable_slicer_is_one_line_and_exit_1(sweep_csv: Path,
                                                      probe_toml: Path) -> None:
    peer = RawPeer()
    port = peer.port
    peer.close()
    done = run_main("locate", str(sweep_csv), "--probe", str(probe_toml), "--json",
                    "--voxel-mm", "4", "--slicer", f"127.0.0.1:{port}")
    assert done.returncode == 1
    assert "spots" in json.loads(done.stdout.strip().splitlines()[-1])  # still printed
    assert done.stderr.count("\n") == 1 and "3D Slicer" in done.stderr, done.stderr


@pytest.mark.parametrize(("option", "value", "words"), [
    ("--slicer", "localhost", "HOST:PORT"),
    ("--slicer", "localhost:99999", "HOST:PORT"),
    ("--slicer", ":18944", "HOST:PORT"),
    ("--nrrd", "activity.nii", ".nrrd"),
    ("--nrrd", "no/such/folder/a.nrrd", "folder"),
])
def test_bad_options_are_one_line_and_exit_2(probe_toml: Path, tmp_path: Path, option: str,
                                             value: str, words: str) -> None:
    """Refused before the sweep is read (it need not exist) or anything is computed."""
    if option == "--nrrd":
        value = str(tmp_path / value)
    done = run_main("locate", str(tmp_path / "sweep.csv"), "--probe", str(probe_toml), option,
                    value)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and words in done.stderr, done.stderr


def test_an_existing_nrrd_needs_force(probe_toml: Path, tmp_path: Path) -> None:
    out = tmp_path / "activity.nrrd"
    out.write_bytes(b"earlier")
    done = run_main("locate", str(tmp_path / "sweep.csv"), "--probe", str(probe_toml),
                    "--nrrd", str(out))
    assert done.returncode == 2 and "--force" in done.stderr
    assert out.read_bytes() == b"earlier"
