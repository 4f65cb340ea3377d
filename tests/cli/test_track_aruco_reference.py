"""`probe-nav track board --reference-board` and `track aruco --reference-board` (in-process):
the reference board prints with its own ids, the tracker's CSV gives the tip in the reference's
frame, and boards that share markers are one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.simulator.marker_camera import RenderOptions, render_boards
from probe_nav.simulator.marker_scene import (
    MOUNT_AXIS,
    MOUNT_TIP_MM,
    PROBE_BOARD,
    REFERENCE_BOARD,
    reference_scene,
)
from tests.in_process import run_main

CAMERA = CameraModel.from_fov(1280, 720, 65.0)
PROBE_ARGS = ["--markers", "4x3", "--marker-mm", "15", "--gap-mm", "3"]


def test_the_reference_board_prints_with_its_own_ids(tmp_path: Path) -> None:
    out = tmp_path / "ref.png"
    run = run_main("track", "board", "--reference-board", "--out", str(out))
    assert run.returncode == 0, run.stderr
    assert "ids 20-31" in run.stdout and "4x3 markers 15 mm" in run.stdout
    image = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    corners, ids, _ = cv2.aruco.ArucoDetector(REFERENCE_BOARD.aruco_dictionary).detectMarkers(
        image)
    assert sorted(np.asarray(ids).ravel().tolist()) == list(REFERENCE_BOARD.ids)
    # 15 mm at 300 dpi is 177.2 px; the detector reads a side of N black pixels as N - 1
    sides = np.concatenate([np.linalg.norm(np.roll(c.reshape(4, 2), -1, axis=0)
                                           - c.reshape(4, 2), axis=1) for c in corners]) + 1.0
    assert abs(sides.mean() - 15.0 * 300 / 25.4) <= 0.5
    probe = run_main("track", "board", "--out", str(tmp_path / "probe.png"))
    assert probe.returncode == 0 and "ids 0-5" in probe.stdout  # the probe's defaults unchanged


def test_track_aruco_gives_the_tip_in_the_reference_frame(tmp_path: Path) -> None:
    scene = reference_scene(np.random.default_rng(3), CAMERA)
    for k in range(5):
        image = render_boards([(REFERENCE_BOARD, scene.cam_from_ref),
                               (PROBE_BOARD, scene.cam_from_probe)], CAMERA,
                              RenderOptions(blur_sd_px=0.8, noise_sd=3.0), seed=k)
        cv2.imwrite(str(tmp_path / f"f{k:03d}.png"), image)
    (tmp_path / "cam.toml").write_text(CAMERA.to_toml())
    run = run_main("track", "aruco", "--camera", str(tmp_path / "f%03d.png"), "--intrinsics",
                   str(tmp_path / "cam.toml"), *PROBE_ARGS, "--reference-board",
                   "--tip-mm", ",".join(map(str, MOUNT_TIP_MM)),
                   "--axis", ",".join(map(str, MOUNT_AXIS)))
    assert run.returncode == 0, run.stderr
    assert "reference board's frame" in run.stderr
    lines = run.stdout.splitlines()
    header = lines[0].split(",")
    comments = [line for line in lines[1:] if line.startswith("#")]
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]
            if not line.startswith("#")]
    # the first two frames confirm the reference (three must agree), then poses
    assert len(comments) == 2 and all("reference board" in c for c in comments)
    assert len(rows) == 3
    truth_marker = scene.ref_from_probe
    for row in rows:
        tip = [float(row[k]) for k in ("tip_x_mm", "tip_y_mm", "tip_z_mm")]
        assert np.linalg.norm(np.subtract(tip, scene.tip_mm)) < 1.0
        assert abs(tip[2]) < 1.0  # the tip touches the skin: z = 0
        marker = [float(row[k]) for k in ("x_mm", "y_mm", "z_mm")]
        assert np.linalg.norm(np.subtract(marker, truth_marker[:3, 3])) < 1.0


@pytest.mark.parametrize(("args", "says"), [
    (["--ref-first-id", "5"], "share"),
    (["--ref-markers", "2y2"], "--ref-markers must be NxM"),
    (["--ref-hold-s", "0"], "--ref-hold-s must be"),
])
def test_bad_reference_arguments(tmp_path: Path, args: list[str], says: str) -> None:
    (tmp_path / "cam.toml").write_text(CAMERA.to_toml())
    run = run_main("track", "aruco", "--camera", str(tmp_path / "none%03d.png"),
                   "--intrinsics", str(tmp_path / "cam.toml"), *PROBE_ARGS,
                   "--reference-board", *args)
    assert run.returncode == 2
    assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr


def test_reference_options_without_the_reference_are_refused(tmp_path: Path) -> None:
    """--ref-first-id alone would be ignored silently: the user meant a reference board."""
    (tmp_path / "cam.toml").write_text(CAMERA.to_toml())
    run = run_main("track", "aruco", "--camera", str(tmp_path / "none%03d.png"),
                   "--intrinsics", str(tmp_path / "cam.toml"), "--ref-first-id", "30")
    assert run.returncode == 2
    assert "--ref-first-id needs --reference-board" in run.stderr, run.stderr
