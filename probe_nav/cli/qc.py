"""`probe-nav qc daily|chi-square|history|verify`: quality control on a device, the simulator or a
recorded file, kept as sealed records (keyed, chained per probe; docs/qc.md). Helpers here are
shared with `calibrate`. History and verify are in cli/qc_records.py, NEMA in cli/qc_nema.py."""

from __future__ import annotations

import argparse
import getpass
import json
import math
from pathlib import Path

from probe_nav.cli.private_file import write_private_file
from probe_nav.cli.qc_records import (
    check_report,
    register_records,
    run_history,
    run_verify,
    write_pdf_report,
)
from probe_nav.errors import UserError

__all__ = ["MAX_COUNT", "add_measurement_arguments", "add_store_arguments", "analysis",
           "check_report", "keep", "measure", "open_store", "operator", "parse_counts",
           "plausible", "probe_identity", "register", "run_chi_square", "run_daily",
           "run_history", "run_verify", "source_text", "write_pdf_report", "write_private_file"]


def add_measurement_arguments(p: argparse.ArgumentParser, duration_s: float,
                              required: bool = True) -> None:
    """--device/--sim/--file, --duration, --probe, --db, --operator, --json."""
    from probe_nav.cli.bounds import bounded_float
    from probe_nav.cli.record import add_source_arguments

    add_source_arguments(p, required=False)
    group = next(g for g in p._mutually_exclusive_groups
                 if any(a.dest == "device" for a in g._group_actions))
    group.required = required
    group.add_argument("--file", metavar="FILE",
                       help="a recorded frame CSV (.csv) or N42 (.n42) file")
    p.add_argument("--duration", type=bounded_float(1e-3, 86400.0, "s"),  # live time >= 1 ms
                   default=duration_s, metavar="S",
                   help=f"seconds to count on a device or the simulator (default {duration_s:g})")
    add_store_arguments(p)
    p.add_argument("--probe", metavar="MODEL[:SERIAL]",
                   help="which probe (default: as the device or file names itself)")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def add_store_arguments(p: argparse.ArgumentParser) -> None:
    """--db and --operator."""
    p.add_argument("--db", metavar="PATH|URL",
                   help="records database: a file, sqlite:///FILE or postgresql://USER@HOST/DB "
                        "(default: $PROBE_NAV_DATABASE_URL, else qc.sqlite in the user data "
                        "directory)")
    p.add_argument("--operator", default=None, metavar="NAME",
                   help="who performed the test (default: the login name)")


def open_store(args: argparse.Namespace):
    """The QcStore of --db (or the default one)."""
    from probe_nav.qc.store import QcStore, default_db_path
    from probe_nav.storage.urls import database_url

    return QcStore(database_url(args.db, default_db_path()))


def raw_data_dir(args: argparse.Namespace) -> Path:
    """Where raw acquisitions are kept: beside a SQLite records file, else (a database server)
    beside the default one, in the user data directory."""
    from probe_nav.qc.store import default_db_path
    from probe_nav.storage.urls import database_url

    url = database_url(args.db, default_db_path())
    return (url.path if url.path is not None else default_db_path()).resolve().parent / "raw"


def operator(args: argparse.Namespace) -> str:
    """--operator, else the login name."""
    if args.operator is not None:
        if not args.operator.strip():
            raise UserError("--operator must not be empty")
        return args.operator.strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def measure(args: argparse.Namespace, spectrum: bool = False, file: str | None = None,
            scenario: str | None = None):
    """The Measurement of --file, or a new acquisition whose frames are kept as an N42 file
    beside the database (its raw-data reference)."""
    from probe_nav.cli.record import acquire, write_acquisition
    from probe_nav.qc.measure import from_file, from_frames

    path = file or getattr(args, "file", None)
    if path is not None:
        return plausible(from_file(path), path)
    if not (args.speed > 0 and math.isfinite(args.speed)):
        raise UserError(f"--speed must be > 0, got {args.speed}")
    if args.sim and not 0 <= args.seed < 2**63:
        raise UserError(f"--seed {args.seed} is outside the allowed range 0 to {2**63 - 1}")
    acq = acquire(args, args.duration, spectrum=spectrum, scenario_override=scenario)
    raw_dir = raw_data_dir(args)
    try:
        raw_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UserError(f"cannot create {raw_dir}: {exc.strerror or exc}") from None
    stamp = acq.start_time.strftime("%Y%m%dT%H%M%S%fZ")
    raw = raw_dir / f"{stamp}-{args.command}-{getattr(args, 'qc_command', None) or ''}.n42"
    source = args.device or f"simulator scenario {scenario or args.sim} (seed {args.seed})"
    info = acq.info
    if info is not None:  # the probe's own stored calibration replaces what the device says
        from probe_nav.qc.active import calibrated_info

        with open_store(args) as store:
            info, _ = calibrated_info(store, info)
        acq.info = info
    write_acquisition(acq, str(raw), None, source)
    return plausible(from_frames(acq.frames, info, acq.start_time, str(raw), acq.battery_pct),
                     source)


def plausible(m, source: str):
    """The measurement, or UserError naming the first frame a probe cannot have counted (counts
    above 1e7 cps x live time, a negative or non-finite live time) or a total live time outside
    1 ms to 24 h: nothing implausible becomes a QC or calibration record."""
    import numpy as np

    from probe_nav.cases.model import GENEROUS_MAX_RATE_CPS, MAX_LIVE_S, MIN_LIVE_S

    live = np.asarray(m.live_s, dtype=float)
    counts = np.asarray(m.counts, dtype=float)
    ceiling = np.floor(GENEROUS_MAX_RATE_CPS * np.clip(np.nan_to_num(live), 0.0, None)) + 1
    bad = np.flatnonzero(~(live >= 0) | ~np.isfinite(live) | (counts > ceiling) | (counts < 0))
    if bad.size:
        i = int(bad[0])
        raise UserError(f"{source}: frame {i + 1} has {counts[i]:.0f} counts in {live[i]:g} s "
                        f"live, outside the allowed range 0 to {ceiling[i]:.0f} "
                        f"({GENEROUS_MAX_RATE_CPS:g} cps x live time)")
    total = float(live.sum())
    if not MIN_LIVE_S <= total <= MAX_LIVE_S:
        raise UserError(f"{source}: live time {total:g} s is outside the allowed range "
                        f"{MIN_LIVE_S:g} to {MAX_LIVE_S:g} s")
    real = np.asarray(m.real_s, dtype=float)
    stopped = np.flatnonzero(~np.isfinite(real) | (real < 0) | ((real == 0) & (live > 0)))
    if stopped.size:
        i = int(stopped[0])
        raise UserError(f"{source}: frame {i + 1} has a real time of {real[i]:g} s for "
                        f"{live[i]:g} s live: not a time a counter can report")
    total_real = float(real.sum())
    if not 0.9 * total <= total_real <= 2 * MAX_LIVE_S:
        raise UserError(f"{source}: real time {total_real:g} s is outside the allowed range "
                        f"{0.9 * total:g} to {2 * MAX_LIVE_S:g} s (90 % of the live time to "
                        "48 h): a clock jump?")
    return m


def source_text(args: argparse.Namespace) -> str:
    """Where the data came from, for the record."""
    if getattr(args, "file", None):
        return f"file {args.file}"
    if args.device:
        return f"device {args.device} ({args.protocol})"
    return f"simulator scenario {args.sim} (seed {args.seed}, {args.protocol})"


def probe_identity(args: argparse.Namespace, measurement) -> tuple[str, str]:
    """(model, serial): --probe, else what the device or file said; UserError if unknown."""
    if args.probe:
        model, _, serial = args.probe.partition(":")
        if not model.strip():
            raise UserError(f"--probe {args.probe!r}: give MODEL or MODEL:SERIAL")
        return model.strip(), serial.strip()
    if measurement is None or not measurement.model:
        raise UserError("the data do not say which probe measured them: give --probe "
                        "MODEL:SERIAL")
    return measurement.model, measurement.serial


def keep(args: argparse.Namespace, outcome, measurement, kind: str) -> int:
    """Store the outcome as a record of the probe, print it; exit status 0 (1 if it failed)."""
    model, serial = probe_identity(args, measurement)
    with open_store(args) as store:
        probe = store.probe(model, serial, measurement.detector if measurement else "")
        record = store.add(probe, kind, outcome.test, outcome.result, operator=operator(args),
                           source=source_text(args),
                           raw_data=measurement.raw_data if measurement else "-",
                           passed=outcome.passed, when=measurement.start_time
                           if measurement else None)
    if getattr(args, "json", False):
        print(json.dumps(outcome.result | {"record": record.id, "probe": probe.label,
                                           "pass": outcome.passed}))
    else:
        for line in outcome.summary:
            print(line)
        print(f"stored as record {record.id} ({kind} {outcome.test} of {probe.label}) in "
              f"{store.path}")
    return 1 if outcome.passed is False else 0


def analysis(fn, *args, **kwargs):
    """Run an analysis; its AnalysisError becomes a one-line UserError."""
    from probe_nav.calibration.errors import AnalysisError

    try:
        return fn(*args, **kwargs)
    except AnalysisError as exc:
        raise UserError(str(exc)) from None


# ------------------------------------------------------------------ registration


def register(sub: argparse._SubParsersAction) -> None:
    """Add `qc` and its subcommands."""
    from probe_nav.cli.bounds import rate_cps

    qc = sub.add_parser("qc", help="quality control: daily, chi-square, nema, history")
    qc_sub = qc.add_subparsers(dest="qc_command", metavar="QCCOMMAND", parser_class=type(qc))
    qc_sub.required = True

    daily = qc_sub.add_parser("daily", help="daily QC: background, check-source constancy, "
                              "battery")
    add_measurement_arguments(daily, 30.0)
    daily.add_argument("--nuclide", default="Co-57", help="check-source nuclide (default Co-57)")
    daily.add_argument("--background-file", metavar="FILE",
                       help="a recorded background count (.csv or .n42)")
    daily.add_argument("--background-cps", type=rate_cps, metavar="B",
                       help="a known background rate instead of a background count")
    daily.add_argument("--background-max-cps", type=rate_cps, metavar="B",
                       help="fail when the background is above this rate")
    daily.add_argument("--tolerance", type=float, default=0.10,
                       help="constancy tolerance as a fraction (default 0.10 = +-10 %%)")
    daily.add_argument("--set-baseline", action="store_true",
                       help="record this result as the new constancy baseline")
    daily.set_defaults(func=run_daily)

    chi = qc_sub.add_parser("chi-square", help="chi-square test of counting statistics")
    add_measurement_arguments(chi, 100.0, required=False)
    chi.add_argument("--counts", metavar="N1,N2,...", help="the repeated counts (N >= 10)")
    chi.add_argument("--n", type=int, default=10, help="counts to split a measurement into")
    chi.add_argument("--p-low", type=float, default=0.10, help="lower probability (0.10)")
    chi.add_argument("--p-high", type=float, default=0.90, help="upper probability (0.90)")
    chi.set_defaults(func=run_chi_square)

    register_records(qc_sub)  # history, verify

    from probe_nav.cli.qc_nema import register as register_nema

    register_nema(qc_sub)


# ------------------------------------------------------------------ commands


MAX_COUNT = 2**53 - 1  # whole numbers above are not exact as floats, and no probe counts them


def parse_counts(text: str) -> list[int]:
    """'12,15,9' -> [12, 15, 9]; UserError naming the first bad entry."""
    counts = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = float(part)
        except ValueError:
            raise UserError(f"--counts: {part!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or value != int(value):
            raise UserError(f"--counts: {part!r} is not a whole number >= 0")
        if value > MAX_COUNT:
            raise UserError(f"--counts: {part} is outside the allowed range 0 to {MAX_COUNT}")
        counts.append(int(value))
    return counts


def run_chi_square(args: argparse.Namespace) -> int:
    """Chi-square of --counts (printed only) or of a measurement (also stored)."""
    from probe_nav.qc.procedures import chi_square

    sources = [x for x in (args.counts, args.device, args.sim, args.file) if x is not None]
    if len(sources) != 1:
        raise UserError("give exactly one of --counts, --device, --sim or --file")
    if not 0 < args.p_low < args.p_high < 1:
        raise UserError(f"need 0 < --p-low < --p-high < 1, got {args.p_low} and {args.p_high}")
    if args.counts is not None:
        outcome = analysis(chi_square, parse_counts(args.counts), args.p_low, args.p_high)
        if args.json:
            r = outcome.result
            print(json.dumps({"chi2": r["chi2"], "dof": r["dof"], "p_value": r["p_value"],
                              "band": r["band"], "pass": r["pass"], "mean": r["mean"],
                              "n": r["n"]}))
        else:
            print("\n".join(outcome.summary))
        return 0 if outcome.passed else 1
    if args.n < 10:
        raise UserError(f"--n must be >= 10 for the chi-square test, got {args.n}")
    m = measure(args)
    outcome = analysis(chi_square, m.split_counts(args.n).tolist(), args.p_low, args.p_high)
    return keep(args, outcome, m, "qc")


def _baseline(store, model: str, serial: str, nuclide_name: str):
    from probe_nav.qc.procedures import DAILY

    probe = store.find_probe(model, serial)
    if probe is None:
        return None
    baselines = [r for r in store.records(probe, "qc", DAILY)
                 if r.result.get("baseline") and r.result.get("nuclide") == nuclide_name]
    return baselines[-1] if baselines else None


def run_daily(args: argparse.Namespace) -> int:
    """Daily QC against the probe's stored baseline (the first run sets it)."""
    from probe_nav.calibration.nuclides import UnknownNuclide, nuclide
    from probe_nav.qc.measure import from_file
    from probe_nav.qc.procedures import daily

    try:
        nuclide(args.nuclide)
    except UnknownNuclide as exc:
        raise UserError(str(exc)) from None
    if not 0 < args.tolerance < 1:
        raise UserError(f"--tolerance must be between 0 and 1 (0.10 = 10 %), got "
                        f"{args.tolerance}")
    if args.background_file and args.background_cps is not None:
        raise UserError("give --background-file or --background-cps, not both")
    background = (plausible(from_file(args.background_file), args.background_file)
                  if args.background_file else None)
    m = measure(args)
    model, serial = probe_identity(args, m)
    with open_store(args) as store:
        base = None if args.set_baseline else _baseline(store, model, serial, args.nuclide)
    outcome = analysis(daily, m, args.nuclide, base.result if base else None,
                       base.time_utc if base else None, background, args.background_cps,
                       args.background_max_cps, args.tolerance)
    if base is not None:
        outcome.result["baseline_record"] = base.id
    return keep(args, outcome, m, "qc")
