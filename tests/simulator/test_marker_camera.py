"""The synthetic marker camera (probe_nav.simulator.marker_camera): the board is drawn where the
camera model projects it (with and without lens distortion), only its printed face is seen, the
pattern is the board's, and a seed fixes the noise."""

from __future__ import annotations

import cv2
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.drivers.tracking.aruco import detect_board
from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard
from probe_nav.simulator.marker_camera import (
    BACKGROUND,
    RenderOptions,
    board_pose,
    random_board_pose,
    render_board,
)

CAMERA = CameraModel.from_fov(1280, 720, 65.0)
BOARD = MarkerBoard()


def _project(points: np.ndarray, pose: np.ndarray, camera: CameraModel = CAMERA) -> np.ndarray:
    rvec, _ = cv2.Rodrigues(pose[:3, :3])
    img, _ = cv2.projectPoints(points.reshape(-1, 3).astype(float), rvec, pose[:3, 3],
                               camera.matrix, camera.dist_coeffs)
    return img.reshape(-1, 2)


def test_a_seed_fixes_the_image_and_noise_changes_with_it() -> None:
    pose = board_pose(300.0, 20.0, 30.0, 10.0)
    noisy = RenderOptions(noise_sd=4.0, blur_sd_px=0.8)
    a = render_board(BOARD, CAMERA, pose, noisy, seed=3)
    assert a.shape == (720, 1280) and a.dtype == np.uint8
    assert np.array_equal(a, render_board(BOARD, CAMERA, pose, noisy, seed=3))
    assert not np.array_equal(a, render_board(BOARD, CAMERA, pose, noisy, seed=4))
    clean = render_board(BOARD, CAMERA, pose)
    assert np.array_equal(clean, render_board(BOARD, CAMERA, pose, seed=9))  # no noise: no seed
    # noise sd 4 grey levels on the flat background (the blur does not change a flat area)
    corner = a[:100, :100].astype(float)
    assert abs(corner.mean() - BACKGROUND) < 0.5  # 10^4 pixels: sd of the mean 0.04
    assert 3.6 < corner.std() < 4.4  # rounding adds 1/12 to the variance; sd's sd ~0.03


def test_off_the_card_and_behind_it_is_background() -> None:
    image = render_board(BOARD, CAMERA, board_pose(300.0))
    w, h = BOARD.card_mm
    corners = _project(np.array([[sx * (w / 2 + 2.0), sy * (h / 2 + 2.0), 0.0]
                                 for sx in (-1, 1) for sy in (-1, 1)]), board_pose(300.0))
    for u, v in np.rint(corners).astype(int):  # 2 mm outside the card's corners
        assert image[v, u] == round(BACKGROUND)
    turned = board_pose(300.0, tilt_deg=120.0)  # printed face away from the camera
    assert np.all(render_board(BOARD, CAMERA, turned) == round(BACKGROUND))


@settings(max_examples=25, deadline=None)
@given(distance=st.floats(150.0, 450.0), tilt=st.floats(0.0, 50.0),
       azimuth=st.floats(0.0, 360.0), roll=st.floats(-180.0, 180.0),
       distorted=st.booleans())
def test_the_pattern_is_drawn_where_the_camera_projects_it(distance: float, tilt: float,
                                                           azimuth: float, roll: float,
                                                           distorted: bool) -> None:
    """Every cell centre of every marker, projected by OpenCV, lands on a pixel of the cell's
    colour: the renderer's ray casting and projectPoints agree (with lens distortion too)."""
    camera = (CameraModel(CAMERA.fx, CAMERA.fy, CAMERA.cx, CAMERA.cy, (-0.12, 0.05, 0.001,
                                                                         -0.001, 0.0), 1280, 720)
              if distorted else CAMERA)
    pose = board_pose(distance, tilt, azimuth, roll, (15.0, -10.0))
    image = render_board(BOARD, camera, pose, RenderOptions(supersample=2))
    cells = BOARD.aruco_dictionary.markerSize + 2
    cell_mm = BOARD.marker_mm / cells
    centres = []
    for corners in BOARD.object_points():
        top_left = corners[0]
        for r in range(cells):
            for c in range(cells):
                step = np.array([(c + 0.5) * cell_mm, -(r + 0.5) * cell_mm, 0.0])
                centres.append(top_left + step)
    centres_mm = np.array(centres)
    expected = BOARD.reflectance(centres_mm[:, 0], centres_mm[:, 1])
    pixels = np.rint(_project(centres_mm, pose, camera)).astype(int)
    seen = image[pixels[:, 1], pixels[:, 0]].astype(float)
    # A cell is >= 3 px across here (1.67 mm at <= 450 mm, fx 1005, foreshortened by <= 50
    # degrees), so the pixel under its centre lies wholly inside it: pure ink or paper.
    mid = (220.0 + 25.0) / 2
    assert np.array_equal(seen > mid, expected > 0.5)


@settings(max_examples=30, deadline=None)
@given(mx=st.integers(1, 6), my=st.integers(1, 6), marker=st.floats(5.0, 40.0),
       gap_fraction=st.floats(0.1, 1.0), first=st.integers(0, 10))
def test_board_geometry(mx: int, my: int, marker: float, gap_fraction: float,
                        first: int) -> None:
    """Object points: squares of the marker's side, a pitch of side + gap, centred on the
    origin, corners in ArUco's order; the pattern has a black border at every marker's edge and
    white in the gaps."""
    if mx * my < 2:
        return
    board = MarkerBoard("DICT_4X4_50", mx, my, marker, gap_fraction * marker, first)
    pts = board.object_points()
    assert pts.shape == (mx * my, 4, 3) and np.all(pts[..., 2] == 0)
    sides = np.linalg.norm(np.roll(pts, -1, axis=1) - pts, axis=2)
    np.testing.assert_allclose(sides, marker, rtol=1e-12)
    # top left, top right, bottom right, bottom left with y up: clockwise seen from +z (the
    # printed face), so the shoelace area is negative
    x, y = pts[..., 0], pts[..., 1]
    area = 0.5 * np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1)
    np.testing.assert_allclose(area, -marker * marker, rtol=1e-9)
    np.testing.assert_allclose(pts.reshape(-1, 3).mean(axis=0), 0.0, atol=1e-9)
    if mx > 1:
        np.testing.assert_allclose(pts[1, 0, 0] - pts[0, 0, 0], marker + board.gap_mm)
    inset = marker / (board.aruco_dictionary.markerSize + 2) / 2  # half a cell inside
    centre = pts.mean(axis=1, keepdims=True)
    inner = pts + (centre - pts) * (inset * np.sqrt(2) / np.linalg.norm(centre - pts, axis=2,
                                                                        keepdims=True))
    assert np.all(board.reflectance(inner[..., 0], inner[..., 1]) == 0.0)  # black border
    outside = pts + (pts - centre) * (0.05 * board.gap_mm * np.sqrt(2) / np.linalg.norm(
        pts - centre, axis=2, keepdims=True))
    assert np.all(board.reflectance(outside[..., 0], outside[..., 1]) == 1.0)  # quiet zone
    assert np.isnan(board.reflectance(np.array([board.card_mm[0] / 2 + 0.1]), np.array([0.0])))[0]


def test_distorted_marker_corners_land_where_opencv_projects_them() -> None:
    """The tracker's corners in a render with lens distortion agree with projectPoints
    (distortion included) to a fraction of a pixel: the per-pixel undistortion is right."""
    camera = CameraModel(CAMERA.fx, CAMERA.fy, CAMERA.cx, CAMERA.cy,
                         (-0.25, 0.08, 0.0, 0.0, 0.0), 1280, 720)
    pose = board_pose(250.0, 15.0, 40.0, 20.0, (60.0, 40.0))  # off axis: distortion matters
    image = render_board(BOARD, camera, pose)
    obj, found = detect_board(image, BOARD, camera)
    assert len(obj) == 4 * BOARD.n_markers
    err = np.linalg.norm(found - _project(obj, pose, camera), axis=1)
    assert err.max() < 0.3, err.max()
    # and distortion moved them by much more than that, so the check has teeth
    assert np.linalg.norm(found - _project(obj, pose, CAMERA), axis=1).mean() > 3.0


def test_random_poses_stay_in_range() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        pose = random_board_pose(rng, CAMERA, (200.0, 500.0), 45.0)
        assert 200.0 <= pose[2, 3] <= 500.0
        tilt_deg = np.degrees(np.arccos(-pose[2, 2]))  # board normal against the optical axis
        assert tilt_deg <= 45.0 + 1e-9
        np.testing.assert_allclose(pose[:3, :3] @ pose[:3, :3].T, np.eye(3), atol=1e-12)
