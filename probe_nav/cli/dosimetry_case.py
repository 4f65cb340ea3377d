"""`probe-nav dosimetry add|list|report` and `dosimetry fit --case`: retention points kept in the
case store (probe_nav.cases.retention) and the fit and PDF report of a case's series.

The case's nuclide is the therapy nuclide and its injection time the administration time (a case
without one refuses dosimetry). The database is the case database (`--db PATH`, alias
`--case-db`; default cases.sqlite3 in the user data directory, its key beside it). Bad input:
one line on standard error, exit 2, nothing stored.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Sequence
from typing import Any

from probe_nav.errors import UserError


def db_option(p: argparse.ArgumentParser) -> None:
    """--db PATH (alias --case-db): the case database, as the `case` commands take it."""
    p.add_argument("--db", "--case-db", dest="db", metavar="PATH", default=None,
                   help="case database (default: cases.sqlite3 in the user data directory)")


def _hours_list(text: str) -> list[float]:
    from probe_nav.cli.bounds import finite_float

    try:
        values = [finite_float(v) for v in text.split(",") if v.strip()]
    except (argparse.ArgumentTypeError, ValueError):
        raise argparse.ArgumentTypeError(f"not a list of hours: {text!r}") from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"hours after administration must be >= 0: {text!r}")
    return values


def add_case_actions(sub: argparse._SubParsersAction) -> None:
    """Add `add`, `list` and `report` to the `dosimetry` subcommand's actions."""
    from probe_nav.cases.model import MAX_COUNTS, MAX_LIVE_S
    from probe_nav.cli.bounds import bounded_float, bounded_int, finite_float, rate_cps

    live_s = bounded_float(1e-3, MAX_LIVE_S, "s")
    add = sub.add_parser("add", help="store a retention count of a therapy case")
    add.add_argument("case_id", metavar="CASE")
    when = add.add_mutually_exclusive_group(required=True)
    when.add_argument("--at", metavar="TIME", default=None,
                      help="time of the count, ISO 8601 (a zone, e.g. 2026-11-20T10:00+01:00; "
                      "local time without one)")
    when.add_argument("--time-h", type=finite_float, default=None,
                      help="time of the count in hours after administration")
    add.add_argument("--counts", type=bounded_int(0, MAX_COUNTS), required=True)
    add.add_argument("--live-s", type=live_s, required=True, help="live time of the count")
    add.add_argument("--background-cps", type=rate_cps, default=None,
                     help="background rate in the same geometry (default 0)")
    add.add_argument("--background-sd-cps", type=rate_cps, default=None,
                     help="1 sd of --background-cps (default 0)")
    add.add_argument("--background-counts", type=bounded_int(0, MAX_COUNTS), default=None,
                     help="a background count instead of --background-cps (with "
                     "--background-live-s; sd from counting)")
    add.add_argument("--background-live-s", type=live_s, default=None)
    add.add_argument("--geometry", required=True,
                     help="geometry id of the series, e.g. 1m-standing")
    add.add_argument("--operator", default="")
    add.set_defaults(func=run_add)

    lst = sub.add_parser("list", help="the retention points of a case")
    lst.add_argument("case_id", metavar="CASE")
    lst.add_argument("--json", action="store_true", help="the case's points as one JSON object")
    lst.set_defaults(func=run_list)

    rep = sub.add_parser("report", help="write the PDF dosimetry report of a case")
    rep.add_argument("case_id", metavar="CASE")
    rep.add_argument("--pdf", metavar="OUT.pdf", required=True)
    rep.add_argument("--force", action="store_true", help="replace --pdf if it exists")
    add_series_options(rep)
    rep.add_argument("--usv-h-per-cps", type=bounded_float(0.0, 1e6, "µSv/h per cps",
                                                           lo_open=True), default=None,
                     help="I-131 release: dose rate at 1 m per net cps (with "
                     "--release-limit-usv-h)")
    rep.add_argument("--release-limit-usv-h", type=bounded_float(0.0, 1e6, "µSv/h",
                                                                 lo_open=True),
                     default=None, help="I-131 release: the dose-rate limit at 1 m")
    rep.set_defaults(func=run_report)
    for action in (add, lst, rep):
        db_option(action)


def add_series_options(p: argparse.ArgumentParser) -> None:
    """--geometry and --fractions-at-h of a fit of a case's stored points."""
    p.add_argument("--geometry", default=None,
                   help="fit the points of this geometry (needed when the case has several)")
    p.add_argument("--fractions-at-h", type=_hours_list, default=None, metavar="H[,H...]",
                   help="retained fractions at these hours (default: the measured times)")


def add_fit_case_options(fit: argparse.ArgumentParser) -> None:
    """`dosimetry fit --case CASE [--geometry G] [--db PATH]` (fit's own --geometry chooses
    the stored points' geometry): the points from the case store."""
    fit.add_argument("--case", dest="case_id", metavar="CASE", default=None,
                     help="fit the retention points stored in this case (instead of "
                     "--nuclide/--times-h/...: the case's nuclide is the therapy's; "
                     "--geometry chooses among the stored geometries)")
    db_option(fit)


EXPLICIT_SERIES = (("--nuclide", "nuclide"), ("--times-h", "times_h"), ("--counts", "counts"),
                   ("--live-s", "live_s"))


def run_fit_case(args: argparse.Namespace) -> int:
    """`dosimetry fit --case`: the case's stored points (one geometry) and nuclide, fitted and
    printed exactly as the explicit form prints a series (probe_nav.cli.dosimetry.print_fit)."""
    from probe_nav.cli.dosimetry import print_fit

    given = [o for o, name in EXPLICIT_SERIES if getattr(args, name, None) is not None]
    given += [o for o, name in (("--background-cps", "background_cps"),
                                ("--background-sd-cps", "background_sd_cps"))
              if getattr(args, name, [0.0]) != [0.0]]
    if given:
        raise UserError(f"--case takes the series and nuclide from the case store; not with "
                        f"{', '.join(given)}")
    case, points, _ = case_analysis(args)
    args.nuclide = case.nuclide
    return print_fit([p.as_point() for p in points], args)


def _open(args: argparse.Namespace, *, write: bool):
    """The case store, as the `case` commands open it (a damaged one read only for reading)."""
    from probe_nav.cli.case import _open as open_case_db

    return open_case_db(args, write=write)


def _background(args: argparse.Namespace) -> tuple[float, float]:
    from probe_nav.cases.retention import background_from_count

    rate_given = args.background_cps is not None or args.background_sd_cps is not None
    count_given = args.background_counts is not None or args.background_live_s is not None
    if rate_given and count_given:
        raise UserError("give the background as --background-cps/--background-sd-cps or as "
                        "--background-counts/--background-live-s, not both")
    if count_given:
        if args.background_counts is None or args.background_live_s is None:
            raise UserError("--background-counts and --background-live-s go together")
        return background_from_count(args.background_counts, args.background_live_s)
    if args.background_sd_cps is not None and args.background_cps is None:
        raise UserError("--background-sd-cps needs --background-cps")
    return args.background_cps or 0.0, args.background_sd_cps or 0.0


def run_add(args: argparse.Namespace) -> int:
    """Store one retention point."""
    from probe_nav.cases.model import parse_time

    background_cps, background_sd_cps = _background(args)
    when: dict[str, float] = ({"measured_unix_s": parse_time(args.at)} if args.at is not None
                              else {"time_h": args.time_h})
    with _open(args, write=True) as store:
        p = store.add_retention_point(args.case_id, counts=args.counts, live_s=args.live_s,
                                      geometry=args.geometry, background_cps=background_cps,
                                      background_sd_cps=background_sd_cps,
                                      operator=args.operator, **when)
        print(f"retention point {p.point_id} of case {p.case_id} stored: {p.time_h:.4g} h "
              f"after administration, net {p.net_cps:.6g} ± {p.net_sd_cps:.2g} cps "
              f"({p.geometry})")
    return 0


def _case_points(store: Any, case_id: str):
    from probe_nav.cases.retention import check_dosimetry_case

    case = store.case(case_id)
    check_dosimetry_case(case)
    return case, store.retention_points(case.case_id)


def run_list(args: argparse.Namespace) -> int:
    """Print a case's retention points (a table, or one JSON object)."""
    from probe_nav.cases.model import format_unix_s
    from probe_nav.cli.case import _report_skipped

    with _open(args, write=False) as store:
        case, points = _case_points(store, args.case_id)
        if args.json:
            doc = {"case_id": case.case_id, "nuclide": case.nuclide,
                   "administered_unix_s": case.injection_unix_s,
                   "administered_activity_mbq": case.injected_activity_mbq,
                   "points": [p.as_dict() for p in points]}
            print(json.dumps(doc, allow_nan=False))
        else:
            print(f"case {case.case_id}: {case.nuclide} administered "
                  f"{format_unix_s(case.injection_unix_s)}; {len(points)} retention point(s)")
            print("id\ttime\tafter_h\tcounts\tlive_s\tbackground_cps\tnet_cps\tnet_sd_cps\t"
                  "geometry\toperator")
            for p in points:
                print(f"{p.point_id}\t{format_unix_s(p.measured_unix_s)}\t{p.time_h:.4g}\t"
                      f"{p.counts}\t{p.live_s:g}\t{p.background_cps:.4g}±{p.background_sd_cps:.2g}"
                      f"\t{p.net_cps:.6g}\t{p.net_sd_cps:.3g}\t{p.geometry}\t"
                      f"{p.operator or '-'}")
        _report_skipped(store)
    return 0


def case_analysis(args: argparse.Namespace):
    """(case, points, RetentionAnalysis) of the case's stored points of one geometry
    (args.case_id, args.geometry, args.db); UserError when they cannot be fitted."""
    from probe_nav.cases.retention import select_geometry
    from probe_nav.dosimetry.fit import fit_series
    from probe_nav.dosimetry.series import SeriesError

    with _open(args, write=False) as store:
        case, stored = _case_points(store, args.case_id)
    points = select_geometry(stored, args.geometry or None)
    try:
        analysis = fit_series([p.as_point() for p in points], case.nuclide)
    except (SeriesError, ValueError) as exc:
        raise UserError(f"case {case.case_id}: {exc}") from None
    return case, points, analysis


def _release(args: argparse.Namespace):
    from probe_nav.cases.dosimetry_report import ReleaseCriterion

    if (args.usv_h_per_cps is None) != (args.release_limit_usv_h is None):
        raise UserError("--release-limit-usv-h and --usv-h-per-cps go together")
    if args.usv_h_per_cps is None:
        return None
    return ReleaseCriterion(args.usv_h_per_cps, args.release_limit_usv_h)


def run_report(args: argparse.Namespace) -> int:
    """Fit the case's series and write its PDF report (all or nothing, mode 0600)."""
    from probe_nav.cases.dosimetry_report import write_dosimetry_report
    from probe_nav.cli.private_file import check_output_path, write_private_file

    out = check_output_path(args.pdf, "--pdf", (".pdf",), args.force)
    release = _release(args)
    case, points, analysis = case_analysis(args)
    at_h: Sequence[float] | None = args.fractions_at_h
    written = write_private_file(
        out, lambda path: write_dosimetry_report(path, case, points, analysis,
                                                 fractions_at_h=at_h, release=release),
        args.force, "--pdf")
    chosen = analysis.chosen
    sd = chosen.t_eff_sd_h if math.isfinite(chosen.t_eff_sd_h) else math.nan
    print(f"dosimetry report of case {case.case_id} written to {written} ({chosen.model}, "
          f"T_eff {chosen.t_eff_h:.4g} ± {sd:.2g} h)")
    return 0


__all__ = ["add_case_actions", "add_fit_case_options", "add_series_options", "case_analysis",
           "db_option", "run_fit_case"]
