"""`probe-nav calibrate energy|sensitivity|deadtime|crosstalk`: calibrations on a device, the
simulator or recorded files, stored as sealed records that become the probe's active calibration
(crosstalk: cli/calibrate_crosstalk.py)."""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime, timedelta

from probe_nav.cli.qc import add_measurement_arguments, analysis, keep, measure
from probe_nav.errors import RunFailure, UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add `calibrate` and its subcommands."""
    from probe_nav.cases.model import MAX_ACTIVITY_MBQ
    from probe_nav.cli.bounds import bounded_float, energy_kev, rate_cps

    activity = bounded_float(0.0, MAX_ACTIVITY_MBQ, "MBq", lo_open=True)
    activity_sd = bounded_float(0.0, MAX_ACTIVITY_MBQ, "MBq")
    cal = sub.add_parser("calibrate", help="energy, sensitivity, dead-time and crosstalk "
                         "calibration")
    cal_sub = cal.add_subparsers(dest="qc_command", metavar="WHAT", parser_class=type(cal))
    cal_sub.required = True

    energy = cal_sub.add_parser("energy", help="channel-to-keV calibration from a spectrum")
    add_measurement_arguments(energy, 60.0)
    energy.add_argument("--nuclide", metavar="N1[,N2...]",
                        help="sources whose photon lines are used, e.g. Am-241,Co-57,Cs-137 "
                        "(default: the scenario's sources with --sim, else Co-57)")
    energy.add_argument("--lines", metavar="E1,E2,...",
                        help="line energies in keV instead of the nuclide's")
    energy.add_argument("--order", type=int, choices=(1, 2), default=1,
                        help="1 linear (default) or 2 quadratic")
    energy.add_argument("--resolution-at", type=energy_kev, metavar="KEV",
                        help="energy of the line whose FWHM is reported (default: the main)")
    energy.set_defaults(func=run_energy)

    sens = cal_sub.add_parser("sensitivity", help="cps/MBq from a certified source")
    add_measurement_arguments(sens, 30.0)
    sens.add_argument("--nuclide", required=True, help="the source's nuclide, e.g. Co-57")
    sens.add_argument("--activity-mbq", type=activity, required=True,
                      help="certified activity")
    sens.add_argument("--activity-sd-mbq", type=activity_sd, default=0.0, help="its 1 sd")
    sens.add_argument("--reference-date", required=True, metavar="ISO",
                      help="certificate date, e.g. 2025-01-01T12:00+00:00")
    sens.add_argument("--source-serial", default="", help="the source's serial number")
    sens.add_argument("--geometry", default="", help="e.g. '50 mm in air, holder H1'")
    sens.add_argument("--background-cps", type=rate_cps, default=0.0, help="background rate")
    sens.add_argument("--background-sd-cps", type=rate_cps, default=0.0, help="its 1 sd")
    sens.set_defaults(func=run_sensitivity)

    dead = cal_sub.add_parser("deadtime", help="dead time: two-source or decaying-source method")
    add_measurement_arguments(dead, 60.0, required=False)
    dead.add_argument("--method", choices=("two-source", "decaying-source"),
                      default="two-source")
    dead.add_argument("--files", metavar="S1,S2,S12,BG",
                      help="two-source: counts of source 1, source 2, both, and background")
    dead.add_argument("--nuclide", help="decaying-source: the source's nuclide")
    dead.add_argument("--model", choices=("nonparalysable", "paralysable"),
                      default="nonparalysable", help="counter model")
    dead.set_defaults(func=run_deadtime)

    from probe_nav.cli.calibrate_crosstalk import register as register_crosstalk

    register_crosstalk(cal_sub)


def _energies(args: argparse.Namespace) -> tuple[list[float], list[float] | None]:
    """Line energies (keV) and their yields (None for --lines) of the calibration sources:
    every line of each source (X-rays too), yields relative to the source's strongest line."""
    from probe_nav.calibration.nuclides import UnknownNuclide
    from probe_nav.calibration.sources import calibration_lines

    if args.lines:
        try:
            values = [float(x) for x in args.lines.split(",")]
        except ValueError:
            raise UserError(f"--lines {args.lines!r}: give energies in keV like 122,136") from None
        if any(not (0 < v <= 10_000 and math.isfinite(v)) for v in values):
            raise UserError(f"--lines {args.lines}: each energy must be in the allowed range "
                            "above 0 to 10000 keV")
        return values, None
    names = args.nuclide.split(",") if args.nuclide else _scenario_nuclides(args) or ["Co-57"]
    try:
        return calibration_lines(names)
    except UnknownNuclide as exc:
        raise UserError(str(exc)) from None


def _resolution_line(args: argparse.Namespace) -> float | None:
    """--resolution-at, else (with sources named) the highest of their main lines: Ba-133's
    356 keV rather than its weak 384 keV line; None with --lines (the top line is used)."""
    from probe_nav.calibration.nuclides import nuclide

    if args.resolution_at is not None or args.lines:
        return args.resolution_at
    names = args.nuclide.split(",") if args.nuclide else _scenario_nuclides(args) or ["Co-57"]
    return max(nuclide(name.strip()).main_line.energy_kev for name in names)


def _scenario_nuclides(args: argparse.Namespace) -> list[str]:
    """The nuclides of the --sim scenario's sources (the lines its spectrum shows)."""
    if not getattr(args, "sim", None):
        return []
    from probe_nav.simulator.scenario import load

    try:
        scenario = load(args.sim)
    except (OSError, ValueError) as exc:
        raise UserError(str(exc)) from None
    names = [s.nuclide_name for s in scenario.sources]
    return list(dict.fromkeys(names))


def run_energy(args: argparse.Namespace) -> int:
    """Fit the summed spectrum's peaks to known lines; store the calibration. A spectrum whose
    peaks two assignments explain about equally well is refused: exit 1 with the reason, and
    nothing stored (the raw spectrum is kept beside the database)."""
    from probe_nav.calibration.energy import AmbiguousCalibration
    from probe_nav.calibration.errors import AnalysisError
    from probe_nav.qc.procedures import energy

    lines, yields = _energies(args)
    m = measure(args, spectrum=True)
    try:
        outcome = energy(m, lines, args.order, _resolution_line(args), yields)
    except AmbiguousCalibration as exc:  # the spectrum cannot tell: a refusal, not bad input
        raise RunFailure(str(exc)) from None
    except AnalysisError as exc:
        raise UserError(str(exc)) from None
    return keep(args, outcome, m, "calibration")


def run_sensitivity(args: argparse.Namespace) -> int:
    """Sensitivity from a count of a certified source (decay corrected to the count)."""
    from probe_nav.calibration.nuclides import UnknownNuclide
    from probe_nav.calibration.sources import CertifiedSource
    from probe_nav.qc.procedures import sensitivity

    try:
        reference = datetime.fromisoformat(args.reference_date)
    except ValueError:
        raise UserError(f"--reference-date {args.reference_date!r} is not an ISO date") from None
    if reference.tzinfo is None:
        raise UserError("--reference-date needs a time zone, e.g. 2025-01-01T12:00+00:00")
    try:
        source = analysis(CertifiedSource, args.nuclide, args.activity_mbq,
                          args.activity_sd_mbq, reference, args.source_serial)
    except UnknownNuclide as exc:
        raise UserError(str(exc)) from None
    _check_reference_date(reference, source.nuclide.half_life_s)
    m = measure(args)
    outcome = analysis(sensitivity, m, source, args.background_cps, args.background_sd_cps,
                       args.geometry)
    return keep(args, outcome, m, "calibration")


def _check_reference_date(reference: datetime, half_life_s: float) -> None:
    """UserError for a certificate date in the future (beyond 5 min of clock skew) or more than
    30 half-lives ago (the source's activity then is below 1e-9 of its certificate's)."""
    now = datetime.now(UTC)
    earliest = now - timedelta(seconds=30 * half_life_s)
    latest = now + timedelta(minutes=5)
    if not earliest <= reference <= latest:
        raise UserError(f"--reference-date {reference.isoformat()} is outside the allowed range "
                        f"{earliest:%Y-%m-%dT%H:%M}Z to {latest:%Y-%m-%dT%H:%M}Z (not in the "
                        "future, at most 30 half-lives ago)")


def run_deadtime(args: argparse.Namespace) -> int:
    """Dead time from four recorded counts (two-source) or one decaying series."""
    from probe_nav.calibration.nuclides import UnknownNuclide, nuclide
    from probe_nav.qc.procedures import dead_time_decaying, dead_time_two_source

    if args.sim and not args.files:
        return _deadtime_on_benches(args)
    if args.method == "two-source":
        if not args.files:
            raise UserError("the two-source method needs --files S1,S2,S12,BG (four recorded "
                            "counts)")
        names = args.files.split(",")
        if len(names) != 4:
            raise UserError(f"--files needs 4 files (S1,S2,S12,BG), got {len(names)}")
        parts = {k: measure(args, file=f) for k, f in zip(("1", "2", "12", "b"), names,
                                                            strict=True)}
        outcome = analysis(dead_time_two_source, parts, args.model)
        return keep(args, outcome, parts["12"], "calibration")
    if not args.nuclide:
        raise UserError("the decaying-source method needs --nuclide (the source's half-life)")
    try:
        half_life_s = nuclide(args.nuclide).half_life_s
    except UnknownNuclide as exc:
        raise UserError(str(exc)) from None
    if not (args.file or args.device or args.sim):
        raise UserError("give --file, --device or --sim with the decaying-source method")
    m = measure(args)
    outcome = analysis(dead_time_decaying, m, half_life_s, args.model)
    return keep(args, outcome, m, "calibration")


def _deadtime_on_benches(args: argparse.Namespace) -> int:
    """Dead time on the simulator's two-source or decaying-source bench with the scenario's
    probe (each source losing ~10-35 % of its counts, where the method is well conditioned)."""
    from probe_nav.calibration.deadtime_methods import decaying_source, two_source
    from probe_nav.calibration.nuclides import UnknownNuclide, nuclide
    from probe_nav.qc.procedures import Outcome
    from probe_nav.simulator import benches
    from probe_nav.simulator.scenario import ScenarioError, load

    try:
        probe = load(args.sim).probe
    except ScenarioError as exc:
        raise UserError(str(exc)) from None
    if not 0 <= args.seed < 2**63:
        raise UserError(f"--seed {args.seed} is outside the allowed range 0 to {2**63 - 1}")
    try:
        half_life_s = nuclide(args.nuclide or "Tc-99m").half_life_s
    except UnknownNuclide as exc:
        raise UserError(str(exc)) from None
    tau, kind = probe.dead_time_s, probe.dead_time_kind
    if args.method == "two-source":
        b = benches.bench_two_source(0.15 / tau, 0.15 / tau, tau, kind, count_s=args.duration,
                                     probe=probe, seed=args.seed)
        est = analysis(two_source, b.rate("1"), b.rate("2"), b.rate("12"), b.rate("b"),
                       b.real_s["1"], b.real_s["2"], b.real_s["12"], b.real_s["b"], args.model)
        detail = {"rates_cps": {k: b.rate(k) for k in b.counts}, "count_s": args.duration}
    else:
        name = args.nuclide or "Tc-99m"
        r = benches.bench_decaying_source(0.5 / tau, tau, kind, name, probe=probe,
                                          seed=args.seed)
        est = analysis(decaying_source, r.t_s, r.observed_cps, r.real_s, half_life_s,
                       args.model)
        detail = {"nuclide": name, "counts": len(r.counts)}
    result = {"dead_time_s": est.tau_s, "dead_time_sd_s": est.tau_sd_s, "model": est.model,
              "method": est.method, "chi2_dof": est.chi2_dof, **detail}
    summary = [f"dead time {1e6 * est.tau_s:.3f} +- {1e6 * est.tau_sd_s:.3f} us ({est.model}, "
               f"{args.method} method on the simulator's bench)"]
    outcome = Outcome("deadtime", None, result, summary)
    args.probe = args.probe or "probe-nav simulated probe:SIM-0001"
    return keep(args, outcome, None, "calibration")
