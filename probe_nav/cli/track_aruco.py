"""`probe-nav track board` and `probe-nav track aruco`: the camera + ArUco marker tracker.

`track board` writes the printable marker board (PNG at true scale, with a 50 mm check bar to
measure with a ruler after printing). `track aruco` watches the board with a camera and prints
one CSV line per frame: the marker's pose (qw,qx,qy,qz,x_mm,y_mm,z_mm: the board's frame in the
camera's, so the output feeds `probe-nav track calibrate` directly), the tip and axis with the
tip offset given, and the markers and reprojection error behind it. Frames without a pose are
`#` comment lines.

With `--reference-board` a second board lies flat on the patient's skin beside the field (its
own marker ids; `track board --reference-board` prints it): every pose is then in the
reference's frame (skin z = 0, tissue z < 0) instead of the camera's, and a frame in which the
reference has not been seen for `--ref-hold-s` (or has just moved) gives no pose.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from typing import TYPE_CHECKING, Any

from probe_nav.errors import RunFailure, UserError

if TYPE_CHECKING:
    from probe_nav.drivers.tracking.aruco import ArucoSample
    from probe_nav.drivers.tracking.marker_board import MarkerBoard

CSV_HEADER = ("t_s,qw,qx,qy,qz,x_mm,y_mm,z_mm,tip_x_mm,tip_y_mm,tip_z_mm,ux,uy,uz,"
              "markers,reproj_px")


# The probe's default board, and the reference's: 4x3 markers of 15 mm hold 1 mm / 1 degree to
# 500 mm, and ids from 20 stay clear of a probe board of up to 20 markers.
PROBE_DEFAULTS = {"markers": "3x2", "marker_mm": 10.0, "dictionary": "DICT_4X4_50", "first_id": 0}
REFERENCE_DEFAULTS = {"markers": "4x3", "marker_mm": 15.0, "dictionary": "DICT_4X4_50",
                      "first_id": 20}


def _board_options(p: argparse.ArgumentParser, prefix: str = "", what: str = "",
                   defaults: dict[str, object] | None = None) -> None:
    """--markers, --marker-mm, --gap-mm, --dictionary, --first-id (with a prefix: --ref-...),
    None unless given (board_from_args fills them in); `defaults` only for the help."""
    d = defaults or {}
    def shown(key: str) -> str:
        return f" (default {d[key]})" if key in d else ""
    p.add_argument(f"--{prefix}markers", default=None, metavar="NxM",
                   help=f"{what}markers across x down{shown('markers')}")
    p.add_argument(f"--{prefix}marker-mm", type=float, default=None,
                   help=f"side of one {what}marker, mm{shown('marker_mm')}")
    p.add_argument(f"--{prefix}gap-mm", type=float, default=None,
                   help="white between markers (default a fifth of a marker)")
    p.add_argument(f"--{prefix}dictionary", default=None,
                   help=f"ArUco dictionary{shown('dictionary')}")
    p.add_argument(f"--{prefix}first-id", type=int, default=None,
                   help=f"id of the top left {what}marker{shown('first_id')}")


def register(tsub: argparse._SubParsersAction) -> None:
    """Add `track board` and `track aruco` to the `track` group."""
    b = tsub.add_parser("board", help="write a printable ArUco marker board",
                        description="Write a printable ArUco marker board (PNG at true scale). "
                        "Print at 100 % and check the 50 mm bar with a ruler.")
    b.add_argument("--out", required=True, metavar="BOARD.png", help="the PNG to write")
    b.add_argument("--dpi", type=float, default=300.0, help="print resolution (default 300)")
    b.add_argument("--reference-board", action="store_true",
                   help="print the reference board (laid flat on the skin beside the field; "
                   "defaults 4x3 markers of 15 mm, ids from 20) instead of the probe's "
                   "(defaults 3x2 of 10 mm, ids from 0)")
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
    _board_options(a, defaults=PROBE_DEFAULTS)
    a.add_argument("--reference-board", action="store_true",
                   help="poses in the frame of a reference board on the patient's skin (its "
                   "markers must differ from the probe board's)")
    _board_options(a, "ref-", "reference ", REFERENCE_DEFAULTS)
    a.add_argument("--ref-hold-s", type=float, default=None,
                   help="how long a reference out of view still counts (default 1 s)")
    a.set_defaults(func=run_aruco)


def board_from_args(args: argparse.Namespace, prefix: str = "",
                    defaults: dict[str, object] | None = None) -> MarkerBoard:
    """The MarkerBoard of the command line (options `--{prefix}markers` ..., those not given
    from `defaults`, else the probe's); UserError on a bad option."""
    from probe_nav.drivers.tracking.marker_board import BoardError, MarkerBoard

    d = PROBE_DEFAULTS if defaults is None else defaults
    key = prefix.replace("-", "_")
    def value(name: str) -> Any:
        given = getattr(args, key + name)
        return d.get(name) if given is None else given
    markers, marker_mm = str(value("markers")), float(value("marker_mm"))
    parts = markers.lower().split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise UserError(f"--{prefix}markers must be NxM (e.g. 3x2), got {markers!r}")
    gap_given = getattr(args, key + "gap_mm")
    gap = gap_given if gap_given is not None else marker_mm / 5.0
    try:
        return MarkerBoard(str(value("dictionary")), int(parts[0]), int(parts[1]), marker_mm,
                           gap, int(value("first_id")), max(gap, 3.0))
    except BoardError as exc:
        raise UserError(f"{prefix}board: {exc}") from None


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

    board = board_from_args(args, defaults=REFERENCE_DEFAULTS if args.reference_board
                            else PROBE_DEFAULTS)
    title = ("probe-nav REFERENCE board: lay flat on the skin, printed face up"
             if args.reference_board else "probe-nav marker board")
    try:
        data = png_bytes(printable_image(board, args.dpi, title), args.dpi)
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


def _csv_row(s: ArucoSample, start_s: float) -> str:
    """One sample as a CSV row, or a `#` line saying why there is no pose."""
    from probe_nav.simulator.tracking import matrices_to_quaternions

    t_s = s.pose.host_s - start_s
    marker = s.marker_matrix
    if s.board is None or marker is None:
        return f"# {t_s:.4f}: board not seen"
    if not s.pose.valid:
        return f"# {t_s:.4f}: reference board not seen for too long, or just moved"
    q = matrices_to_quaternions(marker[None, :3, :3])[0]
    cells = [f"{t_s:.4f}", *(f"{v:.6f}" for v in q), *(f"{v:.3f}" for v in marker[:3, 3]),
             *(f"{v:.3f}" for v in s.pose.position_mm), *(f"{v:.6f}" for v in s.pose.axis),
             str(s.board.n_markers), f"{s.board.reproj_px:.3f}"]
    return ",".join(cells)


def run_aruco(args: argparse.Namespace) -> int:
    """Run `track aruco`: CSV on stdout until --seconds have passed or the video ends."""
    from probe_nav.drivers.tracking.aruco import ArucoPoseSource, CameraError
    from probe_nav.drivers.tracking.camera_model import CameraModel, CameraModelError
    from probe_nav.drivers.tracking.marker_board import BoardError, check_disjoint

    board = board_from_args(args)
    given = [name for name, value in vars(args).items()
             if name.startswith("ref_") and value is not None]
    if given and not args.reference_board:
        raise UserError(f"--{given[0].replace('_', '-')} needs --reference-board")
    if args.ref_hold_s is None:
        args.ref_hold_s = 1.0
    reference = (board_from_args(args, "ref-", REFERENCE_DEFAULTS) if args.reference_board
                 else None)
    if reference is not None:
        try:
            check_disjoint(board, reference)
        except BoardError as exc:
            raise UserError(f"--reference-board: {exc}") from None
        if not (math.isfinite(args.ref_hold_s) and 0 < args.ref_hold_s <= 60):
            raise UserError(f"--ref-hold-s must be 0-60 s, got {args.ref_hold_s}")
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
                                 latency_s=args.latency_ms / 1000.0, reference=reference,
                                 reference_hold_s=args.ref_hold_s)
    except CameraError as exc:
        raise UserError(str(exc)) from None
    start_s = time.monotonic()
    if reference is not None:
        print(f"# poses in the reference board's frame ({reference.describe()}): skin z = 0",
              file=sys.stderr)
    print(CSV_HEADER, flush=True)
    try:
        while True:
            done = not source.running or time.monotonic() - start_s > args.seconds
            for s in source.poll_samples():
                print(_csv_row(s, start_s))
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

