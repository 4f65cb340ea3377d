"""DICOM identifiers of a case (patient id, issuer, accession number, study instance UID,
requested procedure and scheduled step ids), entered by hand or read from a DICOM Modality
Worklist entry, and checked against the DICOM value representations they will be written as:
LO (patient id, issuer: at most 64 characters), SH (accession number, procedure and step ids: at
most 16), no backslash (the DICOM value separator) and no control characters in either, and UI
(at most 64 characters, digits in dot-separated components, no leading zero in a component).

No patient name is needed or kept: a worklist entry's PatientName is never read into probe-nav's
records, and the DICOM files carry an empty PatientName. A value that breaks a rule is refused
with one line (UserError) naming the field, never truncated or repaired.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from probe_nav.cases.schema import IDENTIFIER_COLUMNS
from probe_nav.errors import UserError

if TYPE_CHECKING:
    from pydicom import Dataset

LO_MAX_CHARS = 64  # DICOM PS3.5 6.2, Long String
SH_MAX_CHARS = 16  # Short String
UI_MAX_CHARS = 64  # Unique Identifier
OPERATOR_MAX_CHARS = 64
ENTERED = "entered"
WORKLIST_SOURCE_PREFIX = "worklist "
_UID = re.compile(r"(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))+")

# field -> (what it is called in messages, DICOM VR, maximum characters, required)
STRING_FIELDS: dict[str, tuple[str, str, int, bool]] = {
    "patient_id": ("patient id", "LO", LO_MAX_CHARS, True),
    "issuer_of_patient_id": ("issuer of patient id", "LO", LO_MAX_CHARS, False),
    "accession_number": ("accession number", "SH", SH_MAX_CHARS, False),
    "requested_procedure_id": ("requested procedure id", "SH", SH_MAX_CHARS, False),
    "scheduled_procedure_step_id": ("scheduled procedure step id", "SH", SH_MAX_CHARS, False),
}


@dataclass(frozen=True, slots=True)
class CaseIdentifiers:
    """The DICOM identifiers of a case as entered (one stored row; the latest counts)."""

    patient_id: str
    issuer_of_patient_id: str = ""
    accession_number: str = ""
    study_instance_uid: str = ""  # "" until stored: then the worklist's or a generated one
    requested_procedure_id: str = ""
    scheduled_procedure_step_id: str = ""
    source: str = ENTERED  # "entered" or "worklist FILE"
    operator: str = ""
    entered_unix_s: float = 0.0  # when they were stored (host clock)

    def row_values(self, case_id: str) -> dict[str, object]:
        """The stored columns (IDENTIFIER_COLUMNS) of these identifiers for case `case_id`."""
        values = {"case_id": case_id, **asdict(self)}
        return {c: values[c] for c in IDENTIFIER_COLUMNS}


def check_string(name: str, value: object) -> str:
    """A DICOM LO/SH value of field `name` (STRING_FIELDS), leading and trailing spaces removed
    (DICOM pads them away); UserError (one line) if it breaks the VR or a required one is empty."""
    label, vr, max_chars, required = STRING_FIELDS[name]
    text = str(value).strip(" ")
    if required and not text:
        raise UserError(f"the {label} must not be empty")
    if len(text) > max_chars:
        raise UserError(f"the {label} {text!r} has {len(text)} characters; DICOM {vr} allows "
                        f"at most {max_chars}")
    if "\\" in text or not text.isprintable():
        raise UserError(f"the {label} {text!r} holds a backslash or a control character, "
                        f"which DICOM {vr} does not allow")
    return text


def check_uid(value: object, label: str = "study instance UID") -> str:
    """A DICOM UI value: digits in dot-separated components (at least two), no leading zero in
    a component, at most 64 characters; UserError (one line) otherwise."""
    text = str(value).strip(" \0")
    if len(text) > UI_MAX_CHARS or _UID.fullmatch(text) is None:
        raise UserError(f"the {label} {text!r} is not a DICOM UID (digits and dots, no leading "
                        f"zero in a component, at most {UI_MAX_CHARS} characters)")
    return text


def checked(ids: CaseIdentifiers) -> CaseIdentifiers:
    """`ids` with every field checked and normalised (module docstring); UserError otherwise.
    An empty study instance UID stays empty (the store generates one)."""
    values = {name: check_string(name, getattr(ids, name)) for name in STRING_FIELDS}
    uid = check_uid(ids.study_instance_uid) if str(ids.study_instance_uid).strip() else ""
    operator = str(ids.operator).strip()
    if len(operator) > OPERATOR_MAX_CHARS or not operator.isprintable():
        raise UserError(f"the operator must be at most {OPERATOR_MAX_CHARS} printable "
                        f"characters, got {ids.operator!r}")
    source = str(ids.source)
    if source != ENTERED and not (source.startswith(WORKLIST_SOURCE_PREFIX)
                                  and source.isprintable()):
        raise UserError(f"identifier source {source!r} is neither 'entered' nor 'worklist FILE'")
    return replace(ids, **values, study_instance_uid=uid,  # type: ignore[arg-type]
                   operator=operator, source=source)


def _text(value: object) -> str:
    return "" if value is None else str(value)


def identifiers_from_dataset(ds: Dataset, source: str, operator: str = "") -> CaseIdentifiers:
    """The identifiers in a Modality Worklist dataset `ds` (a .wl file's, or a C-FIND answer's):
    PatientID, IssuerOfPatientID, AccessionNumber, StudyInstanceUID, RequestedProcedureID and the
    first ScheduledProcedureStepSequence item's ScheduledProcedureStepID (PatientName is never
    read), checked; UserError (one line) if it holds no usable PatientID. pydicom's errors of a
    malformed dataset (ValueError, ...) pass through for the caller to name the source."""
    get = ds.get
    steps = get("ScheduledProcedureStepSequence") or []
    step_id = _text(steps[0].get("ScheduledProcedureStepID")) if len(steps) else ""
    ids = CaseIdentifiers(
        patient_id=_text(get("PatientID")),
        issuer_of_patient_id=_text(get("IssuerOfPatientID")),
        accession_number=_text(get("AccessionNumber")),
        study_instance_uid=_text(get("StudyInstanceUID")),
        requested_procedure_id=_text(get("RequestedProcedureID")),
        scheduled_procedure_step_id=step_id, source=source, operator=operator)
    if not ids.patient_id.strip():
        raise UserError("the worklist entry has no PatientID")
    return checked(ids)


def from_worklist(path: str | Path, operator: str = "") -> CaseIdentifiers:
    """The identifiers in a DICOM Modality Worklist entry file (.wl), as
    `identifiers_from_dataset` reads them; UserError (one line, naming the file) if the file
    cannot be read or holds no usable PatientID."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    path = Path(path)
    try:
        ds = pydicom.dcmread(path, force=True)
        return identifiers_from_dataset(ds, f"{WORKLIST_SOURCE_PREFIX}{path.name}", operator)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read the worklist entry ({exc.strerror or exc})") \
            from None
    except (InvalidDicomError, ValueError, TypeError, AttributeError, KeyError,
            IndexError, EOFError) as exc:
        raise UserError(f"{path}: not a readable DICOM worklist entry ({exc})") from None


def to_store(ids: CaseIdentifiers, previous: CaseIdentifiers | None,
             entered_unix_s: float) -> CaseIdentifiers:
    """`ids` checked, as the next row of a case whose current identifiers are `previous`: without
    a study instance UID it keeps the previous one (every export of a case in one study), else
    a new 2.25 UID is generated once."""
    from pydicom.uid import generate_uid

    new = checked(ids)
    uid = new.study_instance_uid or (previous.study_instance_uid if previous else "") \
        or str(generate_uid(prefix=None))
    return replace(new, study_instance_uid=uid, entered_unix_s=float(entered_unix_s))


def identifiers_from_row(row: dict[str, object]) -> CaseIdentifiers:
    """CaseIdentifiers from a case_identifiers row."""
    values = {c: row[c] for c in IDENTIFIER_COLUMNS if c != "case_id"}
    return CaseIdentifiers(**values)  # type: ignore[arg-type]


def latest(rows: list[dict[str, object]]) -> CaseIdentifiers | None:
    """The identifiers that count among a case's rows: the latest entered (then highest id)."""
    if not rows:
        return None
    row = max(rows, key=lambda r: (float(str(r["entered_unix_s"])), int(str(r["id"]))))
    return identifiers_from_row(row)


__all__ = ["CaseIdentifiers", "check_string", "check_uid", "checked", "from_worklist",
           "identifiers_from_dataset", "identifiers_from_row", "latest", "to_store"]
