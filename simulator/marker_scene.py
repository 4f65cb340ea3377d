"""Scenes for the ArUco tracker with a reference board: a camera on a stand over the patient, a
reference board flat on the skin, the probe's board on its handle, at known poses.

The reference board's frame is the patient's (skin z = 0, tissue z < 0). The probe's board sits
on a bracket: the probe's axis in the board's frame is MOUNT_AXIS (45 degrees out of the board's
plane, so that a camera above sees the board's face while the probe points down into tissue) and
the tip is MOUNT_TIP_MM, 150 mm from the board's centre along it. `reference_scene` draws a random
scene in which the camera sees both boards' printed faces, the cards wholly in the image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard
from probe_nav.drivers.tracking.pose import Vec3

_S = math.sqrt(0.5)
MOUNT_AXIS: Vec3 = (0.0, -_S, -_S)  # the probe's axis in its board's frame (a 45 degree bracket)
MOUNT_TIP_MM: Vec3 = (0.0, -150.0 * _S, -150.0 * _S)  # the tip, 150 mm along the axis
# The default boards: the probe's 4x3 of 15 mm (ids 0-11) and a reference 4x3 of 15 mm (ids
# 20-31), both of DICT_4X4_50, as `probe-nav track board [--reference-board]` prints them.
PROBE_BOARD = MarkerBoard(markers_x=4, markers_y=3, marker_mm=15.0, gap_mm=3.0)
REFERENCE_BOARD = MarkerBoard(markers_x=4, markers_y=3, marker_mm=15.0, gap_mm=3.0, first_id=20)
MAX_VIEW_DEG = 60.0  # a board's normal within this of the line to the camera


@dataclass(frozen=True)
class ReferenceScene:
    """Both boards' poses in the camera's frame (4x4, mm) and the probe in the reference's."""

    cam_from_ref: np.ndarray
    cam_from_probe: np.ndarray
    tip_mm: Vec3  # the probe's tip, reference frame
    axis: Vec3  # the unit axis out of the tip, reference frame

    @property
    def ref_from_probe(self) -> np.ndarray:
        """The probe's board in the reference's frame (the quantity the tracker recovers)."""
        return np.linalg.inv(self.cam_from_ref) @ self.cam_from_probe


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def look_at(eye_mm: np.ndarray, target_mm: np.ndarray, roll_deg: float = 0.0) -> np.ndarray:
    """The world-to-camera 4x4 of a camera at eye_mm looking at target_mm (OpenCV axes: z along
    the view, y down the image), rolled about its view axis."""
    z = _unit(np.asarray(target_mm, float) - np.asarray(eye_mm, float))
    helper = np.array([0.0, 1.0, 0.0]) if abs(z[1]) < 0.9 else np.array([1.0, 0.0, 0.0])
    x = _unit(np.cross(helper, z))
    y = np.cross(z, x)
    roll, _ = cv2.Rodrigues(z * math.radians(roll_deg))
    world_to_cam = np.eye(4)
    world_to_cam[:3, :3] = (roll @ np.stack([x, y, z], axis=1)).T
    world_to_cam[:3, 3] = -world_to_cam[:3, :3] @ np.asarray(eye_mm, float)
    return world_to_cam


def probe_pose(tip_mm: np.ndarray, axis: np.ndarray, towards_mm: np.ndarray,
               mount_axis: Vec3 = MOUNT_AXIS, mount_tip_mm: Vec3 = MOUNT_TIP_MM,
               roll_deg: float = 0.0) -> np.ndarray:
    """The probe's board-to-world 4x4 for a tip and axis, turned about the axis so that its face
    looks most towards the point `towards_mm` (a camera), then by roll_deg more."""
    axis = _unit(np.asarray(axis, float))
    u = _unit(np.asarray(mount_axis, float))
    # any rotation taking the board's u onto the world's axis ...
    r0 = _align(u, axis)
    # ... turned about the axis: the board's normal r e_z swept round, the best facing kept
    to_cam = np.asarray(towards_mm, float) - np.asarray(tip_mm, float)
    angles = np.radians(np.arange(0.0, 360.0, 1.0))
    normals = [cv2.Rodrigues(axis * a)[0] @ r0[:, 2] for a in angles]
    best = float(angles[int(np.argmax([n @ to_cam for n in normals]))])
    rot = cv2.Rodrigues(axis * (best + math.radians(roll_deg)))[0] @ r0
    m = np.eye(4)
    m[:3, :3] = rot
    m[:3, 3] = np.asarray(tip_mm, float) - rot @ np.asarray(mount_tip_mm, float)
    return m


def _align(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """A rotation taking unit a onto unit b."""
    v, c = np.cross(a, b), float(a @ b)
    if np.linalg.norm(v) < 1e-12:
        if c > 0:
            return np.eye(3)
        other = _unit(np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0]))
        return cv2.Rodrigues(other * math.pi)[0]
    return cv2.Rodrigues(_unit(v) * math.atan2(float(np.linalg.norm(v)), c))[0]


def _faces(board: MarkerBoard, cam_from_board: np.ndarray, camera: CameraModel) -> bool:
    """The board's printed face towards the camera within MAX_VIEW_DEG and its card wholly
    inside the image with a 10 px margin."""
    rot, t = cam_from_board[:3, :3], cam_from_board[:3, 3]
    if -(rot[:, 2] @ _unit(t)) < math.cos(math.radians(MAX_VIEW_DEG)):
        return False
    w, h = board.card_mm
    corners = np.array([[sx * w / 2, sy * h / 2, 0.0] for sx in (-1, 1) for sy in (-1, 1)])
    cam = corners @ rot.T + t
    if np.any(cam[:, 2] <= 1.0):
        return False
    u = camera.fx * cam[:, 0] / cam[:, 2] + camera.cx
    v = camera.fy * cam[:, 1] / cam[:, 2] + camera.cy
    width, height = camera.width or 0, camera.height or 0
    return bool(np.all((u > 10) & (u < width - 10) & (v > 10) & (v < height - 10)))


def reference_scene(rng: np.random.Generator, camera: CameraModel,
                    distance_mm: tuple[float, float] = (300.0, 500.0),
                    max_camera_tilt_deg: float = 35.0, max_probe_tilt_deg: float = 30.0,
                    tip_z_mm: tuple[float, float] = (0.0, 0.0),
                    tip_from_ref_mm: tuple[float, float] = (70.0, 120.0),
                    probe: MarkerBoard = PROBE_BOARD, reference: MarkerBoard = REFERENCE_BOARD,
                    tries: int = 200) -> ReferenceScene:
    """A random scene: the tip tip_from_ref_mm from the reference's centre (any direction) at a
    height in tip_z_mm (0: touching the skin), the probe tilted up to max_probe_tilt_deg from
    straight down, the camera distance_mm from the middle of the two boards, its view up to
    max_camera_tilt_deg from the skin's normal, any roll. Redrawn until the camera sees both
    faces, whole (ValueError after `tries`)."""
    for _ in range(tries):
        bearing = rng.uniform(0.0, 2 * math.pi)
        reach = rng.uniform(*tip_from_ref_mm)
        tip = np.array([reach * math.cos(bearing), reach * math.sin(bearing),
                        rng.uniform(*tip_z_mm)])
        tilt = math.acos(rng.uniform(math.cos(math.radians(max_probe_tilt_deg)), 1.0))
        az = rng.uniform(0.0, 2 * math.pi)
        axis = np.array([math.sin(tilt) * math.cos(az), math.sin(tilt) * math.sin(az),
                         -math.cos(tilt)])
        # the probe board's centre (the tip is 150 mm from it along the axis: MOUNT_TIP_MM);
        # the camera looks at the middle between it and the reference's centre, the origin
        target = (tip - 150.0 * axis) / 2
        cam_tilt = math.acos(rng.uniform(math.cos(math.radians(max_camera_tilt_deg)), 1.0))
        cam_az = rng.uniform(0.0, 2 * math.pi)
        view = np.array([math.sin(cam_tilt) * math.cos(cam_az),
                         math.sin(cam_tilt) * math.sin(cam_az), math.cos(cam_tilt)])
        eye = target + rng.uniform(*distance_mm) * view
        cam_from_world = look_at(eye, target, rng.uniform(-180.0, 180.0))
        world_from_probe = probe_pose(tip, axis, eye, roll_deg=rng.uniform(-20.0, 20.0))
        cam_from_probe = cam_from_world @ world_from_probe
        if _faces(reference, cam_from_world, camera) and _faces(probe, cam_from_probe, camera):
            return ReferenceScene(cam_from_world, cam_from_probe,
                                  (float(tip[0]), float(tip[1]), float(tip[2])),
                                  (float(axis[0]), float(axis[1]), float(axis[2])))
    raise ValueError(f"no scene with both boards in view in {tries} tries")
