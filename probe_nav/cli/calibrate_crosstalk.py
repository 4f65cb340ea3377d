"""`probe-nav calibrate crosstalk`: the spill matrix between energy windows, measured with one
single-isotope source per window on the simulator's bench (--sim), on a device (--device, the
sources put in front of the probe in turn) or from recorded frame CSV files (--file, one per
isotope); stored as the probe's crosstalk calibration (docs/qc.md)."""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from probe_nav.cli.qc import add_measurement_arguments, keep, plausible, raw_data_dir
from probe_nav.errors import RunFailure, UserError

SIM_PROBE = "probe-nav simulated probe:SIM-0001"  # as `calibrate deadtime --sim` names it
SIM_ACTIVITY_MBQ = 1.0  # ~2400 cps of Tc-99m at 20 mm: ~1e5 counts a minute in its window


def register(cal_sub: argparse._SubParsersAction) -> None:
    """Add `calibrate crosstalk`."""
    from probe_nav.cli.bounds import bounded_float

    p = cal_sub.add_parser("crosstalk", help="spill between energy windows from single-isotope "
                           "sources (dual-isotope correction)")
    add_measurement_arguments(p, 60.0)
    p.add_argument("--nuclide", metavar="N1[,N2...]",
                   help="the isotope of each source: one per --file, in order; with --sim or "
                   "--device, the isotopes to count (default: every window's)")
    p.add_argument("--windows", metavar="N1,N2,...",
                   help="the isotope of each window in order, e.g. I-125,Tc-99m (their usual "
                   "windows; default: the scenario's or device's windows, with --file the "
                   "--nuclide order)")
    p.add_argument("--background-file", metavar="FILE",
                   help="with --file: a frame CSV counted without any source")
    p.add_argument("--depth-mm", type=bounded_float(0.0, 300.0, "mm"), default=20.0,
                   help="with --sim: depth of the source in tissue under the probe (default 20)")
    p.set_defaults(func=run_crosstalk)


def _names(text: str | None, option: str) -> list[str]:
    """A comma-separated list of known nuclides (UserError naming a bad one)."""
    from probe_nav.calibration.nuclides import UnknownNuclide, nuclide

    if text is None:
        return []
    names = [n.strip() for n in text.split(",")]
    for n in names:
        try:
            nuclide(n)
        except UnknownNuclide as exc:
            raise UserError(f"{option}: {exc}") from None
    if len(set(names)) != len(names):
        raise UserError(f"{option} {text}: an isotope is named twice")
    return names


def _usual_windows(names: list[str]):
    """The usual windows of the named isotopes, named after them."""
    from probe_nav.calibration.nuclides import nuclide
    from probe_nav.drivers.frames import EnergyWindow

    return tuple(EnergyWindow(nuclide(n).window.lo_kev, nuclide(n).window.hi_kev, n)
                 for n in names)


def _analyse(source_window: int, counts, live_s: float, background, background_live_s: float,
             label: str):
    """measure_spills; a source its own window cannot see is refused (exit 1, nothing
    stored), impossible counts are bad input (exit 2)."""
    from probe_nav.calibration.crosstalk_measure import NotSignificant, measure_spills
    from probe_nav.calibration.errors import AnalysisError

    try:
        return measure_spills(source_window, counts, live_s, background, background_live_s,
                              label)
    except NotSignificant as exc:
        raise RunFailure(f"{exc}; nothing stored") from None
    except AnalysisError as exc:
        raise UserError(str(exc)) from None


def _window_of(windows, nuclide_name: str) -> int:
    from probe_nav.calibration.crosstalk_measure import own_window

    try:
        return own_window(windows, nuclide_name)
    except ValueError as exc:
        shown = ", ".join(f"{w.name or i} {w.lo_kev:g}-{w.hi_kev:g} keV"
                          for i, w in enumerate(windows))
        raise UserError(f"{exc}; the windows are {shown}") from None


def _outcome(measured, windows, counts: list[dict[str, Any]], method: str,
             extra: dict[str, Any] | None = None):
    from probe_nav.calibration.crosstalk import SpillError
    from probe_nav.qc.crosstalk import crosstalk_outcome

    if len(windows) < 2:
        raise UserError(f"crosstalk needs 2 or more energy windows, the data have "
                        f"{len(windows)}")
    try:
        return crosstalk_outcome(measured, windows, counts, method, extra)
    except SpillError as exc:
        raise RunFailure(f"{exc}; nothing stored") from None


def run_crosstalk(args: argparse.Namespace) -> int:
    """Measure each window's isotope in turn, store the spill matrix as a calibration."""
    if args.background_file and not args.file:
        raise UserError("--background-file goes with --file (the simulator and a device "
                        "count the background themselves)")
    if args.file:
        return _from_files(args)
    if args.sim:
        return _on_bench(args)
    return _on_device(args)


# ------------------------------------------------------------------ simulator


def _on_bench(args: argparse.Namespace) -> int:
    """Each isotope on the simulator's crosstalk bench (source args.depth_mm deep in tissue)."""
    from probe_nav.simulator.bench_setup import seeds
    from probe_nav.simulator.benches_crosstalk import bench_crosstalk
    from probe_nav.simulator.scenario import ScenarioError, load

    if not 0 <= args.seed < 2**63:
        raise UserError(f"--seed {args.seed} is outside the allowed range 0 to {2**63 - 1}")
    try:
        scenario = load(args.sim)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    names = _names(args.windows, "--windows")
    windows = _usual_windows(names) if names else scenario.windows
    isotopes = _names(args.nuclide, "--nuclide") or _known_names(windows)
    if not isotopes:
        raise UserError(f"no window of {scenario.name} is named after an isotope: give "
                        "--nuclide or --windows")
    for n in isotopes:
        _window_of(windows, n)
    measured, counts = [], []
    for n, seed in zip(isotopes, seeds(args.seed, len(isotopes)), strict=True):
        b = bench_crosstalk(args.sim, windows, n, SIM_ACTIVITY_MBQ, args.depth_mm,
                            args.duration, seed)
        measured.append(_analyse(b.source_window, b.counts.tolist(), b.live_s,
                                 b.background_counts.tolist(), b.background_live_s, n))
        counts.append({"nuclide": n, "counts": b.counts.tolist(), "live_s": b.live_s,
                       "background_counts": b.background_counts.tolist(),
                       "background_live_s": b.background_live_s,
                       "expected_spill": [float(x) for x in b.truth["spill"]]})  # type: ignore
    method = (f"simulator bench of {scenario.name}: {SIM_ACTIVITY_MBQ:g} MBq point source "
              f"{args.depth_mm:g} mm deep in tissue, {args.duration:g} s per count")
    outcome = _outcome(measured, windows, counts, method,
                       {"depth_mm": args.depth_mm, "scenario": scenario.name})
    args.probe = args.probe or SIM_PROBE
    return keep(args, outcome, None, "calibration")


def _known_names(windows) -> list[str]:
    """The window names that are known isotopes, in window order."""
    from probe_nav.calibration.nuclides import UnknownNuclide, nuclide

    out = []
    for w in windows:
        try:
            out.append(nuclide(w.name).name)
        except UnknownNuclide:
            continue
    return out


# ------------------------------------------------------------------ files


def _window_totals(path: str) -> tuple[list[int], float]:
    """Every window's total counts (counts, w1, w2, ...) and the live time of a frame CSV."""
    from probe_nav.io.frames_csv import FrameCsvError, read_frames_csv
    from probe_nav.qc.measure import from_file

    if Path(path).suffix.lower() != ".csv":
        raise UserError(f"{path}: crosstalk needs every window's counts: give a frame CSV with "
                        "w1, w2, ... columns")
    m = plausible(from_file(path), path)  # times and window 0 checked, as for every calibration
    try:
        table = read_frames_csv(path)
        per_frame = table.window_counts()
    except (FrameCsvError, OSError) as exc:
        raise UserError(str(exc)) from None
    if per_frame.shape[1] < 2:
        raise UserError(f"{path}: no w1, w2, ... columns: crosstalk needs the counts of every "
                        "window")
    totals = [int(c) for c in per_frame.sum(axis=0)]
    _within_ceiling(path, totals, m.total_live_s)
    return totals, m.total_live_s


def _within_ceiling(what: str, totals: list[int], live_s: float) -> None:
    """UserError when a window holds more counts than a probe can count in the live time."""
    from probe_nav.cases.model import GENEROUS_MAX_RATE_CPS

    ceiling = math.floor(GENEROUS_MAX_RATE_CPS * live_s) + 1
    for i, c in enumerate(totals):
        if c > ceiling:
            raise UserError(f"{what}: window {i} has {c} counts in {live_s:g} s live, outside "
                            f"the allowed range 0 to {ceiling}")


def _from_files(args: argparse.Namespace) -> int:
    """One frame CSV per isotope (--nuclide in the same order), an optional background."""
    from probe_nav.qc.measure import from_file

    paths = [p.strip() for p in args.file.split(",")]
    isotopes = _names(args.nuclide, "--nuclide")
    if len(isotopes) != len(paths):
        raise UserError(f"--file names {len(paths)} file(s) and --nuclide {len(isotopes)} "
                        "isotope(s): give one isotope per file, in the same order")
    data = [_window_totals(p) for p in paths]
    n = len(data[0][0])
    if any(len(d[0]) != n for d in data):
        raise UserError(f"the files count different numbers of windows "
                        f"({', '.join(str(len(d[0])) for d in data)}): use one setup")
    names = _names(args.windows, "--windows") or isotopes
    if len(names) != n:
        raise UserError(f"the files have {n} windows but {len(names)} are named "
                        f"({', '.join(names)}): give --windows with one isotope per window")
    windows = _usual_windows(names)
    if args.background_file:
        background, background_live_s = _window_totals(args.background_file)
        if len(background) != n:
            raise UserError(f"{args.background_file}: {len(background)} windows, the source "
                            f"files {n}")
    else:
        background, background_live_s = [0] * n, math.inf
    measured, counts = [], []
    for path, isotope, (totals, live_s) in zip(paths, isotopes, data, strict=True):
        measured.append(_analyse(_window_of(windows, isotope), totals, live_s, background,
                                 background_live_s, f"{isotope} ({path})"))
        counts.append({"nuclide": isotope, "file": str(Path(path).resolve()), "counts": totals,
                       "live_s": live_s, "background_counts": background,
                       "background_live_s": background_live_s if args.background_file
                       else None})
    extra = {"background_file": args.background_file}
    if not args.background_file:
        extra["background_note"] = "no background count: nothing subtracted"
    outcome = _outcome(measured, windows, counts, f"{len(paths)} recorded file(s)", extra)
    first = from_file(paths[0])
    raw = ",".join(str(Path(p).resolve()) for p in paths + (
        [args.background_file] if args.background_file else []))
    return keep(args, outcome, replace(first, raw_data=raw), "calibration")


# ------------------------------------------------------------------ device


def _ask(text: str) -> None:
    """Say what to do on stderr and wait for Enter on stdin (UserError at its end)."""
    print(f"{text}, then press Enter", file=sys.stderr, flush=True)
    if not sys.stdin.readline():
        raise UserError("no answer on standard input: a crosstalk calibration on a device "
                        "waits for Enter before each count")


def _device_count(args: argparse.Namespace, label: str):
    """Count args.duration on the device; every window's totals, live time, the acquisition
    and its raw frame CSV beside the database."""
    from probe_nav.cli.acquire import acquire
    from probe_nav.cli.record import write_acquisition
    from probe_nav.qc.measure import from_frames

    acq = acquire(args, args.duration)
    if not acq.frames:
        raise RunFailure(f"no frames from {args.device}: {acq.stopped or 'nothing counted'}")
    if acq.stopped:
        raise RunFailure(f"the {label} count on {args.device} stopped early: {acq.stopped}; "
                         "nothing stored")
    what = f"device {args.device} ({label} count)"
    m = plausible(from_frames(acq.frames, acq.info, acq.start_time, "-"), what)
    n = max(len(f.counts) for f in acq.frames)
    totals = [sum(f.counts[i] if i < len(f.counts) else 0 for f in acq.frames)
              for i in range(n)]
    live_s = m.total_live_s
    _within_ceiling(what, totals, live_s)
    raw_dir = raw_data_dir(args)
    try:
        raw_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UserError(f"cannot create {raw_dir}: {exc.strerror or exc}") from None
    raw = raw_dir / f"{acq.start_time:%Y%m%dT%H%M%S%fZ}-calibrate-crosstalk-{label}.csv"
    write_acquisition(acq, str(raw), None, f"device {args.device} ({label})")
    return totals, live_s, acq, str(raw)


def _on_device(args: argparse.Namespace) -> int:
    """Background first, then each isotope's source in turn, the user saying when it is in
    place (Enter on stdin)."""
    from probe_nav.qc.measure import from_frames

    _ask("take every source away from the probe (background count)")
    background, background_live_s, acq, raw_bg = _device_count(args, "background")
    device_windows = acq.info.windows if acq.info is not None else ()
    names = _names(args.windows, "--windows")
    windows = _usual_windows(names) if names else tuple(device_windows)
    if len(windows) != len(background):
        raise UserError(f"the device counts {len(background)} windows and "
                        f"{len(windows)} are known ({', '.join(w.name for w in windows)}): "
                        "give --windows with one isotope per window")
    isotopes = _names(args.nuclide, "--nuclide") or _known_names(windows)
    if not isotopes:
        raise UserError("the device's windows are not named after isotopes: give --nuclide")
    own = [_window_of(windows, n) for n in isotopes]
    measured, counts, raws = [], [], [raw_bg]
    for isotope, s in zip(isotopes, own, strict=True):
        _ask(f"put the {isotope} source in front of the probe (window {s})")
        totals, live_s, acq, raw = _device_count(args, isotope)
        raws.append(raw)
        if len(totals) != len(background):
            raise UserError(f"the device counted {len(totals)} windows for {isotope}, "
                            f"{len(background)} for the background: keep one setup")
        measured.append(_analyse(s, totals, live_s, background, background_live_s, isotope))
        counts.append({"nuclide": isotope, "counts": totals, "live_s": live_s,
                       "background_counts": background, "background_live_s": background_live_s,
                       "raw_data": raw})
    outcome = _outcome(measured, windows, counts, f"device {args.device}")
    m = from_frames(acq.frames, acq.info, acq.start_time, ",".join(raws), acq.battery_pct)
    return keep(args, outcome, m, "calibration")
