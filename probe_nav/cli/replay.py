"""`probe-nav replay FILE`: run a recorded frame CSV file through the processing pipeline.

Output is JSON Lines on standard output. `--events`: one object per change of the hot decision,
{"t_s": ..., "event": "hot"|"cold"}, t_s being that of the frame that caused it. `--json`: one
object per tick of frame time (default 0.1 s) with the latest Reading. Both are causal: what is
reported at t_s uses only frames whose t_s is not later. A gap in the recording is a gap: a tick is
written only within one tick after a frame or inside the counting interval of the next frame, so
a device clock that jumped (or a stall) adds no lines. While over range a tick says
`"over_range": true` and its rate fields are null (the counter's reading is not a rate then).
Without --background-cps the background is measured from the first --background-s seconds
(default 10) of live time; hot decisions start after.

A file with several energy windows (columns w1, w2, ...) is processed window by window
(probe_nav.core.windows): each --json tick adds `"windows": [{"index", "gross_cps", "net_cps",
"corrected_cps", "corrected_sd_cps", "hot", "dominated"}, ...]`, corrected for crosstalk with
--spill S:T=F[+-SD] (`1:0=0.095`: 9.5 % of window 1's counts appear in window 0) or
--crosstalk-probe MODEL:SERIAL (its calibration in the QC records), and --events
lines carry `"window"`. corrected_cps is the unbiased estimate and may be below 0 (a
display shows 0); `dominated` says the window's own detector fired on the other isotope's spill.
The top-level fields are window 0's. Window w's background: --window-background W=B[+-SD], or
the first --background-s seconds like window 0.
"""

from __future__ import annotations

import argparse
import math
import sys
from typing import TextIO

import numpy as np

from probe_nav.calibration.crosstalk import SpillError, SpillMatrix
from probe_nav.calibration.deadtime import DeadTimeModel
from probe_nav.cli.background_args import add_background_arguments, background_config
from probe_nav.core.pipeline import PipelineConfig, Readings, process_arrays
from probe_nav.core.rate import METER_NAMES
from probe_nav.core.windows import WindowBackground, WindowReadings, process_windows
from probe_nav.errors import RunFailure, UserError
from probe_nav.io.frames_csv import FrameCsvError, FrameTable, read_frames_csv

TICK_FIELDS = ("rate_cps", "rate_sd_cps", "background_cps", "background_sd_cps", "net_cps",
               "net_sd_cps", "z")
RATE_FIELDS = ("rate_cps", "rate_sd_cps", "net_cps", "net_sd_cps", "z")  # null while over range
MIN_TICK_S = 1e-3  # 1 ms: finer than any device's frames
MAX_TICK_S = 86400.0
MAX_TICKS = 10_000_000  # lines of --json output a file may ask for (about 2 GB)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `replay` subcommand."""
    p = subparsers.add_parser("replay", help="replay a recorded frame CSV file",
                              description=__doc__)
    p.add_argument("file", metavar="FILE", help="frame CSV file (docs/frames-csv.md)")
    add_background_arguments(p)
    p.add_argument("--false-alarm-interval", type=float, default=600.0, metavar="S",
                   help="mean time between false hot cues on background (default 600 s)")
    p.add_argument("--meter", choices=METER_NAMES, default="adaptive",
                   help="rate meter: adaptive (default) or a fixed time constant in s")
    p.add_argument("--dead-time-us", type=float, default=None, metavar="TAU",
                   help="counter dead time for the over-range rules")
    p.add_argument("--counter", choices=("nonparalysable", "paralysable"),
                   default="nonparalysable", help="dead-time model (with --dead-time-us)")
    p.add_argument("--live-time", choices=("auto", "measured", "none"), default="auto",
                   help="is the live_s column the counter's measured live time? auto (default): "
                        "yes once a frame has live_s < real_s; none: real time or computed")
    p.add_argument("--spill", action="append", default=[], metavar="S:T=F[+-SD]",
                   help="crosstalk: fraction F (sd SD) of window S's counts seen in window T, "
                        "e.g. 1:0=0.095; repeat for more pairs")
    p.add_argument("--crosstalk-probe", metavar="MODEL:SERIAL",
                   help="crosstalk: this probe's calibration (probe-nav calibrate crosstalk) "
                        "from the QC records (--qc-db), instead of --spill")
    p.add_argument("--qc-db", metavar="PATH|URL",
                   help="QC records database (default: qc.sqlite in the user data directory)")
    p.add_argument("--window-background", action="append", default=[], metavar="W=B[+-SD]",
                   help="the background of window W >= 1 in cps (window 0: --background-cps)")
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

    if args.background_sd_cps and args.background_cps is None:
        raise UserError("--background-sd-cps needs --background-cps")
    positive(args.false_alarm_interval, "--false-alarm-interval")
    positive(args.dead_time_us, "--dead-time-us")
    positive(args.tick, "--tick")
    if args.tick is not None and not args.json:
        raise UserError("--tick only applies to --json")
    if args.tick is not None and not MIN_TICK_S <= args.tick <= MAX_TICK_S:
        raise UserError(f"--tick must be between {MIN_TICK_S:g} and {MAX_TICK_S:g} s, "
                        f"got {args.tick!r}")
    if args.dead_time_us is not None and args.dead_time_us > 1e6:
        raise UserError(f"--dead-time-us must be at most 1e6 (1 s), got {args.dead_time_us!r}")
    dead_time = None
    if args.dead_time_us is not None:
        dead_time = DeadTimeModel(args.counter, args.dead_time_us * 1e-6)
    return PipelineConfig(
        meter=args.meter, **background_config(args),
        false_alarm_interval_s=args.false_alarm_interval, dead_time=dead_time,
        live_time_measured={"auto": None, "measured": True, "none": False}[args.live_time],
    )


def _load(path: str) -> FrameTable:
    try:
        table = read_frames_csv(path)
        if table.notice:  # cut short (no end line) or interrupted: said, then replayed
            print(f"probe-nav: warning: {table.notice}", file=sys.stderr)
        return table
    except FrameCsvError as exc:
        raise UserError(str(exc)) from None
    except OverflowError:  # the reader bounds integers to int64; this is its last line of defence
        raise UserError(f"{path}: a count does not fit in 64 bits (>= 2^63)") from None
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


def tick_indices(t_s: np.ndarray, tick_s: float,
                 real_s: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Tick times k * tick_s and the latest frame at each (t_s <= tick), from the first frame to
    the last, skipping gaps: a tick is kept only within tick_s after a frame or inside the next
    frame's counting interval (t - real_s, t]. UserError when that is more than MAX_TICKS."""
    if t_s.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    t_max = float(np.max(np.abs(t_s)))
    if t_max / tick_s >= 2.0**62 or float(np.spacing(t_max)) > tick_s / 10.0:
        # no integer tick index, or ticks that float times cannot tell apart at this t_s
        raise UserError(f"t_s up to {t_max:g} s cannot be ticked every {tick_s:g} s "
                        f"(times there are {float(np.spacing(t_max)):g} s apart): "
                        "use a longer --tick")
    # Candidate tick ranges [lo, hi] (as k): after each frame, and in each next frame's interval.
    after_lo = np.ceil(t_s / tick_s - 1e-9)
    after_hi = np.floor(np.minimum(t_s + tick_s, t_s[-1]) / tick_s + 1e-9)
    lo, hi = [after_lo], [after_hi]
    if real_s is not None and t_s.size > 1:
        lo.append(np.ceil((t_s[1:] - real_s[1:]) / tick_s - 1e-9))
        hi.append(np.floor(t_s[1:] / tick_s + 1e-9))
    k_lo, k_hi = np.concatenate(lo), np.concatenate(hi)
    n = np.maximum(k_hi - k_lo + 1, 0)
    total = float(n.sum())
    if total > 2 * MAX_TICKS:  # the ranges overlap by at most a factor of 2
        raise UserError(f"--tick {tick_s:g} s would write more than {MAX_TICKS} lines for this "
                        "file: use a longer --tick")
    counts = n.astype(np.int64)
    starts = np.repeat(k_lo.astype(np.int64), counts)
    offsets = np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
    k = np.unique(starts + offsets)
    if k.size > MAX_TICKS:
        raise UserError(f"--tick {tick_s:g} s would write more than {MAX_TICKS} lines for this "
                        "file: use a longer --tick")
    ticks = np.round(k * tick_s, 9)
    idx = np.searchsorted(t_s, ticks, side="right") - 1  # frames with t_s <= tick only
    keep = idx >= 0
    return ticks[keep], idx[keep]


def _hot(hot: bool, over: bool, background_set: bool) -> str:
    """The JSON hot field: null while no background is set (no decision was made)."""
    if not background_set:
        return "null"
    return "true" if hot and not over else "false"


def write_ticks(readings: Readings, tick_s: float, out: TextIO,
                real_s: np.ndarray | None = None, windows: WindowReadings | None = None) -> int:
    """One JSON line per tick with the latest Reading (rates null while over range), and with
    `windows` each window's figures; returns the number written."""
    ticks, idx = tick_indices(readings.t_s, tick_s, real_s)
    over = readings.over_range[idx].tolist() if windows is None else \
        windows.over_range[idx].tolist()
    cols = {name: getattr(readings, name)[idx].tolist() for name in TICK_FIELDS}
    hot = readings.hot[idx].tolist() if windows is None else windows.hot[idx, 0].tolist()
    background_set = np.isfinite(readings.background_cps[idx]).tolist()
    extra = [""] * len(idx) if windows is None else _window_cells(windows, idx)
    for i, t in enumerate(ticks.tolist()):
        body = ", ".join(
            f'"{name}": {"null" if over[i] and name in RATE_FIELDS else _num(cols[name][i])}'
            for name in TICK_FIELDS)
        out.write(f'{{"t_s": {_num(t)}, {body}, '
                  f'"hot": {_hot(hot[i], over[i], background_set[i])}, '
                  f'"over_range": {"true" if over[i] else "false"}{extra[i]}}}\n')
    return int(ticks.size)


def _window_cells(w: WindowReadings, idx: np.ndarray) -> list[str]:
    """`, "windows": [...]` for each tick (rates null while over range, hot null without a
    background)."""
    over = w.over_range[idx]
    gross = w.gross_cps()[idx]
    net = np.stack([r.net_cps for r in w.per_window], axis=1)[idx]
    corr, corr_sd = w.corrected_cps[idx], w.corrected_sd_cps[idx]
    hot, dom, bg = w.hot[idx], w.dominated[idx], w.background_set[idx]
    cells = []
    for i in range(idx.size):
        entries = []
        for k in range(w.n_windows):
            def num(a: np.ndarray, i: int = i, k: int = k) -> str:
                return "null" if over[i] else _num(float(a[i, k]))
            entries.append(
                f'{{"index": {k}, "gross_cps": {num(gross)}, "net_cps": {num(net)}, '
                f'"corrected_cps": {num(corr)}, "corrected_sd_cps": {num(corr_sd)}, '
                f'"hot": {_hot(bool(hot[i, k]), bool(over[i]), bool(bg[i, k]))}, '
                f'"dominated": {"true" if dom[i, k] and not over[i] else "false"}}}')
        cells.append(f', "windows": [{", ".join(entries)}]')
    return cells


def write_window_events(readings: WindowReadings, out: TextIO) -> int:
    """One JSON line per change of a window's hot decision, in frame order (then window order);
    returns the number written."""
    hot = readings.hot
    before = np.vstack([np.zeros((1, hot.shape[1]), dtype=bool), hot[:-1]])
    frames, windows = np.nonzero(hot != before)
    for i, k in zip(frames.tolist(), windows.tolist(), strict=True):
        event = "hot" if hot[i, k] else "cold"
        out.write(f'{{"t_s": {_num(float(readings.t_s[i]))}, "event": "{event}", '
                  f'"window": {k}}}\n')
    return int(frames.size)


def _window_backgrounds(texts: list[str], n_windows: int) -> list[WindowBackground]:
    """--window-background W=B[+-SD] options as one entry per window (window 0: None)."""
    out: list[WindowBackground] = [None] * n_windows
    for text in texts:
        index, _, value = text.partition("=")
        rate, _, sd = value.replace("±", "+-").partition("+-")
        try:
            w, b, b_sd = int(index), float(rate), float(sd) if sd else 0.0
        except ValueError:
            raise UserError(f"--window-background {text!r}: write W=B or W=B+-SD, e.g. "
                            "1=12.5+-0.4") from None
        if not 1 <= w < n_windows:
            raise UserError(f"--window-background {text!r}: the file's windows are 0 to "
                            f"{n_windows - 1} (window 0 takes --background-cps)")
        if not (math.isfinite(b) and math.isfinite(b_sd) and b >= 0 and b_sd >= 0):
            raise UserError(f"--window-background {text!r}: B and SD must be numbers >= 0")
        if out[w] is not None:
            raise UserError(f"--window-background: window {w} is given twice")
        out[w] = (b, b_sd)
    return out


def _calibrated_spill(args: argparse.Namespace, n_windows: int) -> SpillMatrix:
    """--crosstalk-probe MODEL:SERIAL: its newest crosstalk calibration; UserError when it has
    none or it was made for another number of windows."""
    from probe_nav.qc.crosstalk import active_spill
    from probe_nav.qc.store import QcStore, default_db_path
    from probe_nav.storage import StoreError
    from probe_nav.storage.urls import database_url

    if args.spill:
        raise UserError("give --spill or --crosstalk-probe, not both")
    model, _, serial = args.crosstalk_probe.partition(":")
    url = database_url(args.qc_db, default_db_path())  # a file, or the department's server
    path = url.path if url.path is not None else url.display
    if url.path is not None and not url.path.exists():  # never create one to read from it
        raise UserError(f"--qc-db {url.path}: no such QC records database")
    try:
        with QcStore(url) as store:
            probe = store.find_probe(model.strip(), serial.strip())
            spill = active_spill(store, probe, n_windows)
    except (SpillError, StoreError) as exc:
        raise UserError(f"--crosstalk-probe: {exc}") from None
    if spill is None:
        raise UserError(f"--crosstalk-probe {args.crosstalk_probe}: no crosstalk calibration of "
                        f"that probe in {path} (probe-nav calibrate crosstalk)")
    return spill


def _replay_windows(args: argparse.Namespace, config: PipelineConfig, table: FrameTable) -> int:
    """Replay a file of several windows (or with --spill) through probe_nav.core.windows."""
    try:
        counts = table.window_counts()
    except FrameCsvError as exc:
        raise UserError(str(exc)) from None
    n_windows = counts.shape[1]
    try:
        spill = SpillMatrix.parse(args.spill, n_windows)
    except SpillError as exc:
        raise UserError(f"--spill: {exc}") from None
    if args.crosstalk_probe is not None:
        spill = _calibrated_spill(args, n_windows)
    backgrounds = _window_backgrounds(args.window_background, n_windows)
    readings = process_windows(table.t_s, table.live_s, counts, table.real_s, table.flags,
                               config, spill, backgrounds)
    if args.events:
        write_window_events(readings, sys.stdout)
    else:
        write_ticks(readings.per_window[0], args.tick or 0.1, sys.stdout, table.real_s,
                    windows=readings)
    sys.stdout.flush()
    return 0


def run(args: argparse.Namespace) -> int:
    """Replay the file and print JSON Lines."""
    config = _config(args)
    table = _load(args.file)
    if table.windows or args.spill or args.window_background or args.crosstalk_probe:
        return _replay_windows(args, config, table)
    try:
        readings = process_arrays(table.t_s, table.live_s, table.counts, table.real_s,
                                  table.flags, config)
    except ImportError as exc:
        raise RunFailure(f"hot-spot detector not available ({exc})") from None
    if args.events:
        if config.background_cps is None and config.background_s is None:
            print("probe-nav: no background set (--background-cps B or --background-s S): "
                  "no hot/cold events", file=sys.stderr)
        write_events(readings, sys.stdout)
    else:
        write_ticks(readings, args.tick or 0.1, sys.stdout, table.real_s)
    sys.stdout.flush()
    return 0
