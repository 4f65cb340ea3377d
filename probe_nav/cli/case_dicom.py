"""`probe-nav case identify` (a case's DICOM identifiers, entered or from a worklist entry) and
`probe-nav case export --dicom DIR` (the case as DICOM files: probe_nav.cases.dicom_export), the
bodies of those actions of probe_nav.cli.case."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from probe_nav.errors import UserError

ENTERED_OPTIONS = ("issuer", "accession", "study_uid", "requested_procedure_id",
                   "scheduled_step_id")


def register_identify(sub: argparse._SubParsersAction,
                      db_option: Callable[[argparse.ArgumentParser], None]) -> None:
    """Add `case identify`."""
    p = sub.add_parser("identify", help="give a case its DICOM patient and study identifiers",
                       description="Give a case its DICOM identifiers (for `case export "
                       "--dicom` and `case send`), entered or read from a DICOM Modality "
                       "Worklist entry. No patient name is read or kept. The latest "
                       "identifiers of a case count; its study instance UID is kept unless a "
                       "new one is given.")
    p.add_argument("case_id", metavar="ID")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--patient-id", metavar="ID", default=None,
                     help="patient id (DICOM LO: at most 64 characters)")
    src.add_argument("--worklist", metavar="FILE.wl", default=None,
                     help="take every identifier from this DICOM worklist entry")
    p.add_argument("--issuer", default=None, help="issuer of the patient id (LO)")
    p.add_argument("--accession", default=None, help="accession number (SH: at most 16)")
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


def run_identify(args: argparse.Namespace) -> int:
    """Store the case's identifiers; one line saying what was stored."""
    from probe_nav.cases.identifiers import CaseIdentifiers, checked, from_worklist
    from probe_nav.cli.case import _open

    if args.worklist is not None:
        given = [f"--{name.replace('_', '-')}" for name in ENTERED_OPTIONS
                 if getattr(args, name) is not None]
        if given:
            raise UserError(f"--worklist gives every identifier; drop {', '.join(given)}")
        ids = from_worklist(args.worklist, operator=args.operator)
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
