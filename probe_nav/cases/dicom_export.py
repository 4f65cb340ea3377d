"""A case as DICOM objects for the hospital's PACS: its PDF report as an Encapsulated PDF and its
node measurements as a Comprehensive SR, both in the case's study (its identifiers:
probe_nav.cases.identifiers; a case without them is refused).

The Encapsulated PDF is built with pydicom by hand (highdicom has no class for it): the bytes of
the case report (probe_nav.cases.report) unchanged in EncapsulatedDocument (padded with one NUL
to an even length, EncapsulatedDocumentLength the unpadded length).

The SR is highdicom's ComprehensiveSR with a content tree of our own rather than TID 1500
(Measurement Report): TID 1500 is built for measurements of image regions (tracking
identifiers, image library, finding sites on referenced images), and a probe count has no image,
so every required part of it would be empty or invented. Instead the root container holds the
case's facts and one container per measurement (node, kind, time, counts, live time, net rate and
its sd, ratio to background, decay-corrected rate, the rules' verdicts), concepts in a private
coding scheme (99PRBNAV, declared in CodingSchemeIdentificationSequence) and units in UCUM. The SR
lists the PDF as evidence (Current Requested Procedure Evidence: the same study), so a
viewer finds one from the other.

SOP Instance UIDs are 2.25 UIDs derived from the case's content (its records, identifiers and the
probe-nav version): the same case exported twice gives the same UIDs, so re-sending it replaces
rather than duplicates. The PDF's own bytes (which carry their generation time) are not part of
it. No patient name is written: PatientName is empty (type 2).
"""

from __future__ import annotations

import json
import math
import tempfile
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from highdicom.coding_schemes import CodingSchemeIdentificationItem
from highdicom.sr import (
    CodedConcept,
    ComprehensiveSR,
    ContainerContentItem,
    ContentItem,
    ContentSequence,
    DateTimeContentItem,
    NumContentItem,
    TextContentItem,
)
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    PYDICOM_IMPLEMENTATION_UID,
    EncapsulatedPDFStorage,
    ExplicitVRLittleEndian,
)
from pydicom.valuerep import DA, TM

from probe_nav.cases.identifiers import CaseIdentifiers
from probe_nav.cases.model import Case, Measurement
from probe_nav.cases.rules import NodeTable
from probe_nav.cases.store import CaseNote, CaseStore
from probe_nav.errors import UserError
from probe_nav.report.pin import pin_pdf

MANUFACTURER = "probe-nav"
CHARACTER_SET = "ISO_IR 192"  # UTF-8: identifiers and node names may be any printable text
PDF_SERIES_NUMBER = 1
SR_SERIES_NUMBER = 2
SH_MAX_CHARS = 16
UID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://probe-nav/dicom-export")


def case_dicom(store: CaseStore, case_id: str, *, now: datetime | None = None) -> list[Dataset]:
    """[Encapsulated PDF, Comprehensive SR] of the case (module docstring), dated `now`
    (default: the time of its latest record; ContentDate/Time and the PDF's stamp). UserError
    if it has no identifiers."""
    case = store.case(case_id)
    ids = store.identifiers(case.case_id)
    if ids is None:
        raise UserError(f"case {case.case_id!r} has no DICOM identifiers; give them first with "
                        f"`probe-nav case identify {case.case_id} --patient-id ID` (or "
                        "--worklist FILE.wl)")
    measurements = store.measurements(case.case_id)
    table = store.node_table(case.case_id)
    notes = store.notes(case.case_id)
    # The content's time is that of its latest record, not of the export: the same records give
    # the same objects (UIDs, dates and the PDF's stamp), so a re-send is the same instance.
    latest = max([case.created_unix_s, ids.entered_unix_s,
                  *(m.measured_unix_s for m in measurements), *(n.t_unix_s for n in notes)])
    when = (now or _utc(latest)).astimezone(UTC)
    key = content_key(case, measurements, notes, ids)
    pdf = encapsulated_pdf(report_pdf(case, measurements, table, notes, when.timestamp()), case,
                           ids, key, when)
    sr = measurement_sr(pdf, case, measurements, table, uid(key, "sr", "instance"),
                        uid(key, "sr", "series"), when)
    return [pdf, sr]


def content_key(case: Case, measurements: Sequence[Measurement], notes: Sequence[CaseNote],
                ids: CaseIdentifiers) -> str:
    """A canonical text of everything the objects show: the source of their UIDs."""
    from probe_nav import __version__

    content = {"version": __version__, "case": case.as_dict(),
               "measurements": [m.as_dict() for m in measurements],
               "notes": [[n.t_unix_s, n.text] for n in notes],
               "identifiers": {k: v for k, v in ids.row_values(case.case_id).items()
                               if k not in ("entered_unix_s", "operator", "source")}}
    return json.dumps(content, sort_keys=True, default=str)


def uid(key: str, *parts: str) -> str:
    """A 2.25 UID (ISO/IEC 9834-8: a UUID as one integer) of a name-based (SHA-1, version 5)
    UUID of `key` and `parts`: the same inputs always give the same UID. (pydicom's
    generate_uid ignores its entropy sources for the 2.25 form and returns a random one.)"""
    name = "\x1f".join([key, *parts])
    return f"2.25.{uuid.uuid5(UID_NAMESPACE, name).int}"


def report_pdf(case: Case, measurements: Sequence[Measurement], table: NodeTable,
               notes: Sequence[CaseNote], generated_unix_s: float | None = None) -> bytes:
    """The bytes of the case's PDF report (probe_nav.cases.report), as `case report` writes,
    stamped as generated at `generated_unix_s` (default now)."""
    from probe_nav.cases.report import write_case_report

    with tempfile.TemporaryDirectory(prefix="probe-nav-dicom-") as folder:
        path = write_case_report(Path(folder) / "report.pdf", case, measurements, table, notes,
                                 generated_unix_s)
        if generated_unix_s is None:
            return path.read_bytes()
        return pin_pdf(path.read_bytes(), _utc(generated_unix_s))


def dicom_date(when: datetime) -> str:
    """YYYYMMDD (UTC)."""
    return when.astimezone(UTC).strftime("%Y%m%d")


def dicom_time(when: datetime) -> str:
    """HHMMSS.ffffff (UTC)."""
    return when.astimezone(UTC).strftime("%H%M%S.%f")


def _utc(unix_s: float) -> datetime:
    return datetime.fromtimestamp(unix_s, UTC)


def study_id(case: Case) -> str:
    """The case id as StudyID (SH: at most 16 characters, no backslash), else empty."""
    text = case.case_id
    return text if len(text) <= SH_MAX_CHARS and "\\" not in text else ""


def patient_and_study(ds: Dataset, case: Case, ids: CaseIdentifiers) -> None:
    """Patient and General Study modules: identifiers, an empty PatientName, the case's
    opening as the study date and the case id as StudyID where it fits."""
    ds.SpecificCharacterSet = CHARACTER_SET
    ds.PatientName = ""
    ds.PatientID = ids.patient_id
    if ids.issuer_of_patient_id:
        ds.IssuerOfPatientID = ids.issuer_of_patient_id
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.StudyInstanceUID = ids.study_instance_uid
    opened = _utc(case.created_unix_s)
    ds.StudyDate, ds.StudyTime = dicom_date(opened), dicom_time(opened)
    ds.ReferringPhysicianName = ""
    ds.StudyID = study_id(case)
    ds.AccessionNumber = ids.accession_number


def _request_attributes(ids: CaseIdentifiers) -> list[Dataset]:
    if not (ids.requested_procedure_id or ids.scheduled_procedure_step_id):
        return []
    item = Dataset()
    if ids.accession_number:
        item.AccessionNumber = ids.accession_number
    item.RequestedProcedureID = ids.requested_procedure_id or ids.scheduled_procedure_step_id
    if ids.scheduled_procedure_step_id:
        item.ScheduledProcedureStepID = ids.scheduled_procedure_step_id
    return [item]


def encapsulated_pdf(pdf: bytes, case: Case, ids: CaseIdentifiers, key: str,
                     when: datetime) -> Dataset:
    """The Encapsulated PDF instance (SOP Class 1.2.840.10008.5.1.4.1.1.104.1) of `pdf`."""
    from probe_nav import __version__

    ds = Dataset()
    patient_and_study(ds, case, ids)
    ds.SOPClassUID = EncapsulatedPDFStorage
    ds.SOPInstanceUID = uid(key, "pdf", "instance")
    ds.InstanceCreationDate, ds.InstanceCreationTime = dicom_date(when), dicom_time(when)
    ds.TimezoneOffsetFromUTC = "+0000"
    ds.Modality = "DOC"
    ds.SeriesInstanceUID = uid(key, "pdf", "series")
    ds.SeriesNumber = PDF_SERIES_NUMBER
    ds.SeriesDescription = "probe-nav case report"
    ds.SeriesDate, ds.SeriesTime = dicom_date(when), dicom_time(when)
    requests = _request_attributes(ids)
    if requests:
        ds.RequestAttributesSequence = requests
    ds.Manufacturer = MANUFACTURER
    ds.SoftwareVersions = __version__
    ds.ConversionType = "WSD"  # made on a workstation
    ds.InstanceNumber = 1
    ds.ContentDate, ds.ContentTime = dicom_date(when), dicom_time(when)
    ds.AcquisitionDateTime = dicom_date(when) + dicom_time(when)
    ds.BurnedInAnnotation = "YES"  # the PDF names the case (and may be linked to the patient)
    ds.DocumentTitle = f"probe-nav case report, case {case.case_id}"
    ds.ConceptNameCodeSequence = []
    ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
    ds.EncapsulatedDocumentLength = len(pdf)
    ds.EncapsulatedDocument = pdf + b"\0" * (len(pdf) % 2)
    add_file_meta(ds)
    return ds


def add_file_meta(ds: Dataset) -> None:
    """File meta information (Explicit VR Little Endian) for writing `ds` as a DICOM file."""
    from probe_nav import __version__

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = ds.SOPClassUID
    meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = f"PROBE_NAV_{__version__}"[:SH_MAX_CHARS]
    ds.file_meta = meta


def finite(value: float) -> bool:
    """True for a number that a DICOM NUM item can hold (not NaN or infinite)."""
    return math.isfinite(value)


def write_dicom(datasets: Sequence[Dataset], folder: str | Path, force: bool = False) -> list[Path]:
    """Write each dataset as FOLDER/<SOPInstanceUID>.dcm (private, 0600, published atomically;
    an existing file replaced only with `force`); UserError (one line) if one cannot be."""
    from probe_nav.files import OutputExists, atomic_write_with

    out = Path(folder)
    if not out.is_dir():
        raise UserError(f"--dicom {out}: no such folder")
    written = []
    for ds in datasets:
        path = out / f"{ds.SOPInstanceUID}.dcm"
        def save(temp: Path, ds: Dataset = ds) -> None:
            ds.save_as(temp, enforce_file_format=True)

        try:
            written.append(atomic_write_with(path, save, overwrite=force))
        except OutputExists:
            raise UserError(f"{path} exists; add --force to replace it") from None
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
    return written


# ---- the Comprehensive SR -----------------------------------------------------------------
SCHEME = "99PRBNAV"  # private coding scheme of probe-nav's SR concepts
CONCEPTS = {
    "root": ("PNV001", "Gamma probe measurements"), "case": ("PNV002", "Case identifier"),
    "procedure": ("PNV003", "Procedure"), "nuclide": ("PNV004", "Radionuclide"),
    "probe": ("PNV005", "Probe"), "calibration": ("PNV006", "Calibration"),
    "reference": ("PNV007", "Decay correction reference time"),
    "background": ("PNV008", "Background count rate"),
    "background_sd": ("PNV009", "Background count rate standard deviation"),
    "measurement": ("PNV010", "Probe measurement"), "node": ("PNV011", "Node"),
    "kind": ("PNV012", "Kind of count"), "time": ("PNV013", "Time of measurement"),
    "counts": ("PNV014", "Counts"), "live": ("PNV015", "Live time"),
    "net": ("PNV016", "Net count rate"),
    "net_sd": ("PNV017", "Net count rate standard deviation"),
    "ratio": ("PNV018", "Ratio to background"),
    "corrected": ("PNV019", "Decay-corrected count rate"), "verdict": ("PNV020", "Rule verdict"),
    "note": ("PNV021", "Measurement note"),
}
UNITS = {"counts": ("{counts}", "counts"), "s": ("s", "second"),
         "cps": ("{counts}/s", "counts per second"), "ratio": ("1", "no units")}
RULE_KIND = {"bed_check": "bed"}  # the kind of count each rule judges; the others: ex vivo
KIND_TEXT = {"in_vivo": "in vivo", "ex_vivo": "ex vivo", "bed": "bed",
             "background": "background"}


def concept(name: str) -> CodedConcept:
    """The coded concept of CONCEPTS[name] in probe-nav's scheme."""
    value, meaning = CONCEPTS[name]
    return CodedConcept(value, SCHEME, meaning)


def _text(name: str, value: str) -> ContentItem:
    return TextContentItem(concept(name), value, relationship_type="CONTAINS")


def _num(name: str, value: float, unit: str) -> ContentItem:
    code, meaning = UNITS[unit]
    return NumContentItem(concept(name), float(value), CodedConcept(code, "UCUM", meaning),
                          relationship_type="CONTAINS")


def _when(name: str, unix_s: float) -> ContentItem:
    return DateTimeContentItem(concept(name), _utc(unix_s).replace(tzinfo=None),
                               relationship_type="CONTAINS")


def _measurement_item(m: Measurement, table: NodeTable,
                      verdicts: Sequence[str]) -> ContentItem:
    items = [_text("node", m.node), _text("kind", KIND_TEXT.get(m.kind, m.kind)),
             _when("time", m.measured_unix_s), _num("counts", m.counts, "counts"),
             _num("live", m.live_s, "s"), _num("net", m.net_cps, "cps"),
             _num("net_sd", m.net_sd_cps, "cps"), _num("corrected", m.corrected_rate_cps, "cps")]
    if m.kind != "background" and finite(table.background_cps) and table.background_cps > 0:
        items.append(_num("ratio", m.corrected_rate_cps / table.background_cps, "ratio"))
    items += [_text("verdict", v) for v in verdicts]
    if m.note:
        items.append(_text("note", m.note))
    container = ContainerContentItem(concept("measurement"), relationship_type="CONTAINS")
    container.ContentSequence = ContentSequence(items)
    return container


def verdicts_by_measurement(measurements: Sequence[Measurement],
                            table: NodeTable) -> dict[int, list[str]]:
    """Each rule verdict of the node table under the measurement it judged: the latest count of
    its node of the rule's kind (bed for the bed check, else ex vivo); keyed by list index."""
    latest: dict[tuple[str, str], int] = {}
    order = sorted(range(len(measurements)), key=lambda i: (
        measurements[i].measured_unix_s, measurements[i].measurement_id or 0))
    for i in order:
        latest[(measurements[i].node, measurements[i].kind)] = i
    out: dict[int, list[str]] = {}
    for row in table.rows:
        for v in row.verdicts:
            index = latest.get((row.node, RULE_KIND.get(v.rule, "ex_vivo")))
            if index is not None:
                out.setdefault(index, []).append(v.text)
    return out


def measurement_sr(pdf: Dataset, case: Case, measurements: Sequence[Measurement],
                   table: NodeTable, instance_uid: str, series_uid: str,
                   when: datetime) -> Dataset:
    """The Comprehensive SR of the case's measurements (module docstring), in the study of
    `pdf` (its evidence)."""
    from probe_nav import __version__

    items: list[ContentItem] = [_text("case", case.case_id), _text("procedure", case.procedure),
             _text("nuclide", case.nuclide)]
    items += [_text(name, value) for name, value in (("probe", case.probe),
                                                     ("calibration", case.calibration)) if value]
    items.append(_when("reference", case.reference_unix_s))
    if finite(table.background_cps):
        items.append(_num("background", table.background_cps, "cps"))
        items.append(_num("background_sd", table.background_sd_cps, "cps"))
    verdicts = verdicts_by_measurement(measurements, table)
    items += [_measurement_item(m, table, verdicts.get(i, []))
              for i, m in enumerate(measurements)]
    root = ContainerContentItem(concept("root"))
    root.ContentSequence = ContentSequence(items)
    sr = ComprehensiveSR(
        [pdf], root, series_uid, SR_SERIES_NUMBER, instance_uid, 1, manufacturer=MANUFACTURER,
        is_complete=True, record_evidence=True, software_versions=__version__,
        series_description="probe-nav node measurements",
        coding_schemes=[CodingSchemeIdentificationItem(SCHEME, name="probe-nav SR concepts")],
        content_date=dicom_date(when), content_time=dicom_time(when),
        series_date=dicom_date(when), series_time=dicom_time(when))
    sr.TimezoneOffsetFromUTC = "+0000"
    sr.InstanceCreationDate = DA(dicom_date(when))
    sr.InstanceCreationTime = TM(dicom_time(when))
    for name in ("StudyDate", "StudyTime", "StudyID", "AccessionNumber", "IssuerOfPatientID",
                 "ReferringPhysicianName", "PatientBirthDate", "PatientSex"):
        if name in pdf:
            setattr(sr, name, pdf.get(name))
    add_file_meta(sr)
    return sr


__all__ = ["case_dicom", "encapsulated_pdf", "measurement_sr", "report_pdf", "uid",
           "write_dicom"]
