"""`probe-nav qc history|verify`: list, report (PDF) and verify the stored QC records - kept apart
from cli/qc.py, which measures and stores them."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from probe_nav.cli.private_file import write_private_file
from probe_nav.errors import UserError


def register_records(qc_sub: argparse._SubParsersAction) -> None:
    """Add `qc history` and `qc verify`."""
    from probe_nav.cli.qc import add_store_arguments

    hist = qc_sub.add_parser("history", help="list the records; --report writes a PDF")
    add_store_arguments(hist)
    hist.add_argument("--probe", metavar="MODEL[:SERIAL]", help="only this probe")
    hist.add_argument("--test", help="only this test (daily, chi-square, energy, ...)")
    hist.add_argument("--report", metavar="FILE.pdf", help="write a PDF report")
    hist.add_argument("--force", action="store_true", help="replace --report if it exists")
    hist.add_argument("--json", action="store_true", help="one JSON object per record")
    hist.set_defaults(func=run_history)

    ver = qc_sub.add_parser("verify", help="check every record of the database: report every "
                            "problem (exit 2), or one line if all is sound")
    add_store_arguments(ver)
    ver.set_defaults(func=run_verify)


def check_report(path: str | None, force: bool) -> None:
    """UserError unless --report names a PDF that is new (or may be replaced: --force)."""
    from probe_nav.files import check_new_output

    if path is None:
        return
    if Path(path).suffix.lower() != ".pdf":
        raise UserError(f"--report {path}: the report is a PDF; name it FILE.pdf")
    try:
        check_new_output(path, force)
    except FileExistsError:
        raise UserError(f"--report {path} exists; add --force to replace it") from None
    except OSError as exc:
        raise UserError(f"--report {path}: {exc.strerror or exc}") from None


def write_pdf_report(path: str, records, db_path, force: bool) -> Path:
    """The QC report PDF; UserError if it cannot be written (or appeared meanwhile)."""
    from probe_nav.qc.report import write_report

    return write_private_file(path, lambda temp: write_report(temp, records, db_path), force,
                              "--report")


def run_history(args: argparse.Namespace) -> int:
    """Print the verified records (oldest first); a tampered record stops with exit 2."""
    from probe_nav.cli.qc import open_store

    check_report(args.report, args.force)
    with open_store(args) as store:
        probe = None
        if args.probe:
            model, _, serial = args.probe.partition(":")
            probe = store.find_probe(model, serial)
            if probe is None:
                raise UserError(f"no records of probe {args.probe!r} in {store.path}")
        records = store.records(probe, None, args.test)
        path = store.path
    for r in records:
        if args.json:
            print(json.dumps({"id": r.id, "probe": r.probe.label, "kind": r.kind,
                              "test": r.test, "time_utc": r.time_utc.isoformat(),
                              "operator": r.operator, "source": r.source,
                              "raw_data": r.raw_data, "pass": r.passed, "result": r.result}))
        else:
            verdict = "-" if r.passed is None else ("pass" if r.passed else "FAIL")
            print(f"{r.id:>5}  {r.time_utc:%Y-%m-%d %H:%M}  {r.probe.label:<24} "
                  f"{r.kind:<11} {r.test:<11} {verdict:<4}  {r.operator}")
    if not records and not args.json:
        print(f"no records in {path}", file=sys.stderr)
    if args.report is not None:
        out = write_pdf_report(args.report, records, path, args.force)
        print(f"report written to {out} ({len(records)} records, "
              f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC)", file=sys.stderr)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    """Check the whole records database: every problem on standard output, exit 2 if any."""
    from probe_nav.cli.qc import open_store
    from probe_nav.qc.store import default_db_path
    from probe_nav.storage.urls import database_url

    url = database_url(args.db, default_db_path())
    path = url.path if url.path is not None else url.display
    if url.path is not None and not url.path.exists():
        raise UserError(f"{path}: no QC database")
    with open_store(args) as store:
        path = store.path  # a server's store named with its schema
        problems, probes, records = store.verify()
        note = store.upgrade_note()
    for problem in problems:
        print(problem)
    if problems:
        raise UserError(f"{path}: {len(problems)} problem(s) found in {probes} probe(s), "
                        f"{records} record(s); the probes concerned are refused")
    print(f"{path}: {probes} probe(s), {records} record(s): every record verified")
    if note:
        print(f"{path}: {note}")
    return 0
