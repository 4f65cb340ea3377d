"""`probe-nav qc nema (--sim [SCENARIO] | --file SERIES.csv)`: NEMA NU 3 characterisation on the
simulator's benches or on a measurement-series file, one stored QC record per test, a table (or
JSON), pass/fail against configurable limits, and optionally a PDF report (docs/qc.md)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from probe_nav.errors import UserError

SIM_MODEL = "probe-nav simulated probe"
SIM_SERIAL = "SIM-0001"


def register(qc_sub: argparse._SubParsersAction) -> None:
    """Add `qc nema`."""
    from probe_nav.cases.model import MAX_ACTIVITY_MBQ
    from probe_nav.cli.bounds import bounded_float, energy_kev, seed
    from probe_nav.cli.qc import add_store_arguments

    p = qc_sub.add_parser("nema", help="NEMA NU 3 characterisation (simulator benches or a "
                          "measurement-series file)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--sim", nargs="?", const="nema-bench", metavar="SCENARIO",
                     help="play the NEMA benches on the simulator with this scenario's probe "
                     "(default nema-bench)")
    src.add_argument("--file", metavar="SERIES.csv", help="a NEMA measurement-series CSV")
    p.add_argument("--spectrum", metavar="FILE.n42",
                   help="with --file: a calibrated spectrum for the energy-resolution test")
    p.add_argument("--seed", type=seed, default=0, help="simulator seed (with --sim)")
    p.add_argument("--activity-mbq", metavar="A",
                   type=bounded_float(0.0, MAX_ACTIVITY_MBQ, "MBq", lo_open=True),
                   help="with --file: source activity at the first count of each sensitivity "
                   "series")
    p.add_argument("--activity-sd-mbq", type=bounded_float(0.0, MAX_ACTIVITY_MBQ, "MBq"),
                   default=0.0, help="its 1 sd")
    p.add_argument("--nuclide", default="Tc-99m",
                   help="source nuclide, for decay correction with the t_s column (Tc-99m)")
    p.add_argument("--model", choices=("nonparalysable", "paralysable"),
                   help="counter model for the count-rate test (default: the simulated "
                   "probe's, else nonparalysable)")
    p.add_argument("--energy-kev", type=energy_kev, default=140.5,
                   help="photopeak of the energy-resolution test (default 140.5)")
    p.add_argument("--limits", metavar="FILE.toml", help="NemaLimits from a TOML file")
    p.add_argument("--limit", action="append", default=[], metavar="KEY=VALUE",
                   help="override one limit, e.g. max_spatial_fwhm_mm=20 ('none' = no limit)")
    p.add_argument("--probe", metavar="MODEL[:SERIAL]",
                   help="which probe (required with --file)")
    add_store_arguments(p)
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")
    p.add_argument("--report", metavar="FILE.pdf", help="also write a PDF report of the results")
    p.add_argument("--force", action="store_true", help="replace --report if it exists")
    p.set_defaults(func=run)


def _probe_identity(args: argparse.Namespace) -> tuple[str, str]:
    if args.probe:
        model, _, serial = args.probe.partition(":")
        if not model.strip():
            raise UserError(f"--probe {args.probe!r}: give MODEL or MODEL:SERIAL")
        return model.strip(), serial.strip()
    if args.sim:
        return SIM_MODEL, SIM_SERIAL
    raise UserError("a series file does not say which probe measured it: give --probe "
                    "MODEL:SERIAL")


def _load(args: argparse.Namespace):
    """(NemaData, activity, model, raw data path, source text, detector)."""
    from probe_nav.qc.nema_data import read_series_file

    if args.file:
        data = read_series_file(args.file)
        if args.spectrum:
            from probe_nav.qc.measure import from_file

            m = from_file(args.spectrum)
            if m.spectrum is None or not m.energy_calibration:
                raise UserError(f"{args.spectrum}: needs a spectrum with an energy calibration")
            data.spectrum, data.energy_calibration = m.spectrum.astype(float), \
                tuple(m.energy_calibration)
        return (data, args.activity_mbq, args.model or "nonparalysable",
                str(Path(args.file).resolve()), f"file {args.file}", "")
    from probe_nav.qc.nema_run import simulated_series
    from probe_nav.simulator.scenario import ScenarioError, load

    try:
        probe = load(args.sim).probe
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    data = simulated_series(probe, args.seed)
    return (data, float(data.truth["activity_mbq"]), args.model or probe.dead_time_kind, "",
            f"simulator NEMA benches, scenario {args.sim} (seed {args.seed})", probe.detector)


def _raw_path(args: argparse.Namespace) -> Path:
    from probe_nav.cli.qc import raw_data_dir

    raw_dir = raw_data_dir(args)
    try:
        raw_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise UserError(f"cannot create {raw_dir}: {exc.strerror or exc}") from None
    return raw_dir / f"{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}-qc-nema.csv"


def run(args: argparse.Namespace) -> int:
    """Analyse, store one record per test, print the table; exit 1 if any test failed."""
    from probe_nav.calibration.nuclides import UnknownNuclide, nuclide
    from probe_nav.cli.qc import check_report, open_store, operator, write_pdf_report
    from probe_nav.qc.nema_data import write_series_file
    from probe_nav.qc.nema_run import analyse, limits_from

    check_report(args.report, args.force)  # before any record is stored
    if args.spectrum and not args.file:
        raise UserError("--spectrum goes with --file (the simulator makes its own spectrum)")
    if args.activity_mbq is not None and not args.activity_mbq > 0:
        raise UserError(f"--activity-mbq must be > 0, got {args.activity_mbq}")
    try:
        half_life_s = nuclide(args.nuclide).half_life_s
    except UnknownNuclide as exc:
        raise UserError(str(exc)) from None
    try:
        limits = limits_from(args.limits, args.limit)
    except (UnicodeDecodeError, RecursionError) as exc:  # a binary file; nesting beyond reason
        reason = "not text" if isinstance(exc, UnicodeDecodeError) else "nested too deeply"
        raise UserError(f"{args.limits}: not a valid TOML limits file ({reason})") from None
    model, serial = _probe_identity(args)
    data, activity, counter, raw, source, detector = _load(args)
    outcomes, skipped = analyse(data, limits, activity, args.activity_sd_mbq, half_life_s,
                                counter, args.energy_kev)
    if not outcomes:
        raise UserError("no NEMA test could be analysed: " + "; ".join(skipped))
    if not raw:
        raw_file = _raw_path(args)
        write_series_file(raw_file, data, [source, f"activity_mbq at the first count of each "
                                                  f"sensitivity series: {activity!r}"])
        raw = str(raw_file)
    who = operator(args)
    with open_store(args) as store:
        probe = store.probe(model, serial, detector)
        records = [store.add(probe, "qc", o.test, o.result | {"limits": _limits_dict(limits)},
                             operator=who, source=source, raw_data=raw, passed=o.passed)
                   for o in outcomes]
        path = store.path
    verdicts = [o.passed for o in outcomes if o.passed is not None]
    overall = all(verdicts) if verdicts else None
    if args.json:
        print(json.dumps({"probe": probe.label, "pass": overall, "skipped": skipped,
                          "records": [r.id for r in records], "raw_data": raw,
                          "tests": {o.test.removeprefix("nema-"): o.result for o in outcomes},
                          "truth": data.truth}))
    else:
        _print_table(outcomes, skipped, probe.label, records, path)
    if args.report is not None:
        out = write_pdf_report(args.report, records, path, args.force)
        print(f"report written to {out}", file=sys.stderr)
    return 1 if overall is False else 0


def _limits_dict(limits) -> dict[str, float | None]:
    import dataclasses

    return dataclasses.asdict(limits)


def _print_table(outcomes, skipped, label, records, path) -> None:
    print(f"NEMA NU 3 characterisation of {label}")
    print(f"{'test':<42} {'value':>24}  {'limit':>16}  verdict")
    for o in outcomes:
        r = o.result
        value = f"{r['value']:.4g} +- {r['sd']:.2g} {r['unit']}"
        limit = "-" if r["limit"] is None else f"{r['limit_sense']} {r['limit']:g}"
        verdict = "-" if o.passed is None else ("pass" if o.passed else "FAIL")
        print(f"{r['figure']:<42} {value:>24}  {limit:>16}  {verdict}")
    for line in skipped:
        print(f"not done: {line}")
    print(f"stored as records {records[0].id}-{records[-1].id} in {path}")
