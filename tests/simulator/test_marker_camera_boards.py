"""Two boards in one synthetic camera frame (render_boards): the nearer card hides the farther
one whatever the order they are given in, apart boards render as each alone, and the scene
generator's poses put both printed faces in view."""

from __future__ import annotations

import numpy as np

from probe_nav.drivers.tracking.aruco import marker_poses
from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard
from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.simulator.marker_camera import board_pose, render_board, render_boards
from probe_nav.simulator.marker_scene import (
    MOUNT_AXIS,
    MOUNT_TIP_MM,
    PROBE_BOARD,
    REFERENCE_BOARD,
    reference_scene,
)

CAMERA = CameraModel.from_fov(640, 480, 65.0)
NEAR = MarkerBoard(markers_x=2, markers_y=2, marker_mm=12.0, gap_mm=3.0)
FAR = MarkerBoard(markers_x=4, markers_y=3, marker_mm=15.0, gap_mm=3.0, first_id=20)


def test_the_nearer_card_hides_the_farther_one() -> None:
    near, far = board_pose(250.0, 10.0, 30.0, 5.0), board_pose(320.0, 20.0, 100.0, -10.0)
    image = render_boards([(FAR, far), (NEAR, near)], CAMERA)
    assert np.array_equal(image, render_boards([(NEAR, near), (FAR, far)], CAMERA))
    alone = render_board(NEAR, CAMERA, near)
    # inside the near card's projection (its pattern differs from the background there) the
    # image is the near card alone
    centre = alone != round(128.0)
    inner = centre & np.roll(centre, 3, 0) & np.roll(centre, -3, 0) & np.roll(centre, 3, 1) \
        & np.roll(centre, -3, 1)
    assert inner.sum() > 1000
    assert np.array_equal(image[inner], alone[inner])
    # and the far board is there elsewhere: both decode
    found_near, found_far = marker_poses(image, (NEAR, FAR), CAMERA)
    assert found_near is not None and found_near.n_markers == 4
    assert found_far is not None


def test_boards_apart_render_as_each_alone() -> None:
    left, right = board_pose(300.0, offset_xy_mm=(-80.0, 0.0)), board_pose(
        300.0, offset_xy_mm=(80.0, 0.0))
    both = render_boards([(NEAR, left), (FAR, right)], CAMERA)
    a, b = render_board(NEAR, CAMERA, left), render_board(FAR, CAMERA, right)
    np.testing.assert_array_equal(both, np.where(a != round(128.0), a, b))


def test_scenes_show_both_faces() -> None:
    camera = CameraModel.from_fov(1280, 720, 65.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        scene = reference_scene(rng, camera)
        for pose in (scene.cam_from_ref, scene.cam_from_probe):
            to_camera = -pose[:3, 3] / np.linalg.norm(pose[:3, 3])
            assert pose[:3, 2] @ to_camera > np.cos(np.radians(60.0))
        middle = (scene.cam_from_ref[:3, 3] + scene.cam_from_probe[:3, 3]) / 2
        assert 300.0 - 1e-6 <= np.linalg.norm(middle) <= 500.0 + 1e-6  # the camera's distance
        assert scene.tip_mm[2] == 0.0 and scene.axis[2] < -np.cos(np.radians(30.0)) + 1e-9
        # the mount puts the stated tip and axis where the probe's board pose says
        tip = PoseSample.from_matrix(scene.ref_from_probe, 0.0, MOUNT_TIP_MM, MOUNT_AXIS)
        np.testing.assert_allclose(tip.position_mm, scene.tip_mm, atol=1e-9)
        np.testing.assert_allclose(tip.axis, scene.axis, atol=1e-12)
        np.testing.assert_allclose(np.linalg.inv(scene.cam_from_ref) @ scene.cam_from_probe,
                                   scene.ref_from_probe)
    assert PROBE_BOARD.ids[-1] < REFERENCE_BOARD.ids[0]
