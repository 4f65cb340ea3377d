"""`probe-nav locate FILE.csv --probe PROBE.toml`: hot spots from a tracked sweep.

FILE.csv is a frame CSV with the pose columns x_mm,y_mm,z_mm,ux,uy,uz (docs/frames-csv.md);
frames without a pose are skipped. PROBE.toml holds a `[probe]` table with the keys of a
scenario's (preset, sensitivity_cps_per_mbq, angular_fwhm_deg, crystal_setback_mm, ...) and
`nuclide` at the top or in the table (default Tc-99m). The skin is the plane z = --skin-z-mm,
tissue below; the background rate is estimated unless --background-cps gives it.
--nrrd writes the activity image as a NRRD volume; --slicer sends the image (IMAGE) and the
spots (POINT) to 3D Slicer's OpenIGTLink server (docs/slicer.md): unreachable, the spots are
still printed, one line says so on stderr, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tomllib
from pathlib import Path
from typing import Any

import numpy as np

from probe_nav.cli.private_file import check_output_path
from probe_nav.errors import UserError

SLICER_TIMEOUT_S = 5.0  # --slicer: connect and send within this, else exit 1


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
    p.add_argument("--nrrd", metavar="OUT.nrrd",
                   help="write the activity image as a NRRD volume (docs/slicer.md)")
    p.add_argument("--force", action="store_true", help="replace --nrrd if it exists")
    p.add_argument("--slicer", metavar="HOST:PORT",
                   help="send the image and the spots to 3D Slicer's OpenIGTLink server "
                        "(e.g. 127.0.0.1:18944; docs/slicer.md)")
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


def read_posed_csv(path: str) -> Any:
    """A frame CSV with pose columns (FrameTable); UserError (one line) if it cannot be read or
    has no pose columns."""
    from probe_nav.io.frames_csv import read_frames_csv

    try:
        table = read_frames_csv(path)
    except OSError as exc:
        raise UserError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if table.position_mm is None or table.axis is None:
        raise UserError(f"{path}: no pose columns (x_mm,y_mm,z_mm,ux,uy,uz)")
    return table


def host_port(text: str) -> tuple[str, int]:
    """HOST:PORT of --slicer; UserError if it is not one."""
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--slicer must be HOST:PORT (e.g. 127.0.0.1:18944), got {text!r}")
    return host.strip("[]"), int(port)


def _send_to_slicer(address: tuple[str, int], result: Any) -> bool:
    """Send the image and the spots; False (and one line on stderr) if Slicer is unreachable."""
    from probe_nav.io.igtl_out import SlicerLink

    with SlicerLink(*address, timeout_s=SLICER_TIMEOUT_S, log_level=logging.DEBUG) as link:
        link.send_image(result.image)
        link.send_spots(result.spots)
        if link.flush(fail_fast=True):
            return True
    print(f"probe-nav locate: cannot reach 3D Slicer's OpenIGTLink server at "
          f"{address[0]}:{address[1]} (is OpenIGTLinkIF's server connector active?)",
          file=sys.stderr)
    return False


def run(args: argparse.Namespace) -> int:
    """Read the sweep and the probe, localise, print the spots (and write or send them)."""
    from probe_nav.navigation.localise import localise
    from probe_nav.navigation.response import ResponseModel

    _check(args.background_cps, "--background-cps", positive=False)
    _check(args.voxel_mm, "--voxel-mm", positive=True)
    if not math.isfinite(args.skin_z_mm):
        raise UserError("--skin-z-mm must be a finite number")
    address = host_port(args.slicer) if args.slicer else None
    nrrd_path = (check_output_path(args.nrrd, "--nrrd", (".nrrd",), args.force)
                 if args.nrrd else None)
    probe, nuclide_name = load_probe(Path(args.probe))
    table = read_posed_csv(args.frames)
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
                  f"  relative activity {s.relative_activity:.2f}"
                  + ("" if s.swept_around else "  beside the sweep: not localised"))
    sys.stdout.flush()
    if nrrd_path is not None:
        from probe_nav.files import OutputExists
        from probe_nav.io.nrrd_out import write_nrrd

        try:
            write_nrrd(nrrd_path, result.image, overwrite=args.force)
        except OutputExists:
            raise UserError(f"--nrrd {nrrd_path} exists; add --force to replace it") from None
        except OSError as exc:
            raise UserError(f"cannot write {nrrd_path}: {exc.strerror or exc}") from None
    if address is not None and not _send_to_slicer(address, result):
        return 1
    return 0
