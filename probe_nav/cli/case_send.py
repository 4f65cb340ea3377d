"""`probe-nav case send ID --pacs AE@HOST:PORT`: the case's DICOM objects (its report as
Encapsulated PDF and its measurements as a Comprehensive SR, probe_nav.cases.dicom_export) sent to
a PACS with C-STORE (probe_nav.cases.dicom_send), retried when not stored.

Prints one line per association (accepted, rejected and why, aborted, no connection), one per
instance (stored, or its failure) and a summary. Exit 0 when every instance is stored, 1 when
some are not after the retries, 2 for bad input (one line on standard error)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from probe_nav.errors import UserError

# probe_nav.cases.dicom_send.DEFAULT_CALLING_AE, not imported here: pydicom would load with every
# command (tests/cases/test_dicom_send.py checks they agree)
DEFAULT_CALLING_AE = "PROBE_NAV"


def register_send(sub: argparse._SubParsersAction,
                  db_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `case send`."""
    p = sub.add_parser("send", help="send the case's DICOM report and SR to a PACS (C-STORE)",
                       description=__doc__)
    p.add_argument("case_id", metavar="ID")
    p.add_argument("--pacs", required=True, metavar="AE@HOST:PORT",
                   help="the PACS: its AE title, host name or address, DICOM port")
    p.add_argument("--calling-ae", default=DEFAULT_CALLING_AE, metavar="AE",
                   help=f"our AE title, as the PACS knows it (default {DEFAULT_CALLING_AE})")
    p.add_argument("--retries", default=3, metavar="N", type=_retries,
                   help="new associations for what is not stored, after 1, 2, 4, ... s "
                   "(default 3)")
    p.add_argument("--timeout-s", default=10.0, metavar="S", type=_timeout_s,
                   help="network and response time-out (default 10)")
    p.add_argument("--operator", default="", help="who sent it (kept in the case's record)")
    db_option(p)
    p.set_defaults(func=run_send)


def _retries(text: str) -> int:
    if not text.isdigit() or int(text) > 10:
        raise argparse.ArgumentTypeError(f"--retries {text!r}: a whole number from 0 to 10")
    return int(text)


def _timeout_s(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.1 <= value <= 600:
        raise argparse.ArgumentTypeError(f"--timeout-s {text!r}: from 0.1 to 600 seconds")
    return value


def run_send(args: argparse.Namespace) -> int:
    """Check the arguments, build the case's DICOM objects, send them; print what happened."""
    from probe_nav.cases.dicom_export import case_dicom
    from probe_nav.cases.dicom_send import check_ae_title, parse_pacs, send
    from probe_nav.cli.case import _open, _report_skipped

    try:
        ae_title, host, port = parse_pacs(args.pacs)
        check_ae_title(args.calling_ae, "--calling-ae")
    except ValueError as exc:
        raise UserError(str(exc)) from None
    with _open(args, write=False) as store:
        datasets = case_dicom(store, args.case_id)
        _report_skipped(store)
    report = send(datasets, ae_title, host, port, calling_ae=args.calling_ae,
                  retries=args.retries, timeout_s=args.timeout_s)
    for attempt in report.attempts:
        print(attempt.line(report.destination))
    for instance in report.instances:
        print(instance.line())
    print(report.summary())
    with _open(args, write=True) as store:  # the audit: whatever the PACS answered
        store.add_send(args.case_id, report, calling_ae=args.calling_ae,
                       operator=args.operator)
    print(f"recorded in case {args.case_id} (probe-nav case show {args.case_id})")
    return 0 if report.all_stored else 1
