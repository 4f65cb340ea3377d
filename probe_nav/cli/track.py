"""`probe-nav track calibrate`: pivot calibration of a tracked probe's tip.

Keep the tip in a divot and pivot the probe about it, tilting it 15-30 degrees in every direction
and rolling it, while the tracker records the marker's pose. POSES.csv: `#` comment lines, a
header row, then one pose per row with at least the columns qw,qx,qy,qz (unit quaternion, w
first, as OpenIGTLink and PLUS) and x_mm,y_mm,z_mm (the marker's position in the tracker's frame);
other columns (t_s, ...) are ignored. `--sim` pivots a simulated probe instead (known truth).
The tip's offset in the marker's frame is printed with its RMS residual; a residual above
--max-rms-mm (the tip slipped, or the tracker lost the marker) is refused: exit 1, nothing
written. --out writes the result as TOML for later use.
"""

from __future__ import annotations

import argparse
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from probe_nav.cli import track_aruco
from probe_nav.cli.track_latency import add_latency_parser
from probe_nav.errors import RunFailure, UserError

POSE_COLUMNS = ("qw", "qx", "qy", "qz", "x_mm", "y_mm", "z_mm")
MAX_POSES = 1_000_000


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `track` subcommand group."""
    p = sub.add_parser("track", help="probe tracking: tip (pivot) calibration, ArUco camera",
                       description="Probe tracking.")
    tsub = p.add_subparsers(dest="track_command", metavar="ACTION", parser_class=type(p))
    tsub.required = True
    c = tsub.add_parser("calibrate", help="pivot calibration of the tip", description=__doc__)
    source = c.add_mutually_exclusive_group(required=True)
    source.add_argument("poses", nargs="?", metavar="POSES.csv", help="the recorded poses")
    source.add_argument("--sim", action="store_true", help="pivot a simulated probe instead")
    c.add_argument("--noise-mm", type=float, default=0.25,
                   help="--sim: tracker noise, sd per axis (default 0.25 mm)")
    c.add_argument("--seed", type=int, default=0, help="--sim: random seed")
    c.add_argument("--max-rms-mm", type=float, default=1.0,
                   help="refuse a calibration whose RMS residual is larger (default 1.0 mm)")
    c.add_argument("--json", action="store_true", help="print the result as one JSON object")
    c.add_argument("--out", metavar="TIP.toml", help="write the result to this new file")
    c.add_argument("--force", action="store_true", help="replace TIP.toml if it exists")
    c.set_defaults(func=run_calibrate)
    track_aruco.register(tsub)
    add_latency_parser(tsub)


def read_poses(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Quaternions (N, 4) and positions (N, 3) from a poses CSV; UserError naming the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    header: list[str] | None = None
    rows: list[list[float]] = []
    index: list[int] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        cells = [c.strip() for c in text.split(",")]
        if header is None:
            header = cells
            missing = [c for c in POSE_COLUMNS if c not in header]
            if missing:
                raise UserError(f"{path}:{number}: the header lacks {', '.join(missing)} "
                                f"(needs {','.join(POSE_COLUMNS)})")
            index = [header.index(c) for c in POSE_COLUMNS]
            continue
        if len(cells) != len(header):
            raise UserError(f"{path}:{number}: {len(cells)} values for {len(header)} columns")
        try:
            values = [float(cells[i]) for i in index]
        except ValueError:
            raise UserError(f"{path}:{number}: a pose value is not a number") from None
        if not all(math.isfinite(v) for v in values):
            raise UserError(f"{path}:{number}: a pose value is not finite")
        rows.append(values)
        if len(rows) > MAX_POSES:
            raise UserError(f"{path}: more than {MAX_POSES} poses")
    if header is None:
        raise UserError(f"{path}: no header row (needs {','.join(POSE_COLUMNS)})")
    data = np.asarray(rows, dtype=float).reshape(-1, 7)
    return data[:, :4], data[:, 4:]


def _result_dict(result, truth: dict | None) -> dict:
    out = {"tip_mm": [round(float(v), 4) for v in result.tip_mm],
           "tip_sd_mm": [round(float(v), 4) for v in result.tip_sd_mm],
           "pivot_mm": [round(float(v), 4) for v in result.pivot_mm],
           "pivot_sd_mm": [round(float(v), 4) for v in result.pivot_sd_mm],
           "rms_mm": round(result.rms_mm, 4), "max_residual_mm": round(result.max_residual_mm, 4),
           "poses": result.n_poses, "spread_deg": round(result.spread_deg, 2)}
    if truth is not None:
        out["truth"] = truth
    return out


def _text(result, truth: dict | None) -> str:
    def vec(v, sd) -> str:
        return ", ".join(f"{a:.2f} ± {s:.2f}" for a, s in zip(v, sd, strict=True))
    lines = [f"tip in the marker's frame:   ({vec(result.tip_mm, result.tip_sd_mm)}) mm",
             f"pivot in the tracker's frame: ({vec(result.pivot_mm, result.pivot_sd_mm)}) mm",
             f"RMS residual {result.rms_mm:.2f} mm (largest {result.max_residual_mm:.2f} mm) "
             f"over {result.n_poses} poses, turned {result.spread_deg:.0f} degrees"]
    if truth is not None:
        lines.append(f"simulated truth: tip ({', '.join(f'{v:g}' for v in truth['tip_mm'])}) "
                     f"mm, the calibration is {truth['tip_error_mm']:.2f} mm off")
    return "\n".join(lines)


def _toml(result, source: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    def arr(v) -> str:
        return "[" + ", ".join(repr(round(float(x), 4)) for x in v) + "]"
    return (f"# probe-nav pivot calibration, {stamp}, from {source}\n"
            "[tip]\n"
            f"offset_mm = {arr(result.tip_mm)}  # in the marker's frame\n"
            f"sd_mm = {arr(result.tip_sd_mm)}\n"
            f"rms_mm = {result.rms_mm!r}\n"
            f"poses = {result.n_poses}\n")


def run_calibrate(args: argparse.Namespace) -> int:
    """Run `track calibrate`."""
    from probe_nav.files import atomic_write_text
    from probe_nav.navigation.pivot import PivotError, pivot_calibrate, quaternions_to_matrices

    if not (args.max_rms_mm > 0 and math.isfinite(args.max_rms_mm)):
        raise UserError(f"--max-rms-mm must be a positive number, got {args.max_rms_mm}")
    truth = None
    try:
        if args.sim:
            from probe_nav.simulator.tracking import pivot_sweep

            if not (0 <= args.noise_mm <= 50):
                raise UserError(f"--noise-mm must be 0-50 mm, got {args.noise_mm}")
            sweep = pivot_sweep(noise_mm=args.noise_mm, seed=args.seed)
            rotations, positions, source = sweep.rotations, sweep.translations_mm, "simulator"
        else:
            quaternions, positions = read_poses(Path(args.poses))
            rotations, source = quaternions_to_matrices(quaternions), str(args.poses)
        result = pivot_calibrate(rotations, positions)
    except PivotError as exc:
        raise UserError(f"{args.poses or 'simulated poses'}: {exc}") from None
    if args.sim:
        truth = {"tip_mm": [float(v) for v in sweep.tip_mm],
                 "tip_error_mm": float(np.linalg.norm(result.tip_mm - sweep.tip_mm))}
    print(json.dumps(_result_dict(result, truth)) if args.json else _text(result, truth))
    if result.rms_mm > args.max_rms_mm:
        raise RunFailure(f"calibration refused: RMS residual {result.rms_mm:.2f} mm > "
                         f"{args.max_rms_mm:g} mm (the tip slipped in the divot, or the tracker "
                         "lost the marker): nothing written")
    if args.out:
        try:
            atomic_write_text(args.out, _toml(result, source), overwrite=args.force)
        except FileExistsError:
            raise UserError(f"{args.out} exists (--force replaces it)") from None
        except OSError as exc:
            raise UserError(f"cannot write {args.out}: {exc.strerror or exc}") from None
    return 0
