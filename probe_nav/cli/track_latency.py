"""`probe-nav track latency FILE.csv --probe PROBE.toml`: temporal calibration of the
pose-to-count latency.

Record a sweep back and forth over a point source (a calibration source of ~0.1-1 MBq on the
table, or under a few mm of tissue-equivalent; 20-40 s, passes in every direction at a steady
hand's speed, 20-40 mm/s) as a frame CSV with the pose columns (x_mm,y_mm,z_mm,ux,uy,uz: the
pose at each frame's mid-interval, docs/frames-csv.md). The poses are re-interpolated in time
at each candidate lag (-MAX..+MAX ms in steps of --step-ms) and the lag that makes the source's
counts most likely is printed with its sd (probe_nav.navigation.temporal). A positive latency:
the counts are late with respect to the poses (probe_nav.navigation.sync). Exit 1 if the best
lag is at either end of the scan (the latency may be beyond --max-ms).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from probe_nav.errors import RunFailure, UserError


def add_latency_parser(tsub: argparse._SubParsersAction) -> None:
    """Add `track latency` to the `track` group."""
    p = tsub.add_parser("latency", help="temporal calibration: the pose-to-count latency",
                        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("frames", metavar="FILE.csv", help="frame CSV of the sweep, with pose columns")
    p.add_argument("--probe", required=True, metavar="PROBE.toml", help="the probe's [probe] table")
    p.add_argument("--skin-z-mm", type=float, default=0.0, help="skin plane z (default 0)")
    p.add_argument("--max-ms", type=float, default=300.0,
                   help="largest latency scanned, either sign (default 300 ms)")
    p.add_argument("--step-ms", type=float, default=20.0,
                   help="between scanned lags (default 20 ms)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(func=run_latency)


def run_latency(args: argparse.Namespace) -> int:
    """Run `track latency`."""
    from probe_nav.cli.locate import load_probe, read_posed_csv
    from probe_nav.navigation.response import ResponseModel
    from probe_nav.navigation.temporal import LatencyError, estimate_latency

    if not (math.isfinite(args.max_ms) and 0 < args.max_ms <= 5000):
        raise UserError(f"--max-ms must be 0-5000 ms, got {args.max_ms}")
    if not (math.isfinite(args.step_ms) and 0 < args.step_ms <= args.max_ms):
        raise UserError(f"--step-ms must be > 0 and at most --max-ms, got {args.step_ms}")
    if not math.isfinite(args.skin_z_mm):
        raise UserError("--skin-z-mm must be a finite number")
    probe, nuclide_name = load_probe(Path(args.probe))
    table = read_posed_csv(args.frames)
    real = table.real_s if table.real_s is not None else np.zeros(len(table.t_s))
    mid = table.t_s - real / 2.0
    posed = np.all(np.isfinite(table.position_mm), axis=1) & np.all(np.isfinite(table.axis),
                                                                    axis=1)
    order = np.argsort(mid[posed], kind="stable")
    t = mid[posed][order]
    if len(t) < 2 or np.any(np.diff(t) <= 0):
        raise UserError(f"{args.frames}: needs frames with a pose at increasing times")
    model = ResponseModel(probe, nuclide_name, args.skin_z_mm)
    try:
        result = estimate_latency(
            model, t, table.position_mm[posed][order], table.axis[posed][order], t,
            table.live_s[posed][order], table.counts[posed][order],
            max_lag_s=args.max_ms / 1000.0, step_s=args.step_ms / 1000.0)
    except LatencyError as exc:
        raise UserError(f"{args.frames}: {exc}") from None
    out = {"latency_ms": round(result.latency_s * 1000.0, 2),
           "sd_ms": round(result.sd_s * 1000.0, 2), "frames": result.n_frames,
           "source_mm": [round(float(v), 2) for v in result.source_mm],
           "background_cps": round(result.background_cps, 3), "at_edge": result.at_edge}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"pose-to-count latency {out['latency_ms']:.1f} ± {out['sd_ms']:.1f} ms "
              f"({result.n_frames} frames; the source at "
              f"({', '.join(f'{v:.1f}' for v in out['source_mm'])}) mm)")
    if result.at_edge:
        raise RunFailure(f"the best lag is at the edge of the scan (±{args.max_ms:g} ms): the "
                         "latency may be beyond it (raise --max-ms)")
    return 0
