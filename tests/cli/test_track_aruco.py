"""`probe-nav track board` and `probe-nav track aruco` (in-process): the printed board decodes
back at its true scale, the tracker's CSV carries the rendered poses, and bad arguments are one
line and exit 2."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard
from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.simulator.marker_camera import RenderOptions, random_board_pose, render_board
from tests.in_process import run_main

CAMERA = CameraModel.from_fov(1280, 720, 65.0)


def test_the_printed_board_decodes_back_at_true_scale(tmp_path: Path) -> None:
    out = tmp_path / "board.png"
    run = run_main("track", "board", "--out", str(out), "--dpi", "300", "--markers", "4x3",
                   "--marker-mm", "12", "--first-id", "7")
    assert run.returncode == 0, run.stderr
    assert "50 mm" in run.stdout
    image = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    board = MarkerBoard(markers_x=4, markers_y=3, marker_mm=12.0, gap_mm=2.4, first_id=7)
    detector = cv2.aruco.ArucoDetector(board.aruco_dictionary)
    corners, ids, _ = detector.detectMarkers(image)
    assert sorted(np.asarray(ids).ravel().tolist()) == list(board.ids)
    px_per_mm = 300 / 25.4
    sides = [np.linalg.norm(np.roll(c.reshape(4, 2), -1, axis=0) - c.reshape(4, 2), axis=1)
             for c in corners]
    # On a crisp print the detector puts corners on the centres of the outermost black pixels:
    # a side of N black pixels reads N - 1. 12 mm at 300 dpi is 141.7 px, so 141 or 142 black
    # pixels (rounding), read as 140-141; their mean, plus one, is the scale within 0.5 px.
    sides_px = np.concatenate(sides) + 1.0
    assert np.all(np.abs(sides_px - 12.0 * px_per_mm) <= 1.0), sides_px
    assert abs(sides_px.mean() - 12.0 * px_per_mm) <= 0.5
    # markers read in the board's order: id 7 top left, id 10 top right
    centre = {int(i): c.reshape(4, 2).mean(axis=0) for c, i in zip(corners, ids.ravel(),
                                                                   strict=True)}
    assert centre[7][0] < centre[10][0] and abs(centre[7][1] - centre[10][1]) < 1.0
    assert centre[7][1] < centre[11][1]  # the next row is lower on the page
    # the 50 mm check bar: the longest run of black along any row is 50 mm long
    runs = []
    for row in image < 128:
        padded = np.concatenate([[False], row, [False]])
        edges = np.flatnonzero(np.diff(padded.astype(int)))
        runs.append(int(np.max(edges[1::2] - edges[::2])) if len(edges) else 0)
    assert abs(max(runs) - 50.0 * px_per_mm) <= 2.0  # pixels (1 px rounding at each end)
    # the PNG says 300 dpi (pHYs: pixels per metre) so that printing is at true scale
    data = out.read_bytes()
    at = data.index(b"pHYs")
    assert int.from_bytes(data[at + 4:at + 8], "big") == round(300 / 25.4 * 1000)
    again = run_main("track", "board", "--out", str(out))
    assert again.returncode == 2 and "--force" in again.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["--markers", "3y2"], "--markers must be NxM"),
    (["--markers", "1x1"], "at least 2 markers"),
    (["--marker-mm", "-3"], "marker_mm must be"),
    (["--gap-mm", "0.1"], "gap_mm 0.1 is too small"),
    (["--dictionary", "DICT_9X9"], "unknown ArUco dictionary"),
    (["--first-id", "48"], "do not fit DICT_4X4_50"),
    (["--dpi", "10"], "dpi must be 72-2400"),
])
def test_bad_board_arguments(tmp_path: Path, args: list[str], says: str) -> None:
    run = run_main("track", "board", "--out", str(tmp_path / "b.png"), *args)
    assert run.returncode == 2
    assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert not (tmp_path / "b.png").exists()


def _frames(tmp_path: Path, n: int) -> tuple[str, list[np.ndarray]]:
    board = MarkerBoard(markers_x=4, markers_y=3, marker_mm=15.0, gap_mm=3.0)
    rng = np.random.default_rng(11)
    poses = [random_board_pose(rng, CAMERA, (250.0, 400.0), 30.0) for _ in range(n)]
    for k, pose in enumerate(poses):
        image = render_board(board, CAMERA, pose, RenderOptions(blur_sd_px=0.8, noise_sd=3.0),
                             seed=k)
        if k == 1:
            image[:] = 128  # the board out of view
        cv2.imwrite(str(tmp_path / f"f{k:03d}.png"), image)
    (tmp_path / "cam.toml").write_text(CAMERA.to_toml())
    return str(tmp_path / "f%03d.png"), poses


def test_track_aruco_prints_the_poses_as_csv(tmp_path: Path) -> None:
    pattern, poses = _frames(tmp_path, 4)
    run = run_main("track", "aruco", "--camera", pattern, "--intrinsics",
                   str(tmp_path / "cam.toml"), "--markers", "4x3", "--marker-mm", "15",
                   "--gap-mm", "3", "--tip-mm", "0,-120,0", "--axis", "0,-1,0")
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    header = lines[0].split(",")
    assert header[:8] == ["t_s", "qw", "qx", "qy", "qz", "x_mm", "y_mm", "z_mm"]
    rows = [line.split(",") for line in lines[1:] if not line.startswith("#")]
    assert len(rows) == 3 and sum(line.startswith("#") for line in lines) == 1
    for row, pose in zip(rows, [poses[0], poses[2], poses[3]], strict=True):
        values = dict(zip(header, row, strict=True))
        truth = PoseSample.from_matrix(pose, 0.0, (0.0, -120.0, 0.0), (0.0, -1.0, 0.0))
        tip = [float(values[k]) for k in ("tip_x_mm", "tip_y_mm", "tip_z_mm")]
        assert np.linalg.norm(np.subtract(tip, truth.position_mm)) < 1.0
        marker = [float(values[k]) for k in ("x_mm", "y_mm", "z_mm")]
        assert np.linalg.norm(np.subtract(marker, pose[:3, 3])) < 1.0
        q = np.array([float(values[k]) for k in ("qw", "qx", "qy", "qz")])
        assert abs(np.linalg.norm(q) - 1.0) < 1e-5  # what `track calibrate` checks
    assert "4 frames, 1 without a pose" in run.stderr


@pytest.mark.parametrize(("args", "says"), [
    (["--tip-mm", "1,2"], "--tip-mm must be three numbers"),
    (["--axis", "0,0,0"], "--axis must not be zero"),
    (["--seconds", "0"], "--seconds must be a positive"),
    (["--latency-ms", "-1"], "--latency-ms must be 0-5000"),
    (["--intrinsics", "MISSING"], "cannot read"),
    (["--camera", "NOWHERE.avi"], "cannot open camera"),
])
def test_bad_aruco_arguments(tmp_path: Path, args: list[str], says: str) -> None:
    (tmp_path / "cam.toml").write_text(CAMERA.to_toml())
    base = {"--camera": str(tmp_path / "none%03d.png"), "--intrinsics": str(tmp_path / "cam.toml")}
    for key, value in zip(args[::2], args[1::2], strict=True):
        base[key] = str(tmp_path / value) if value.isupper() else value
    run = run_main("track", "aruco", *[x for kv in base.items() for x in kv])
    assert run.returncode == 2
    assert says in run.stderr and len(run.stderr.strip().splitlines()) == 1, run.stderr
