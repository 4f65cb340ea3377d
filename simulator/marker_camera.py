"""Synthetic camera frames of a marker board at a known pose, to test the ArUco tracker.

Every pixel is integrated over `supersample` x `supersample` points: each point's ray (through
the camera model, lens distortion included by undistorting the sample points) is intersected with
the board's plane and the printed pattern read there (MarkerBoard.reflectance), so the geometry is
exact and edges are anti-aliased as a sensor's pixels integrate light. Off the card (or behind it)
is a grey background. Optional optical blur (Gaussian, sd in pixels) and sensor noise (Gaussian,
sd in grey levels) with a fixed seed: the same call gives the same image.

The pose is the BOARD's frame in the CAMERA's frame (4x4, mm; camera x right, y down, z forward,
OpenCV's convention), the quantity the tracker recovers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard

WHITE, BLACK, BACKGROUND = 220.0, 25.0, 128.0  # grey levels: paper, ink, the room


@dataclass(frozen=True)
class RenderOptions:
    """How a frame is made: supersampling, blur, noise and the grey levels."""

    supersample: int = 4  # n x n points per pixel
    blur_sd_px: float = 0.0
    noise_sd: float = 0.0
    white: float = WHITE
    black: float = BLACK
    background: float = BACKGROUND


def _rotation(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Rodrigues' rotation matrix about a unit axis."""
    rot, _ = cv2.Rodrigues(np.asarray(axis, float) * angle_rad)
    return rot


def board_pose(distance_mm: float, tilt_deg: float = 0.0, tilt_azimuth_deg: float = 0.0,
               roll_deg: float = 0.0, offset_xy_mm: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """A board facing the camera (upright: its y up the image) at `distance_mm` along the optical
    axis, moved sideways by offset_xy_mm, rolled about its normal and tilted by tilt_deg about an
    in-plane axis at tilt_azimuth_deg: the 4x4 board-to-camera transform."""
    facing = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])
    roll = _rotation(np.array([0.0, 0.0, 1.0]), math.radians(roll_deg))
    az = math.radians(tilt_azimuth_deg)
    tilt = _rotation(np.array([math.cos(az), math.sin(az), 0.0]), math.radians(tilt_deg))
    m = np.eye(4)
    m[:3, :3] = facing @ roll @ tilt
    m[:3, 3] = (offset_xy_mm[0], offset_xy_mm[1], distance_mm)
    return m


def random_board_pose(rng: np.random.Generator, camera: CameraModel,
                      distance_mm: tuple[float, float] = (200.0, 500.0),
                      max_tilt_deg: float = 45.0, field_fraction: float = 0.5) -> np.ndarray:
    """A random pose: distance uniform in the range, tilt up to max_tilt_deg (uniform over the
    cap of directions), any roll, the centre within field_fraction of the half-field of view."""
    if camera.width is None or camera.height is None:
        raise ValueError("the camera model needs width and height")
    d = rng.uniform(*distance_mm)
    cos_tilt = rng.uniform(math.cos(math.radians(max_tilt_deg)), 1.0)
    half_w = camera.width / 2 / camera.fx * d * field_fraction
    half_h = camera.height / 2 / camera.fy * d * field_fraction
    return board_pose(d, math.degrees(math.acos(cos_tilt)), rng.uniform(0.0, 360.0),
                      rng.uniform(-180.0, 180.0),
                      (rng.uniform(-half_w, half_w), rng.uniform(-half_h, half_h)))


def _rays(camera: CameraModel, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Normalised image coordinates (x/z, y/z) of pixel positions, undistorted."""
    if not any(camera.dist):
        return (u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy
    pts = np.stack([u.ravel(), v.ravel()], axis=1).reshape(-1, 1, 2).astype(np.float64)
    und = cv2.undistortPoints(pts, camera.matrix, camera.dist_coeffs, None, None, None,
                              (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-10))
    und = und.reshape(-1, 2)
    return und[:, 0].reshape(u.shape), und[:, 1].reshape(u.shape)


def _footprint(board: MarkerBoard, camera: CameraModel, pose: np.ndarray, width: int,
               height: int) -> tuple[int, int, int, int] | None:
    """The pixel box (x0, y0, x1, y1) the card can cover, or None if it is out of view."""
    cw, ch = board.card_mm
    corners = np.array([[sx * cw / 2, sy * ch / 2, 0.0] for sx in (-1, 1) for sy in (-1, 1)])
    cam = corners @ pose[:3, :3].T + pose[:3, 3]
    if np.any(cam[:, 2] <= 1.0):
        return None  # the card crosses the camera's plane: render it all (rare in tests)
    rvec, _ = cv2.Rodrigues(pose[:3, :3])
    img, _ = cv2.projectPoints(corners, rvec, pose[:3, 3], camera.matrix, camera.dist_coeffs)
    img = img.reshape(-1, 2)
    pad = 4  # pixels: blur, supersampling and distortion's bend of the card's edges
    x0, y0 = np.floor(img.min(axis=0)).astype(int) - pad
    x1, y1 = np.ceil(img.max(axis=0)).astype(int) + pad
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    if x0 >= x1 or y0 >= y1:
        return (0, 0, 0, 0)
    return int(x0), int(y0), int(x1), int(y1)


def render_board(board: MarkerBoard, camera: CameraModel, pose: np.ndarray,
                 options: RenderOptions = RenderOptions(), seed: int = 0,
                 size: tuple[int, int] | None = None) -> np.ndarray:
    """A grey uint8 camera image (height x width) of the board at `pose` (board to camera, 4x4
    mm). `size` (width, height) defaults to the camera model's."""
    return render_boards(((board, pose),), camera, options, seed, size)


def render_boards(scene: Sequence[tuple[MarkerBoard, np.ndarray]], camera: CameraModel,
                  options: RenderOptions = RenderOptions(), seed: int = 0,
                  size: tuple[int, int] | None = None) -> np.ndarray:
    """One camera image of several boards, each (board, board-to-camera pose): a nearer card
    hides what lies behind it (per supersampling point: occlusion edges are anti-aliased too),
    e.g. the probe's board over the reference board on the skin."""
    if size is None:
        if camera.width is None or camera.height is None:
            raise ValueError("give the image size or a camera model with width and height")
        size = (camera.width, camera.height)
    width, height = size
    items = [(board, np.asarray(pose, float)) for board, pose in scene]
    image = np.full((height, width), options.background, dtype=float)
    boxes = []
    for board, pose in items:
        box = _footprint(board, camera, pose, width, height)
        boxes.append((0, 0, width, height) if box is None else box)
    for members, (x0, y0, x1, y1) in _clusters(boxes):
        if x1 > x0 and y1 > y0:
            image[y0:y1, x0:x1] = _render_box([items[k] for k in members], camera, options,
                                              (x0, y0, x1, y1))
    if options.blur_sd_px > 0:
        image = cv2.GaussianBlur(image, (0, 0), options.blur_sd_px)
    if options.noise_sd > 0:
        image = image + np.random.default_rng(seed).normal(0.0, options.noise_sd, image.shape)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


Box = tuple[int, int, int, int]


def _clusters(boxes: list[Box]) -> list[tuple[list[int], Box]]:
    """Boxes merged while any two overlap: (indices, bounding box) of each group, so that
    every pixel is rendered once, with every board that may cover it."""
    groups = [([k], box) for k, box in enumerate(boxes) if box[2] > box[0] and box[3] > box[1]]
    merged = True
    while merged:
        merged = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                (a, ba), (b, bb) = groups[i], groups[j]
                if ba[0] < bb[2] and bb[0] < ba[2] and ba[1] < bb[3] and bb[1] < ba[3]:
                    union = (min(ba[0], bb[0]), min(ba[1], bb[1]), max(ba[2], bb[2]),
                             max(ba[3], bb[3]))
                    groups[i] = (a + b, union)
                    del groups[j]
                    merged = True
                    break
            if merged:
                break
    return groups


def _render_box(items: list[tuple[MarkerBoard, np.ndarray]], camera: CameraModel,
                options: RenderOptions, box: Box) -> np.ndarray:
    """The mean grey level of each pixel of the box over its n x n supersampling points, each
    point showing the nearest card it meets.

    The points form an n-rooks lattice (no two share a row or a column of the n^2 x n^2 sub-grid),
    so an edge along the pixel grid is resolved to 1/n^2 of a pixel, not 1/n."""
    x0, y0, x1, y1 = box
    n = max(1, int(options.supersample))
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    sub_x = ((i + (j + 0.5) / n) / n - 0.5).ravel()  # pixel centres are integer coordinates
    sub_y = ((j + (i + 0.5) / n) / n - 0.5).ravel()
    uu, vv = np.meshgrid(np.arange(x0, x1, dtype=float), np.arange(y0, y1, dtype=float))
    total = np.zeros(uu.shape)
    for dx, dy in zip(sub_x, sub_y, strict=True):
        xn, yn = _rays(camera, uu + dx, vv + dy)
        grey = np.full(uu.shape, options.background)
        nearest = np.full(uu.shape, np.inf)
        for board, pose in items:
            refl, depth = _cast(board, pose, xn, yn)
            on = ~np.isnan(refl) & (depth < nearest)
            grey = np.where(on, options.black + (options.white - options.black)
                            * np.nan_to_num(refl), grey)
            nearest = np.where(on, depth, nearest)
        total += grey
    return total / len(sub_x)


def _cast(board: MarkerBoard, pose: np.ndarray, xn: np.ndarray, yn: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """The pattern where rays (xn, yn, 1) meet the board's printed face (NaN where they miss it
    or see its back) and the ray parameter there (the depth z, mm)."""
    rot, t = pose[:3, :3], pose[:3, 3]
    normal = rot[:, 2]
    denom = normal[0] * xn + normal[1] * yn + normal[2]  # normal . ray (ray = (xn, yn, 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = (normal @ t) / denom
    seen = (lam > 0) & (denom < 0)  # in front of the camera, printed face towards it
    px_, py_, pz_ = lam * xn - t[0], lam * yn - t[1], lam - t[2]
    bx = rot[0, 0] * px_ + rot[1, 0] * py_ + rot[2, 0] * pz_
    by = rot[0, 1] * px_ + rot[1, 1] * py_ + rot[2, 1] * pz_
    refl = board.reflectance(np.where(seen, bx, 1e9), np.where(seen, by, 1e9))
    return refl, np.where(seen, lam, np.inf)
