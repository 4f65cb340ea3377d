"""`probe-nav case new|list|show|add-count|note|identify|export|send|report|verify`: case
records from the command line.

The database is --db PATH or URL (sqlite:///FILE, postgresql://USER@HOST/DB), else
$PROBE_NAV_DATABASE_URL, else the user data directory's cases.sqlite3, with its key in
cases.sqlite3.key beside it (copy both together; a PostgreSQL store's key: docs/architecture.md).
Reading commands on a damaged database say so in one line on standard error and show what can
still be read; a case with any record that fails its seal is refused whole (exit 2); `verify`
lists every problem in the database.
"""

from __future__ import annotations

import argparse
import json
import math
import sys

from probe_nav.errors import UserError

TABLE_FIELDS = ("node", "in_vivo_cps", "ex_vivo_cps", "bed_cps", "ratio_to_background",
                "percent_of_hottest")


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="PATH|URL", default=None,
                   help="case database: a file, sqlite:///FILE or postgresql://USER@HOST/DB "
                        "(default: $PROBE_NAV_DATABASE_URL, else cases.sqlite3 in the user "
                        "data directory)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the `case` subcommand and its actions."""
    from probe_nav.cases.model import KINDS, MAX_ACTIVITY_MBQ, MAX_COUNTS, MAX_LIVE_S, PROCEDURES
    from probe_nav.cli.bounds import bounded_float, bounded_int, finite_float, rate_cps
    from probe_nav.cli.case_dicom import add_export_options, register_identify
    from probe_nav.cli.case_send import register_send

    live_s = bounded_float(1e-3, MAX_LIVE_S, "s")

    p = subparsers.add_parser("case", help="case records: counts, rules, export, report",
                              description=__doc__)
    sub = p.add_subparsers(dest="case_command", metavar="ACTION")
    sub.required = True

    new = sub.add_parser("new", help="open a new case")
    new.add_argument("case_id", metavar="ID", help="identifier you choose (no patient name)")
    new.add_argument("--procedure", required=True, choices=PROCEDURES)
    new.add_argument("--nuclide", default="Tc-99m", help="default Tc-99m")
    new.add_argument("--activity-mbq", type=bounded_float(0.0, MAX_ACTIVITY_MBQ, "MBq",
                                                          lo_open=True),
                     default=None, help="injected activity")
    new.add_argument("--injected-at", default=None, metavar="TIME",
                     help="injection time, ISO 8601 (e.g. 2026-05-09T07:30); local if no zone; "
                     "not after the case was opened, at most 30 half-lives before it")
    new.add_argument("--opened-at", default=None, metavar="TIME",
                     help="when the case began (default now), for a case entered afterwards")
    new.add_argument("--probe", default="", help="probe identity (model, serial)")
    new.add_argument("--calibration", default="", help="calibration / QC record used")
    new.add_argument("--operator", default="")
    new.add_argument("--notes", default="")
    new.set_defaults(func=run_new)

    lst = sub.add_parser("list", help="list the cases")
    lst.add_argument("--json", action="store_true", help="one JSON object per case")
    lst.set_defaults(func=run_list)

    show = sub.add_parser("show", help="a case with its node table and verdicts")
    show.add_argument("case_id", metavar="ID")
    show.add_argument("--json", action="store_true", help="the whole case as JSON")
    show.set_defaults(func=run_show)

    add = sub.add_parser("add-count", help="record a timed count as a node of a kind")
    add.add_argument("case_id", metavar="ID")
    add.add_argument("node", metavar="NODE", help="node name, e.g. 'SLN 1' or 'background'")
    add.add_argument("--kind", required=True, choices=KINDS)
    src = add.add_mutually_exclusive_group(required=True)
    src.add_argument("--counts", type=bounded_int(0, MAX_COUNTS), default=None,
                     help="counts (with --live-s)")
    src.add_argument("--frames", metavar="FILE", default=None,
                     help="take the count from a frame CSV file (e.g. `sim run --out`)")
    add.add_argument("--live-s", type=live_s, default=None, help="live time of --counts")
    add.add_argument("--preset-s", type=live_s, default=10.0,
                     help="preset live time of a count from --frames (default 10)")
    add.add_argument("--start-s", type=finite_float, default=None,
                     help="start the count at this t_s of --frames (default: first frame)")
    add.add_argument("--background-cps", type=rate_cps, default=0.0)
    add.add_argument("--background-sd-cps", type=rate_cps, default=0.0)
    add.add_argument("--at", default=None, metavar="TIME", help="time of the count (default now)")
    add.add_argument("--note", default="")
    add.set_defaults(func=run_add_count)

    note = sub.add_parser("note", help="write a decision or remark into the case")
    note.add_argument("case_id", metavar="ID")
    note.add_argument("text", metavar="TEXT")
    note.set_defaults(func=run_note)

    exp = sub.add_parser("export", help="export a case as CSV or JSON")
    exp.add_argument("case_id", metavar="ID")
    exp.add_argument("--format", choices=("csv", "json"), default=None,
                     help="default: from --out's suffix, else json")
    exp.add_argument("--out", metavar="FILE", default=None, help="default: standard output")
    exp.add_argument("--force", action="store_true", help="replace --out if it exists")
    add_export_options(exp)
    exp.set_defaults(func=run_export)

    rep = sub.add_parser("report", help="write the PDF report of a case")
    rep.add_argument("case_id", metavar="ID")
    rep.add_argument("--out", metavar="FILE.pdf", required=True)
    rep.add_argument("--force", action="store_true", help="replace --out if it exists")
    rep.set_defaults(func=run_report)

    ver = sub.add_parser("verify", help="check every record of the database: report every "
                         "problem (exit 2), or one line if all is sound")
    ver.set_defaults(func=run_verify)

    for action in (new, lst, show, add, note, exp, rep, ver):
        _db_option(action)
    register_identify(sub, _db_option)
    register_send(sub, _db_option)


def _url(args: argparse.Namespace):
    """The case database's URL: --db, else $PROBE_NAV_DATABASE_URL, else the default file."""
    from probe_nav.cases.store import default_case_db
    from probe_nav.storage.urls import database_url

    return database_url(args.db, default_case_db())


def _open(args: argparse.Namespace, *, write: bool):
    from probe_nav.cases.store import CaseStore
    from probe_nav.storage import StoreError

    url = _url(args)
    if url.path is None:  # a database server: no file to find or salvage
        return CaseStore.open(url)
    path = url.path
    if not write and not path.exists():
        raise UserError(f"{path}: no case database yet (create a case with `probe-nav case new`)")
    try:
        return CaseStore.open(path)
    except StoreError as exc:
        if write or "damaged" not in str(exc):
            raise
        print(f"probe-nav: warning: {exc}; showing what can still be read", file=sys.stderr)
        return CaseStore.salvage(path)


def _report_skipped(store) -> None:
    if store.skipped_records:
        print(f"probe-nav: warning: {store.skipped_records} damaged record(s) skipped in "
              f"{store.path}", file=sys.stderr)


def run_new(args: argparse.Namespace) -> int:
    """Create a case."""
    from probe_nav.cases.model import parse_time

    injected = parse_time(args.injected_at) if args.injected_at else None
    opened = parse_time(args.opened_at) if args.opened_at else None
    with _open(args, write=True) as store:
        case = store.create_case(
            args.case_id, args.procedure, args.nuclide, created_unix_s=opened,
            injected_activity_mbq=args.activity_mbq,
            injection_unix_s=injected, probe=args.probe, calibration=args.calibration,
            operator=args.operator, notes=args.notes)
        print(f"case {case.case_id} created in {store.path}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    """List the cases."""
    from probe_nav.cases.model import format_unix_s

    with _open(args, write=False) as store:
        cases = store.cases()
        for case in cases:
            n = len(store.measurements(case.case_id))
            if args.json:
                print(json.dumps({**case.as_dict(), "measurements": n}))
            else:
                print(f"{case.case_id}\t{case.procedure}\t{case.nuclide}\t"
                      f"{format_unix_s(case.created_unix_s)}\t{n} measurement(s)")
        _report_skipped(store)
    return 0


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}" if math.isfinite(value) else "-"
    return str(value)


def run_show(args: argparse.Namespace) -> int:
    """Show a case: details, node table with verdicts, measurements."""
    from probe_nav.cases.export import case_to_json
    from probe_nav.cases.model import format_unix_s

    with _open(args, write=False) as store:
        case = store.case(args.case_id)
        ms = store.measurements(case.case_id)
        table = store.node_table(case.case_id)
        if args.json:
            sys.stdout.write(case_to_json(case, ms, table, store.notes(case.case_id),
                             store.retention_points(case.case_id),
                             store.sends(case.case_id)))
            _report_skipped(store)
            return 0
        print(f"case {case.case_id}: {case.procedure}, {case.nuclide}, probe "
              f"{case.probe or '-'}, calibration {case.calibration or '-'}")
        print(f"decay corrected to {format_unix_s(case.reference_unix_s)}; background "
              f"{_fmt(table.background_cps)} cps; rules: {', '.join(table.rules)}")
        print("\t".join(TABLE_FIELDS) + "\tverdicts")
        for row in table.rows:
            cells = [_fmt(getattr(row, f)) for f in TABLE_FIELDS]
            verdicts = "; ".join(v.text for v in row.verdicts) or "-"
            print("\t".join(cells) + f"\t{verdicts}")
        for note in store.notes(case.case_id):
            print(f"note {format_unix_s(note.t_unix_s)}: {note.text}")
        for sent in store.sends(case.case_id):
            print(f"DICOM {format_unix_s(sent.sent_unix_s)}: {sent.line()}")
        _report_skipped(store)
    return 0


def _result_from_args(args: argparse.Namespace):
    from probe_nav.core.background import Background
    from probe_nav.core.timed import TimedCount

    for name in ("background_cps", "background_sd_cps", "preset_s"):
        value = getattr(args, name)
        if not math.isfinite(value) or value < 0 or (name == "preset_s" and value == 0):
            raise UserError(f"--{name.replace('_', '-')} must be a non-negative number")
    background = Background.given(args.background_cps, args.background_sd_cps)
    if args.counts is not None:
        if args.live_s is None or not (math.isfinite(args.live_s) and args.live_s > 0):
            raise UserError("--counts needs --live-s, a positive number of seconds")
        if args.counts < 0:
            raise UserError("--counts must not be negative")
        count = TimedCount(args.live_s, background=background)
        count.add([args.counts], [args.live_s])
        return count.result
    from probe_nav.cli.replay import _load

    try:
        table = _load(args.frames)
    except OverflowError:  # a count beyond int64 in the file
        raise UserError(f"{args.frames}: a count is too large to be real (above 2^63)") from None
    _check_frames(args.frames, table.counts, table.live_s)
    start = 0
    if args.start_s is not None:
        start = int((table.t_s < args.start_s).sum())
    if start >= len(table):
        raise UserError(f"{args.frames}: no frames at or after t_s {args.start_s}")
    count = TimedCount(args.preset_s, background=background)
    real = None if table.real_s is None else table.real_s[start:]
    count.add(table.counts[start:], table.live_s[start:], real, table.t_s[start:])
    result = count.result
    if not result.complete:
        raise UserError(f"{args.frames}: only {result.live_s:.2f} s of live time after the "
                        f"start, less than --preset-s {args.preset_s:g}")
    return result


def _check_frames(path: str, counts, live_s) -> None:
    """UserError naming the first frame whose counts exceed 1e7 cps x its live time (nothing a
    probe's counter can report) or whose live time is negative."""
    import numpy as np

    from probe_nav.cases.model import GENEROUS_MAX_RATE_CPS

    live = np.asarray(live_s, dtype=float)
    ceiling = np.floor(GENEROUS_MAX_RATE_CPS * np.clip(live, 0.0, None)) + 1
    bad = np.flatnonzero((np.asarray(counts, dtype=float) > ceiling) | ~(live >= 0))
    if bad.size:
        i = int(bad[0])
        raise UserError(f"{path}: frame {i + 1} has {int(counts[i])} counts in {live[i]:g} s "
                        f"live, outside the allowed range 0 to {int(ceiling[i])} "
                        f"({GENEROUS_MAX_RATE_CPS:g} cps x live time)")


def run_add_count(args: argparse.Namespace) -> int:
    """Record a timed count."""
    from probe_nav.cases.model import parse_time

    result = _result_from_args(args)
    at = parse_time(args.at) if args.at else None
    with _open(args, write=True) as store:
        m = store.record(args.case_id, args.node, args.kind, result, at, args.note)
        print(f"recorded #{m.measurement_id}: {m.node} ({m.kind}) {m.counts} counts in "
              f"{m.live_s:.2f} s = {m.rate_cps:.2f} +/- {m.rate_sd_cps:.2f} cps "
              f"(decay corrected {m.corrected_rate_cps:.2f} cps)")
    return 0


def run_note(args: argparse.Namespace) -> int:
    """Add a note to a case."""
    with _open(args, write=True) as store:
        store.add_note(args.case_id, args.text)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Check the whole database: every problem on standard output, exit 2 if any."""
    from probe_nav.cases.store import CaseStore

    url = _url(args)
    path = url.path if url.path is not None else url.display
    if url.path is not None and not url.path.exists():
        raise UserError(f"{path}: no case database")
    with CaseStore.open(url) as store:
        path = store.path  # a server's store named with its schema
        report = store.verify()
        note = store.upgrade_note()
    for problem in report.problems:
        print(problem)
    if report.problems:
        raise UserError(f"{path}: {len(report.problems)} problem(s) found in {report.chains} "
                        f"chain(s), {report.records} record(s); the cases concerned are refused")
    print(f"{path}: {report.chains} chain(s), {report.records} record(s): every record verified")
    if note:
        print(f"{path}: {note}")
    return 0


def _write_out(path: str | None, text: str, force: bool = False) -> None:
    from probe_nav.files import OutputExists, atomic_write_text

    if path is None:
        sys.stdout.write(text)
        return
    try:
        atomic_write_text(path, text, overwrite=force)
    except OutputExists:
        raise UserError(f"--out {path} exists; add --force to replace it") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot write ({exc.strerror or exc})") from None


def run_export(args: argparse.Namespace) -> int:
    """Export a case as CSV or JSON."""
    from probe_nav.cases.export import case_to_csv, case_to_json

    if args.dicom is not None:
        from probe_nav.cli.case_dicom import run_export_dicom

        return run_export_dicom(args)
    fmt = args.format or ("csv" if args.out and args.out.lower().endswith(".csv") else "json")
    with _open(args, write=False) as store:
        case = store.case(args.case_id)
        ms = store.measurements(case.case_id)
        table = store.node_table(case.case_id)
        text = (case_to_csv(case, ms, table) if fmt == "csv" else
                case_to_json(case, ms, table, store.notes(case.case_id),
                             store.retention_points(case.case_id)))
        _write_out(args.out, text, args.force)
        _report_skipped(store)
    return 0


def run_report(args: argparse.Namespace) -> int:
    """Write the PDF report."""
    from probe_nav.cases.report import write_case_report
    from probe_nav.cli.private_file import write_private_file

    with _open(args, write=False) as store:
        case = store.case(args.case_id)
        ms, table = store.measurements(case.case_id), store.node_table(case.case_id)
        notes = store.notes(case.case_id)
        path = write_private_file(
            args.out, lambda temp: write_case_report(temp, case, ms, table, notes), args.force)
        print(f"report written to {path}")
        _report_skipped(store)
    return 0
