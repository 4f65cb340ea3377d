"""`probe-nav locate FILE.csv --probe PROBE.toml`: hot spots from a tracked sweep.

FILE.csv is a frame CSV with the pose columns x_mm,y_mm,z_mm,ux,uy,uz (docs/frames-csv.md);
frames without a pose are skipped. PROBE.toml holds a `[probe]` table with the keys of a
scenario's (preset, sensitivity_cps_per_mbq, angular_fwhm_deg, crystal_setback_mm, ...) and
`nuclide` at the top or in the table (default Tc-99m). The skin is the plane z = --skin-z-mm,
tissue below; the background rate is estimated unless --background-cps gives it.
"""

from __future__ import annotations

import argparse
import json
import math
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from probe_nav.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `locate` subcommand."""
    p = sub.add_parser("locate", help="3D hot spots from a tracked sweep", description=__doc__)
    p.add_argument("frames", metavar="FILE.csv", help="frame CSV with pose columns")
    p.add_argument("--probe", required=True, metavar="PROBE.toml",
                   help="the probe's [probe] table")
    p.add_argument("--skin-z-mm", type=float, default=0.0, help="skin plane z (default 0)")
    p.add_argument("--background-cps", type=float, default=None,
                   help="background rate in the window (default: estimated)")
    p.add_argument("--voxel-mm", type=float, default=3.0, help="voxel size (default 3 mm)")
    p.add_argument("--json", action="store_true", help="print JSON objects, one per line")
    p.set_defaults(func=run)


def load_probe(path: Path) -> tuple[Any, str]:
    """(ProbeModel, nuclide name) from a probe TOML file; UserError if it is not one."""
    from probe_nav.calibration.nuclides import nuclide
    from probe_nav.simulator.scenario_parse import parse_probe

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise UserError(f"{path}: not a TOML file: {exc}") from None
    table = data.get("probe")
    if not isinstance(table, dict):
        raise UserError(f"{path}: no [probe] table")
    table = dict(table)
    name = table.pop("nuclide", data.get("nuclide", "Tc-99m"))
    try:
        name = nuclide(str(name)).name
        return parse_probe(table, name), name
    except (ValueError, KeyError) as exc:
        raise UserError(f"{path}: {exc}") from None


def _check(value: float | None, what: str, positive: bool) -> None:
    if value is None:
        return
    if not math.isfinite(value) or value < 0 or (positive and value == 0):
        raise UserError(f"{what} must be a finite number {'> 0' if positive else '>= 0'}, "
                        f"got {value}")


def run(args: argparse.Namespace) -> int:
    """Read the sweep and the probe, localise, print the spots."""
    from probe_nav.io.frames_csv import read_frames_csv
    from probe_nav.navigation.localise import localise
    from probe_nav.navigation.response import ResponseModel

    _check(args.background_cps, "--background-cps", positive=False)
    _check(args.voxel_mm, "--voxel-mm", positive=True)
    if not math.isfinite(args.skin_z_mm):
        raise UserError("--skin-z-mm must be a finite number")
    probe, nuclide_name = load_probe(Path(args.probe))
    try:
        table = read_frames_csv(args.frames)
    except OSError as exc:
        raise UserError(f"cannot read {args.frames}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if table.position_mm is None or table.axis is None:
        raise UserError(f"{args.frames}: no pose columns (x_mm,y_mm,z_mm,ux,uy,uz)")
    posed = np.all(np.isfinite(table.position_mm), axis=1) & (table.live_s > 0)
    if not posed.any():
        raise UserError(f"{args.frames}: no frames with a pose")
    model = ResponseModel(probe, nuclide_name, args.skin_z_mm)
    result = localise(model, table.position_mm[posed], table.axis[posed],
                      table.live_s[posed], table.counts[posed],
                      background_cps=args.background_cps, voxel_mm=args.voxel_mm)
    out = {"frames": int(posed.sum()), "background_cps": result.background_cps,
           "spots": [s.as_dict() for s in result.spots]}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"{out['frames']} frames, background {result.background_cps:.2f} cps, "
              f"{len(result.spots)} spot(s)")
        for s in result.spots:
            print(f"  x {s.x_mm:7.1f}  y {s.y_mm:7.1f}  z {s.z_mm:7.1f} mm  sd {s.sd_mm:5.1f} mm"
                  f"  relative activity {s.relative_activity:.2f}")
    return 0
