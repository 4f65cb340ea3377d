"""`probe-nav dosimetry fit`: retention dosimetry after Lu-177, I-131 or Ac-225 therapy.

`fit` fits mono- and bi-exponential retention to a fixed-geometry series given on the command
line (times after administration in hours, counts, live times, background), chooses by AICc and
prints both fits: effective (and biological) half-lives, retained fractions, the time-integrated
activity coefficient (TIAC) with 1 sd, the share of the TIAC that is extrapolated (flagged above
20 %), and for I-131 the time the dose rate at 1 m reaches a release limit.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from probe_nav.errors import UserError

MAX_TIME_H = 24.0 * 365.0  # a year of follow-up
MAX_LIVE_S = 86_400.0
MAX_COUNTS = 10**15


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `dosimetry` subcommand and its actions."""
    p = subparsers.add_parser("dosimetry", help="retention fits after radionuclide therapy",
                              description=__doc__)
    sub = p.add_subparsers(dest="dosimetry_command", metavar="ACTION")
    sub.required = True
    from probe_nav.cli.dosimetry_case import add_case_actions, add_fit_case_options

    add_fit_case_options(_register_fit(sub))  # fit --case: the points of a stored case (H2)
    add_case_actions(sub)  # add, list, report: retention points in the case store


def comma_list(parse_one: Callable[[str], Any]) -> Callable[[str], list[Any]]:
    """An argparse type: comma-separated values, each parsed (and range-checked) by parse_one."""
    def parse(text: str) -> list[Any]:
        parts = [part.strip() for part in text.split(",")]
        if not all(parts):
            raise argparse.ArgumentTypeError(f"{text!r}: empty value in the list")
        return [parse_one(part) for part in parts]

    parse.__name__ = "list"
    return parse


def _register_fit(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """The `fit` action: a series from the command line (returned so that other sources of
    points can be added to it)."""
    from probe_nav.cli.bounds import bounded_float, bounded_int, rate_cps

    fit = sub.add_parser("fit", help="fit a retention series", description=__doc__)
    fit.add_argument("--nuclide", default=None,
                     help="Lu-177, I-131, Ac-225, ... (required unless --case)")
    fit.add_argument("--times-h", type=comma_list(bounded_float(0.0, MAX_TIME_H, "h")),
                     metavar="T1,T2,...", help="hours after administration, increasing")
    fit.add_argument("--counts", type=comma_list(bounded_int(0, MAX_COUNTS)),
                     metavar="N1,N2,...", help="counts of each point")
    fit.add_argument("--live-s", type=comma_list(bounded_float(0.0, MAX_LIVE_S, "s",
                                                               lo_open=True)),
                     metavar="L[,L2,...]", help="live time: one for all points or one per point")
    fit.add_argument("--background-cps", type=comma_list(rate_cps), default=[0.0],
                     metavar="B[,B2,...]", help="background rate (one or one per point; "
                     "default 0)")
    fit.add_argument("--background-sd-cps", type=comma_list(rate_cps), default=[0.0],
                     metavar="S[,S2,...]", help="1 sd of the background rate (default 0)")
    fit.add_argument("--geometry", default="", help="geometry id of the series (stored with it)")
    fit.add_argument("--at-h", type=comma_list(bounded_float(0.0, MAX_TIME_H, "h")),
                     default=None, metavar="T1,...",
                     help="retained fractions at these times (default: the measured times)")
    fit.add_argument("--release-limit-usv-h", type=bounded_float(0.0, 1e6, "uSv/h", lo_open=True),
                     default=None, metavar="LIMIT",
                     help="I-131: dose rate at 1 m for release; needs --usv-h-per-cps")
    fit.add_argument("--usv-h-per-cps", type=bounded_float(0.0, 1e6, "uSv/h per cps",
                                                           lo_open=True),
                     default=None, metavar="K", help="dose rate at 1 m per net cps of the series")
    fit.add_argument("--json", action="store_true", help="print the fit as one JSON object")
    fit.set_defaults(func=run_fit)
    return fit


def _broadcast(values: Sequence[float], n: int, option: str) -> list[float]:
    """One value for every point, or one per point."""
    if len(values) == 1:
        return list(values) * n
    if len(values) != n:
        raise UserError(f"{option} has {len(values)} values for {n} points (give 1 or {n})")
    return list(values)


def points_from_args(args: argparse.Namespace) -> list[Any]:
    """The series of --times-h/--counts/--live-s/--background-*; UserError if inconsistent."""
    from probe_nav.dosimetry.series import RetentionPoint

    missing = [o for o, v in (("--times-h", args.times_h), ("--counts", args.counts),
                              ("--live-s", args.live_s)) if v is None]
    if missing:
        raise UserError(f"a series needs {', '.join(missing)}")
    n = len(args.times_h)
    if len(args.counts) != n:
        raise UserError(f"--counts has {len(args.counts)} values for {n} times")
    live = _broadcast(args.live_s, n, "--live-s")
    background = _broadcast(args.background_cps, n, "--background-cps")
    background_sd = _broadcast(args.background_sd_cps, n, "--background-sd-cps")
    return [RetentionPoint(t, c, lv, b, s, args.geometry)
            for t, c, lv, b, s in zip(args.times_h, args.counts, live, background, background_sd,
                                      strict=True)]


def run_fit(args: argparse.Namespace) -> int:
    """Fit the series and print it."""
    if (args.release_limit_usv_h is None) != (args.usv_h_per_cps is None):
        raise UserError("--release-limit-usv-h and --usv-h-per-cps go together")
    if getattr(args, "case_id", None) is not None:
        from probe_nav.cli.dosimetry_case import run_fit_case

        return run_fit_case(args)
    if args.nuclide is None:
        raise UserError("a series needs --nuclide (or --case CASE for a stored series)")
    return print_fit(points_from_args(args), args)


def print_fit(points: Sequence[Any], args: argparse.Namespace) -> int:
    """Fit `points` of args.nuclide and print the result (JSON or a table); exit status 0."""
    from probe_nav.dosimetry.fit import fit_series, json_number
    from probe_nav.dosimetry.release import release_time_h

    try:
        analysis = fit_series(points, args.nuclide)
    except ValueError as exc:  # SeriesError, UnknownNuclide
        raise UserError(str(exc)) from None
    out = analysis.as_dict(args.at_h)
    if args.release_limit_usv_h is not None:
        t_h, sd_h = release_time_h(analysis.chosen, args.usv_h_per_cps, args.release_limit_usv_h)
        out["release"] = {"limit_usv_h": args.release_limit_usv_h,
                          "usv_h_per_cps": args.usv_h_per_cps,
                          "t_h": json_number(t_h), "sd_h": json_number(sd_h)}
    if args.json:
        print(json.dumps(out, allow_nan=False))
    else:
        print("\n".join(fit_table(out)))
    return 0


def _pm(value: float | None, sd: float | None, unit: str = "") -> str:
    if value is None:
        return "inf"
    text = f"{value:.4g}" if sd is None else f"{value:.4g} ± {sd:.2g}"
    return f"{text} {unit}".rstrip()


def fit_table(out: dict[str, Any]) -> list[str]:
    """The human summary of a fit's JSON (as_dict plus release)."""
    from probe_nav.dosimetry.fit import SCATTER_P

    lines = [f"{out['nuclide']} (T_phys {out['t_phys_h']:.4g} h): chosen {out['model']} by AICc"]
    for name in ("mono", "bi"):
        fit = out[name]
        aicc = out["aicc"][name]
        if fit is None:
            lines.append(f"  bi:   not fitted: {out['bi_note']}")
            continue
        lines.append(f"  {name + ':':5} T_eff {_pm(fit['t_eff_h'], fit['t_eff_sd_h'], 'h')}, "
                     f"TIAC {_pm(fit['tiac_h'], fit['tiac_sd_h'], 'h')}, AICc "
                     f"{'undefined' if aicc is None else f'{aicc:.2f}'}, "
                     f"chi2/dof {_pm(fit['chi2_dof'], None)}")
        if name == "mono":
            lines.append(f"         T_bio {_pm(fit['t_bio_h'], fit['t_bio_sd_h'], 'h')}")
        else:
            lines.append(f"         fast: fraction "
                         f"{_pm(fit['fraction_fast'], fit['fraction_fast_sd'])}, T_eff "
                         f"{_pm(fit['t_eff_fast_h'], fit['t_eff_fast_sd_h'], 'h')}; slow: T_eff "
                         f"{_pm(fit['t_eff_slow_h'], fit['t_eff_slow_sd_h'], 'h')}")
            if out["bi_note"]:
                lines.append(f"         {out['bi_note']}")
    chosen = out[out["model"]]
    if chosen["chi2_p"] is not None and chosen["chi2_p"] < SCATTER_P:
        lines.append(f"WARNING: scatter beyond counting statistics (chi2/dof "
                     f"{chosen['chi2_dof']:.3g}, p = {chosen['chi2_p']:.2g}): the sds understate "
                     "the uncertainty; check the geometry of each point")
    flag = "  ** FLAGGED: over 20 % extrapolated **" if out["extrapolation_flag"] else ""
    lines.append(f"extrapolated share of the TIAC: {out['extrapolated_fraction']:.1%}{flag}")
    lines.append("  t_h   retained fraction")
    for row in out["fractions"]:
        lines.append(f"  {row['t_h']:>5g}  {_pm(row['fraction'], row['sd'])}")
    if "release" in out:
        rel = out["release"]
        lines.append(f"release (dose rate at 1 m <= {rel['limit_usv_h']:g} uSv/h): "
                     f"{_pm(rel['t_h'], rel['sd_h'], 'h')} after administration")
    return lines
