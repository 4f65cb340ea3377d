"""Ask a DICOM Modality Worklist server (the RIS or PACS) for a scheduled procedure with a
Modality Worklist C-FIND (pynetdicom) and take its identifiers as a case's CaseIdentifiers.

The query asks only for what CaseIdentifiers keeps (PatientID, IssuerOfPatientID,
AccessionNumber, StudyInstanceUID, RequestedProcedureID, and in the scheduled procedure step its
id, start date and modality); PatientName is never requested, so a conforming server never sends
it, and a name sent anyway is never read (identifiers.identifiers_from_dataset). Exactly one
answer is taken: none, several, or any failure of the association or of the C-FIND is a one-line
UserError naming the server and what happened, so the console never guesses which patient.
"""

from __future__ import annotations

import datetime as dt
import logging

from pydicom import Dataset

from probe_nav.cases.dicom_send import (
    DEFAULT_CALLING_AE,
    association,
    check_ae_title,
)
from probe_nav.cases.identifiers import (
    WORKLIST_SOURCE_PREFIX,
    CaseIdentifiers,
    check_string,
    identifiers_from_dataset,
)
from probe_nav.errors import UserError

log = logging.getLogger(__name__)

MAX_LISTED = 10  # accession numbers named in the "several match" message
# C-FIND statuses (PS3.4 C.4.1.1.4): pending with an answer; the end of the answers
_PENDING = (0xFF00, 0xFF01)
_SUCCESS = 0x0000


def worklist_identifier(*, accession: str | None = None, patient_id: str | None = None,
                        date: dt.date | None = None) -> Dataset:
    """The C-FIND identifier: the matching keys given (accession number, patient id, the
    scheduled step's start date) and empty return keys for the rest of CaseIdentifiers'
    fields. No PatientName, by design (module docstring)."""
    ds = Dataset()
    ds.PatientID = patient_id or ""
    ds.IssuerOfPatientID = ""
    ds.AccessionNumber = accession or ""
    ds.StudyInstanceUID = ""
    ds.RequestedProcedureID = ""
    step = Dataset()
    step.ScheduledProcedureStepID = ""
    step.ScheduledProcedureStepStartDate = date.strftime("%Y%m%d") if date else ""
    step.Modality = ""
    ds.ScheduledProcedureStepSequence = [step]
    return ds


def query_worklist(ae_title: str, host: str, port: int, *,
                   calling_ae: str = DEFAULT_CALLING_AE, accession: str | None = None,
                   patient_id: str | None = None, date: dt.date | None = None,
                   timeout_s: float = 10.0, operator: str = "") -> list[CaseIdentifiers]:
    """The identifiers of every scheduled procedure on ae_title@host:port matching the keys
    given (at least one of accession, patient_id), checked, with source "worklist AE@HOST:PORT";
    UserError (one line) if the server cannot be asked or answers with a failure. ValueError
    for bad arguments (AE titles, no key, timeout)."""
    check_ae_title(ae_title, "the called AE title")
    check_ae_title(calling_ae, "the calling AE title")
    if not accession and not patient_id:
        raise ValueError("a worklist query needs an accession number or a patient id to match")
    if not timeout_s > 0:
        raise ValueError("timeout_s must be > 0")
    for name, value in (("accession_number", accession), ("patient_id", patient_id)):
        if value:
            check_string(name, value)
    server = f"{ae_title}@{host}:{port}"
    identifier = worklist_identifier(accession=accession, patient_id=patient_id, date=date)
    answers = _find(identifier, ae_title, host, port, calling_ae, timeout_s, server)
    source = f"{WORKLIST_SOURCE_PREFIX}{server}"
    out = []
    for answer in answers:
        try:
            out.append(identifiers_from_dataset(answer, source, operator))
        except UserError as exc:
            raise UserError(f"worklist server {server}: an answer is not usable: {exc}") \
                from None
        except (ValueError, TypeError, AttributeError, KeyError, IndexError) as exc:
            raise UserError(f"worklist server {server}: an answer is not readable ({exc})") \
                from None
    return out


def query_one(ae_title: str, host: str, port: int, *, calling_ae: str = DEFAULT_CALLING_AE,
              accession: str | None = None, patient_id: str | None = None,
              date: dt.date | None = None, timeout_s: float = 10.0,
              operator: str = "") -> CaseIdentifiers:
    """The one scheduled procedure matching the keys (query_worklist's arguments); UserError
    (one line) if none or several match (listing their accession numbers, to narrow with
    --accession)."""
    found = query_worklist(ae_title, host, port, calling_ae=calling_ae, accession=accession,
                           patient_id=patient_id, date=date, timeout_s=timeout_s,
                           operator=operator)
    server = f"{ae_title}@{host}:{port}"
    keys = (("accession number", accession), ("patient id", patient_id),
            ("date", date.isoformat() if date else None))
    wanted = ", ".join(f"{name} {value}" for name, value in keys if value)
    if not found:
        raise UserError(f"no scheduled procedure matches {wanted} on worklist server {server}")
    if len(found) > 1:
        numbers = [ids.accession_number or "(none)" for ids in found]
        more = f" and {len(numbers) - MAX_LISTED} more" if len(numbers) > MAX_LISTED else ""
        raise UserError(f"{len(found)} scheduled procedures match {wanted} on worklist server "
                        f"{server} (accession numbers {', '.join(numbers[:MAX_LISTED])}{more}); "
                        f"narrow it with --accession")
    return found[0]


def _find(identifier: Dataset, ae_title: str, host: str, port: int, calling_ae: str,
          timeout_s: float, server: str) -> list[Dataset]:
    """One association, one Modality Worklist C-FIND: the answers; UserError otherwise."""
    from pynetdicom import AE
    from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]

    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.connection_timeout = timeout_s
    ae.add_requested_context(ModalityWorklistInformationFind)
    with association(ae, host, port, ae_title, 1, timeout_s) as (assoc, failed):
        if failed is not None:
            detail = f": {failed.detail}" if failed.detail else ""
            raise UserError(f"worklist server {server}: association {failed.outcome}{detail}")
        answers = _answers(assoc, identifier, server, timeout_s)
    log.info("worklist server %s: %d answer(s)", server, len(answers))
    return answers


def _answers(assoc: object, identifier: Dataset, server: str, timeout_s: float) -> list[Dataset]:
    from pynetdicom.sop_class import ModalityWorklistInformationFind  # type: ignore[attr-defined]
    from pynetdicom.status import code_to_category

    accepted = [c for c in assoc.accepted_contexts  # type: ignore[attr-defined]
                if c.abstract_syntax == ModalityWorklistInformationFind]
    if not accepted:
        raise UserError(f"worklist server {server} does not offer the Modality Worklist "
                        f"service (it refused its presentation context)")
    answers: list[Dataset] = []
    responses = assoc.send_c_find(  # type: ignore[attr-defined]
        identifier, ModalityWorklistInformationFind)
    for status, answer in responses:
        if "Status" not in status:
            raise UserError(f"worklist server {server}: no answer to the query within "
                            f"{timeout_s:g} s, or the association was aborted")
        code = int(status.Status)
        if code in _PENDING:
            if answer is not None:
                answers.append(answer)
        elif code != _SUCCESS:
            raise UserError(f"worklist server {server}: the query failed with status "
                            f"0x{code:04X} ({code_to_category(code)})")
    return answers


__all__ = ["query_one", "query_worklist", "worklist_identifier"]
