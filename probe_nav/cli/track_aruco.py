"""`probe-nav track board` and `probe-nav track aruco`: the camera + ArUco marker tracker.

`track board` writes the printable marker board (PNG at true scale, with a 50 mm check bar to
measure with a ruler after printing). `track aruco` watches the board with a camera and prints
one CSV line per frame: the marker's pose (qw,qx,qy,qz,x_mm,y_mm,z_mm: the board's frame in the
camera's, so the output feeds `probe-nav track calibrate` directly), the tip and axis with the
tip offset given, and the markers and reprojection error behind it. Frames without a pose are
`#` comment lines.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import TYPE_CHECKING

from probe_nav.errors import RunFailure, UserError

if TYPE_CHECKING:
    from probe_nav.drivers.tracking.marker_board import MarkerBoard

CSV_HEADER = ("t_s,qw,qx,qy,qz,x_mm,y_mm,z_mm,tip_x_mm,tip_y_mm,tip_z_mm,ux,uy,uz,"
              "markers,reproj_px")


def _board_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--markers", default="3x2", metavar="NxM",
                   help="markers across x down (default 3x2)")
    p.add_argument("--marker-mm", type=float, default=10.0,
                   help="side of one marker (default 10 mm)")
    p.add_argument("--gap-mm", type=float, default=None,
                   help="white between markers (default a fifth of a marker)")
    p.add_argument("--dictionary", default="DICT_4X4_50", help="ArUco dictionary (DICT_4X4_50)")
    p.add_argument("--first-id", type=int, default=0, help="id of the top left marker (0)")


def register(tsub: argparse._SubParsersAction) -> None:
    """Add `track board` and `track aruco` to the `track` group."""
    b = tsub.add_parser("board", help="write a printable ArUco marker board",
                        description="Write a printable ArUco marker board (PNG at true scale). "
                        "Print at 100 % and check the 50 mm bar with a ruler.")
    b.add_argument("--out", required=True, metavar="BOARD.png", help="the PNG to write")
    b.add_argument("--dpi", type=float, default=300.0, help="print resolution (default 300)")
    _board_options(b)
    b.add_argument("--force", action="store_true", help="replace BOARD.png if it exists")
    b.set_defaults(func=run_board)
    a = tsub.add_parser("aruco", help="track a marker board with a camera, poses as CSV",
                        description=__doc__)
    a.add_argument("--camera", required=True, metavar="INDEX|VIDEO",
                   help="camera index (0, 1, ...) or a video file / image sequence (img%%03d.png)")
    a.add_argument("--intrinsics", required=True, metavar="CAM.toml",
                   help="camera intrinsics: [camera] fx, fy, cx, cy, dist")
    a.add_argument("--tip-mm", default="0,0,0", metavar="X,Y,Z",
                   help="tip in the board's frame (pivot calibration; default 0,0,0)")
    a.add_argument("--axis", default="0,0,1", metavar="X,Y,Z",
                   help="the probe's axis in the board's frame (default 0,0,1)")
    a.add_argument("--seconds", type=float, default=10.0,
                   help="how long to watch a camera (default 10 s; a video runs to its end)")
    a.add_argument("--latency-ms", type=float, default=0.0,
                   help="the camera's delay from exposure to delivery, if known (default 0)")
    _board_options(a)
    a.set_defaults(func=run_aruco)


def board_from_args(args: argparse.Namespace) -> MarkerBoard:
    """The MarkerBoard of the command line; UserError on a bad option."""
    from probe_nav.drivers.tracking.marker_board import BoardError, MarkerBoard

    text = str(args.markers).lower()
    parts = text.split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise UserError(f"--markers must be NxM (e.g. 3x2), got {args.markers!r}")
    gap = args.gap_mm if args.gap_mm is not None else args.marker_mm / 5.0
    try:
        return MarkerBoard(args.dictionary, int(parts[0]), int(parts[1]), args.marker_mm, gap,
                           args.first_id, max(gap, 3.0))
    except BoardError as exc:
        raise UserError(f"board: {exc}") from None


def _vector(text: str, option: str, unit: bool = False) -> tuple[float, float, float]:
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 3 or not all(math.isfinite(v) for v in values):
        raise UserError(f"{option} must be three numbers x,y,z, got {text!r}")
    if unit and math.hypot(*values) == 0:
        raise UserError(f"{option} must not be zero")
    return values[0], values[1], values[2]


def run_board(args: argparse.Namespace) -> int:
    """Run `track board`."""
    from probe_nav.drivers.tracking.marker_board import BoardError, png_bytes, printable_image
    from probe_nav.files import atomic_write

    board = board_from_args(args)
    try:
        data = png_bytes(printable_image(board, args.dpi), args.dpi)
    except BoardError as exc:
        raise UserError(str(exc)) from None
    try:
        atomic_write(args.out, data, overwrite=args.force)
    except FileExistsError:
        raise UserError(f"{args.out} exists (--force replaces it)") from None
    except OSError as exc:
        raise UserError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    w, h = board.card_mm
    print(f"wrote {args.out}: {board.describe()}, card {w:g} x {h:g} mm at {args.dpi:g} dpi; "
          "print at 100 % and check that the bar measures 50 mm")
    return 0


def _camera_source(text: str) -> int | str:
    return int(text) if text.strip().isdigit() else text


def run_aruco(args: argparse.Namespace) -> int:
    """Run `track aruco`: CSV on stdout until --seconds have passed or the video ends."""
    from probe_nav.drivers.tracking.aruco import ArucoPoseSource, CameraError
    from probe_nav.drivers.tracking.camera_model import CameraModel, CameraModelError
    from probe_nav.simulator.tracking import matrices_to_quaternions

    board = board_from_args(args)
    tip = _vector(args.tip_mm, "--tip-mm")
    axis = _vector(args.axis, "--axis", unit=True)
    if not (math.isfinite(args.seconds) and args.seconds > 0):
        raise UserError(f"--seconds must be a positive number, got {args.seconds}")
    if not (math.isfinite(args.latency_ms) and 0 <= args.latency_ms <= 5000):
        raise UserError(f"--latency-ms must be 0-5000, got {args.latency_ms}")
    try:
        camera = CameraModel.load(args.intrinsics)
    except CameraModelError as exc:
        raise UserError(str(exc)) from None
    try:
        source = ArucoPoseSource(_camera_source(args.camera), board, camera, tip, axis,
                                 latency_s=args.latency_ms / 1000.0)
    except CameraError as exc:
        raise UserError(str(exc)) from None
    start_s = time.monotonic()
    print(CSV_HEADER, flush=True)
    try:
        while True:
            done = not source.running or time.monotonic() - start_s > args.seconds
            for s in source.poll_samples():
                t_s = s.pose.host_s - start_s
                if s.board is None:
                    print(f"# {t_s:.4f}: board not seen")
                    continue
                q = matrices_to_quaternions(s.board.matrix[None, :3, :3])[0]
                cells = [f"{t_s:.4f}", *(f"{v:.6f}" for v in q),
                         *(f"{v:.3f}" for v in s.board.tvec), *(f"{v:.3f}" for v in
                                                                  s.pose.position_mm),
                         *(f"{v:.6f}" for v in s.pose.axis), str(s.board.n_markers),
                         f"{s.board.reproj_px:.3f}"]
                print(",".join(cells))
            sys.stdout.flush()
            if done:
                break
            time.sleep(0.05)
    finally:
        source.close()
    if source.error:
        raise RunFailure(source.error)
    print(f"# {source.frames} frames, {source.rejected} without a pose, "
          f"{source.fps:.1f} fps", file=sys.stderr)
    return 0

