"""`probe-nav case identify` (a case's DICOM identifiers, entered, from a worklist entry file or
asked of a worklist server: probe_nav.cases.worklist_query) and
`probe-nav case export --dicom DIR` (the case as DICOM files: probe_nav.cases.dicom_export), the
bodies of those actions of probe_nav.cli.case."""

from __future__ import annotations

import argparse
import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

# no pydicom at import (it would load with every command): the calling AE and the time-out as
# `case send` has them
from probe_nav.cli.case_send import DEFAULT_CALLING_AE, _timeout_s
from probe_nav.errors import UserError

if TYPE_CHECKING:
    from probe_nav.cases.identifiers import CaseIdentifiers

ENTERED_OPTIONS = ("issuer", "accession", "study_uid", "requested_procedure_id",
                   "scheduled_step_id")


def register_identify(sub: argparse._SubParsersAction,
                      db_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `case identify`."""
    p = sub.add_parser("identify", help="give a case its DICOM patient and study identifiers",
                       description="Give a case its DICOM identifiers (for `case export "
                       "--dicom` and `case send`), entered or read from a DICOM Modality "
                       "Worklist entry, a file or asked of the worklist server (C-FIND). "
                       "No patient name is requested, read or kept. The latest "
                       "identifiers of a case count; its study instance UID is kept unless a "
                       "new one is given.")
    p.add_argument("case_id", metavar="ID")
    p.add_argument("--patient-id", metavar="ID", default=None,
                   help="patient id (DICOM LO: at most 64 characters); with --worklist-query, "
                   "the patient whose scheduled procedure to take")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--worklist", metavar="FILE.wl", default=None,
                     help="take every identifier from this DICOM worklist entry")
    src.add_argument("--worklist-query", metavar="AE@HOST:PORT", default=None,
                     help="take every identifier from the one scheduled procedure that this "
                     "worklist server (Modality Worklist C-FIND) has for --accession or "
                     "--patient-id")
    p.add_argument("--issuer", default=None, help="issuer of the patient id (LO)")
    p.add_argument("--accession", default=None, help="accession number (SH: at most 16); "
                   "with --worklist-query, the procedure to take")
    p.add_argument("--date", default=None, metavar="YYYY-MM-DD", type=_scheduled_date,
                   help="with --worklist-query: only a procedure scheduled that day ('today')")
    p.add_argument("--calling-ae", default=None, metavar="AE",
                   help=f"with --worklist-query: our AE title, as the worklist server knows it "
                   f"(default {DEFAULT_CALLING_AE})")
    p.add_argument("--timeout-s", default=None, metavar="S", type=_timeout_s,
                   help="with --worklist-query: network and response time-out (default 10)")
    p.add_argument("--study-uid", default=None, metavar="UID",
                   help="study instance UID (default: one generated once for the case)")
    p.add_argument("--requested-procedure-id", default=None, help="(SH)")
    p.add_argument("--scheduled-step-id", default=None, help="scheduled procedure step id (SH)")
    p.add_argument("--operator", default="", help="who entered them")
    db_option(p)
    p.set_defaults(func=run_identify)


def add_export_options(exp: argparse.ArgumentParser) -> None:
    """Add --dicom DIR to `case export`."""
    exp.add_argument("--dicom", metavar="DIR", default=None,
                     help="write the case as DICOM files into this folder (report as "
                     "Encapsulated PDF, measurements as Comprehensive SR); needs `case identify`")


def _scheduled_date(text: str) -> dt.date:
    if text == "today":
        return dt.date.today()
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--date {text!r}: expected YYYY-MM-DD or today") \
            from None


def _drop(args: argparse.Namespace, names: tuple[str, ...]) -> list[str]:
    """The options among `names` that were given, as the user typed them."""
    return [f"--{name.replace('_', '-')}" for name in names if getattr(args, name) is not None]


def _from_worklist_server(args: argparse.Namespace) -> CaseIdentifiers:
    """The identifiers of the one scheduled procedure the worklist server has for the keys."""
    from probe_nav.cases.dicom_send import check_ae_title, parse_pacs
    from probe_nav.cases.identifiers import check_string
    from probe_nav.cases.worklist_query import query_one

    given = _drop(args, ("issuer", "study_uid", "requested_procedure_id", "scheduled_step_id"))
    if given:
        raise UserError(f"--worklist-query gives every identifier; drop {', '.join(given)}")
    if args.accession is None and args.patient_id is None:
        raise UserError("--worklist-query needs --accession or --patient-id: which scheduled "
                        "procedure to take")
    calling_ae = args.calling_ae or DEFAULT_CALLING_AE
    try:  # parse_pacs names its own option; here the same text is --worklist-query's
        ae_title, host, port = parse_pacs(args.worklist_query)
        check_ae_title(calling_ae, "--calling-ae")
    except ValueError as exc:
        raise UserError(str(exc).replace("--pacs", "--worklist-query", 1)) from None
    for option, name, value in (("--accession", "accession_number", args.accession),
                                ("--patient-id", "patient_id", args.patient_id)):
        if value is not None:
            try:
                check_string(name, value)
            except UserError as exc:
                raise UserError(f"{option}: {exc}") from None
    return query_one(ae_title, host, port, calling_ae=calling_ae, accession=args.accession,
                     patient_id=args.patient_id, date=args.date,
                     timeout_s=args.timeout_s or 10.0, operator=args.operator)


def run_identify(args: argparse.Namespace) -> int:
    """Store the case's identifiers; one line saying what was stored."""
    from probe_nav.cases.identifiers import CaseIdentifiers, checked, from_worklist
    from probe_nav.cli.case import _open

    query_only = _drop(args, ("date", "calling_ae", "timeout_s"))
    if args.worklist_query is None and query_only:
        raise UserError(f"{', '.join(query_only)}: only with --worklist-query")
    if args.worklist_query is not None:
        ids = _from_worklist_server(args)
    elif args.worklist is not None:
        given = _drop(args, ("patient_id", *ENTERED_OPTIONS))
        if given:
            raise UserError(f"--worklist gives every identifier; drop {', '.join(given)}")
        ids = from_worklist(args.worklist, operator=args.operator)
    elif args.patient_id is None:
        raise UserError("give the identifiers: --patient-id ID [...], --worklist FILE.wl or "
                        "--worklist-query AE@HOST:PORT")
    else:
        ids = checked(CaseIdentifiers(
            patient_id=args.patient_id, issuer_of_patient_id=args.issuer or "",
            accession_number=args.accession or "", study_instance_uid=args.study_uid or "",
            requested_procedure_id=args.requested_procedure_id or "",
            scheduled_procedure_step_id=args.scheduled_step_id or "", operator=args.operator))
    with _open(args, write=True) as store:
        stored = store.set_identifiers(args.case_id, ids)
        print(f"case {args.case_id.strip()}: patient id {stored.patient_id}, accession "
              f"{stored.accession_number or '-'}, study {stored.study_instance_uid} "
              f"({stored.source})")
    return 0


def run_export_dicom(args: argparse.Namespace) -> int:
    """Write the case's DICOM files into --dicom DIR and print their paths."""
    from probe_nav.cases.dicom_export import case_dicom, write_dicom
    from probe_nav.cli.case import _open, _report_skipped

    if args.out is not None or args.format is not None:
        raise UserError("--dicom writes DICOM files into a folder; drop --out/--format")
    with _open(args, write=False) as store:
        datasets = case_dicom(store, args.case_id)
        for path in write_dicom(datasets, args.dicom, args.force):
            print(path)
        _report_skipped(store)
    return 0
