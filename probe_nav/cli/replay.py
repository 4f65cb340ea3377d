"""`probe-nav replay FILE`: run a recorded frame CSV file through the processing pipeline.

Output is JSON Lines on standard output. `--events`: one object per change of the hot decision,
{"t_s": ..., "event": "hot"|"cold"}, t_s being that of the frame that caused it. `--json`: one
object per tick of frame time (default 0.1 s) with the latest Reading. Both are causal: what is
reported at t_s uses only frames whose t_s is not later. Without --background-cps the background is
measured from the first --background-s seconds (default 10) of live time; hot decisions start after.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TextIO

import numpy as np

from probe_nav.calibration.deadtime import DeadTimeModel
from probe_nav.core.pipeline import PipelineConfig, Readings, process_arrays
from probe_nav.core.rate import METER_NAMES
from probe_nav.errors import RunFailure, UserError
from probe_nav.io.frames_csv import FrameCsvError, FrameTable, read_frames_csv

TICK_FIELDS = ("rate_cps", "rate_sd_cps", "background_cps", "background_sd_cps", "net_cps",
               "net_sd_cps", "z")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `replay` subcommand."""
    p = subparsers.add_parser("replay", help="replay a recorded frame CSV file",
                              description=__doc__)
    p.add_argument("file", metavar="FILE", help="frame CSV file (docs/frames-csv.md)")
    p.add_argument("--background-cps", type=float, default=None, metavar="B",
                   help="background rate; default: measured from the start of the file")
    p.add_argument("--background-sd-cps", type=float, default=0.0, metavar="SD",
                   help="sd of --background-cps (default 0)")
    p.add_argument("--background-s", type=float, default=10.0, metavar="S",
                   help="live time of the initial background measurement (default 10)")
    p.add_argument("--false-alarm-interval", type=float, default=600.0, metavar="S",
                   help="mean time between false hot cues on background (default 600 s)")
    p.add_argument("--meter", choices=METER_NAMES, default="adaptive",
                   help="rate meter: adaptive (default) or a fixed time constant in s")
    p.add_argument("--dead-time-us", type=float, default=None, metavar="TAU",
                   help="counter dead time for the over-range rules")
    p.add_argument("--counter", choices=("nonparalysable", "paralysable"),
                   default="nonparalysable", help="dead-time model (with --dead-time-us)")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--events", action="store_true", help="one line per hot/cold change")
    out.add_argument("--json", action="store_true", help="one line per tick of frame time")
    p.add_argument("--tick", type=float, default=None, metavar="S",
                   help="tick of --json output in s of frame time (default 0.1)")
    p.set_defaults(func=run)


def _config(args: argparse.Namespace) -> PipelineConfig:
    def positive(value: float | None, option: str, allow_zero: bool = False) -> None:
        if value is None:
            return
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            raise UserError(f"{option} must be a {'non-negative' if allow_zero else 'positive'}"
                            f" number, got {value!r}")

    positive(args.background_cps, "--background-cps", allow_zero=True)
    positive(args.background_sd_cps, "--background-sd-cps", allow_zero=True)
    positive(args.background_s, "--background-s")
    positive(args.false_alarm_interval, "--false-alarm-interval")
    positive(args.dead_time_us, "--dead-time-us")
    positive(args.tick, "--tick")
    if args.tick is not None and not args.json:
        raise UserError("--tick only applies to --json")
    dead_time = None
    if args.dead_time_us is not None:
        dead_time = DeadTimeModel(args.counter, args.dead_time_us * 1e-6)
    return PipelineConfig(
        meter=args.meter, background_cps=args.background_cps,
        background_sd_cps=args.background_sd_cps, background_s=args.background_s,
        false_alarm_interval_s=args.false_alarm_interval, dead_time=dead_time,
    )


def _load(path: str) -> FrameTable:
    try:
        return read_frames_csv(path)
    except FrameCsvError as exc:
        raise UserError(str(exc)) from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text (UTF-8) frame CSV file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the file ({exc.strerror or exc})") from None


def _num(x: float) -> str:
    return repr(round(x, 6)) if math.isfinite(x) else "null"


def write_events(readings: Readings, out: TextIO) -> int:
    """One JSON line per change of the hot decision; returns the number written."""
    hot = readings.hot
    changes = np.flatnonzero(hot != np.concatenate(([False], hot[:-1])))
    for i in changes.tolist():
        event = "hot" if hot[i] else "cold"
        out.write(f'{{"t_s": {_num(float(readings.t_s[i]))}, "event": "{event}"}}\n')
    return int(changes.size)


def tick_indices(t_s: np.ndarray, tick_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Tick times k * tick_s from the first frame to the last, and the latest frame at each."""
    if t_s.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    k = np.arange(math.ceil(t_s[0] / tick_s - 1e-9), math.floor(t_s[-1] / tick_s + 1e-9) + 1)
    ticks = np.round(k * tick_s, 9)
    idx = np.searchsorted(t_s, ticks, side="right") - 1  # frames with t_s <= tick only
    keep = idx >= 0
    return ticks[keep], idx[keep]


def write_ticks(readings: Readings, tick_s: float, out: TextIO) -> int:
    """One JSON line per tick with the latest Reading; returns the number written."""
    ticks, idx = tick_indices(readings.t_s, tick_s)
    cols = {name: getattr(readings, name)[idx].tolist() for name in TICK_FIELDS}
    hot = readings.hot[idx].tolist()
    over = readings.over_range[idx].tolist()
    for i, t in enumerate(ticks.tolist()):
        body = ", ".join(f'"{name}": {_num(cols[name][i])}' for name in TICK_FIELDS)
        out.write(f'{{"t_s": {_num(t)}, {body}, "hot": {"true" if hot[i] else "false"}, '
                  f'"over_range": {"true" if over[i] else "false"}}}\n')
    return int(ticks.size)


def run(args: argparse.Namespace) -> int:
    """Replay the file and print JSON Lines."""
    config = _config(args)
    table = _load(args.file)
    try:
        readings = process_arrays(table.t_s, table.live_s, table.counts, table.real_s,
                                  table.flags, config)
    except ImportError as exc:
        raise RunFailure(f"hot-spot detector not available ({exc})") from None
    if args.events:
        write_events(readings, sys.stdout)
    else:
        write_ticks(readings, args.tick or 0.1, sys.stdout)
    sys.stdout.flush()
    return 0
