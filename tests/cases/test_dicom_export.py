"""The case as DICOM objects: the Encapsulated PDF and the Comprehensive SR, read back with
pydicom from the files written (required attributes, file meta, identifiers, the PDF's bytes,
every measurement in the SR) and checked with dciodvfy (dicom3tools) when it is installed."""

from __future__ import annotations

import shutil
import stat
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pydicom
import pytest
from highdicom.sr import ComprehensiveSR
from pydicom.dataset import Dataset
from pydicom.uid import ComprehensiveSRStorage, EncapsulatedPDFStorage, ExplicitVRLittleEndian

from probe_nav import __version__
from probe_nav.cases import dicom_export
from probe_nav.cases.dicom_export import case_dicom, write_dicom
from probe_nav.cases.identifiers import CaseIdentifiers, check_uid
from probe_nav.cases.store import CaseStore
from probe_nav.errors import UserError
from tests.cases.conftest import result

T0 = 1_780_000_000.0  # the case opens; the injection was an hour earlier
NOW = datetime(2026, 6, 1, 12, 30, 15, tzinfo=UTC)


def _case(store: CaseStore) -> None:
    store.create_case("C-7", "sln-breast", "Tc-99m", created_unix_s=T0,
                      injection_unix_s=T0 - 3600.0, injected_activity_mbq=40.0,
                      probe="PL-1 0001")
    store.record("C-7", "background", "background", result(300), T0 + 60)
    store.record("C-7", "SLN 1", "in_vivo", result(5000, background_cps=30.0), T0 + 120)
    store.record("C-7", "SLN 1", "ex_vivo", result(4000, background_cps=30.0), T0 + 180)
    store.record("C-7", "SLN 2", "ex_vivo", result(200, background_cps=30.0), T0 + 240)
    store.record("C-7", "SLN 1", "bed", result(310, background_cps=30.0), T0 + 300, "wound")
    store.set_identifiers("C-7", CaseIdentifiers(
        "MRN-42", "GENERAL HOSPITAL", "ACC-1", requested_procedure_id="RP-9",
        scheduled_procedure_step_id="SPS-3"))


@pytest.fixture
def written(store: CaseStore, tmp_path: Path) -> list[Path]:
    _case(store)
    out = tmp_path / "dicom"
    out.mkdir()
    return write_dicom(case_dicom(store, "C-7", now=NOW), out)


def _by_class(paths: list[Path]) -> dict[str, Dataset]:
    found = {}
    for path in paths:
        ds = pydicom.dcmread(path)  # a conformant file: preamble, DICM, file meta
        found[str(ds.SOPClassUID)] = ds
    return found


def test_files_are_private_named_by_uid_with_correct_file_meta(written: list[Path]) -> None:
    assert len(written) == 2
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        data = path.read_bytes()
        assert data[128:132] == b"DICM"
        ds = pydicom.dcmread(path)
        assert path.name == f"{ds.SOPInstanceUID}.dcm"
        meta = ds.file_meta
        assert meta.MediaStorageSOPClassUID == ds.SOPClassUID
        assert meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID
        assert meta.TransferSyntaxUID == ExplicitVRLittleEndian
        assert meta.ImplementationClassUID and meta.ImplementationVersionName
        check_uid(ds.SOPInstanceUID, "SOP instance UID")


def test_every_value_passes_pydicoms_strict_vr_validation(written: list[Path],
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pydicom.config.settings, "reading_validation_mode", pydicom.config.RAISE)
    for path in written:
        ds = pydicom.dcmread(path)
        # reading each value converts it, which validates it against its VR (ValueError if not)
        values = [element.value for element in ds.iterall()]
        assert len(values) > 30


def test_both_objects_carry_the_identifiers_in_one_study(store: CaseStore,
                                                         written: list[Path]) -> None:
    ids = store.identifiers("C-7")
    assert ids is not None
    objects = _by_class(written)
    assert set(objects) == {EncapsulatedPDFStorage, ComprehensiveSRStorage}
    pdf, sr = objects[EncapsulatedPDFStorage], objects[ComprehensiveSRStorage]
    for ds in (pdf, sr):
        assert ds.PatientID == "MRN-42" and ds.IssuerOfPatientID == "GENERAL HOSPITAL"
        assert str(ds.PatientName) == "" and "PatientName" in ds  # type 2: present, empty
        assert ds.AccessionNumber == "ACC-1"
        assert ds.StudyInstanceUID == ids.study_instance_uid
        assert ds.StudyID == "C-7"
        assert (ds.StudyDate, ds.StudyTime[:6]) == ("20260528", "202640")  # T0 in UTC
        assert ds.Manufacturer == "probe-nav" and ds.SoftwareVersions == __version__
        assert (ds.ContentDate, ds.ContentTime) == ("20260601", "123015.000000")
    assert pdf.SeriesInstanceUID != sr.SeriesInstanceUID
    assert (pdf.Modality, sr.Modality) == ("DOC", "SR")
    assert "C-7" in pdf.DocumentTitle
    (request,) = pdf.RequestAttributesSequence
    assert (request.RequestedProcedureID, request.ScheduledProcedureStepID) == ("RP-9", "SPS-3")
    # the SR cites the PDF as evidence, so a viewer finds one from the other
    (evidence,) = sr.CurrentRequestedProcedureEvidenceSequence  # same study
    cited = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0]
    assert cited.ReferencedSOPInstanceUID == pdf.SOPInstanceUID


def test_pdf_is_the_case_report_unchanged(written: list[Path]) -> None:
    pdf = _by_class(written)[EncapsulatedPDFStorage]
    assert pdf.MIMETypeOfEncapsulatedDocument == "application/pdf"
    document = bytes(pdf.EncapsulatedDocument)
    length = int(pdf.EncapsulatedDocumentLength)
    assert len(document) % 2 == 0 and len(document) - length in (0, 1)
    assert document[:5] == b"%PDF-" and document[:length].rstrip().endswith(b"%%EOF")
    assert document[length:] in (b"", b"\0")


@pytest.mark.parametrize("payload", [b"%PDF-1.4 odd", b"%PDF-1.4 even"])
def test_pdf_bytes_are_kept_exactly_and_padded_to_even_length(
        store: CaseStore, monkeypatch: pytest.MonkeyPatch, payload: bytes) -> None:
    _case(store)
    monkeypatch.setattr(dicom_export, "report_pdf", lambda *args: payload)
    pdf = case_dicom(store, "C-7", now=NOW)[0]
    document = bytes(pdf.EncapsulatedDocument)
    assert pdf.EncapsulatedDocumentLength == len(payload)
    assert document == payload + b"\0" * (len(payload) % 2)


def _items(container: Dataset) -> dict[str, list[Dataset]]:
    """Content items of an SR container by their concept's meaning."""
    out: dict[str, list[Dataset]] = {}
    for item in container.ContentSequence:
        out.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, []).append(item)
    return out


def _num(item: Dataset) -> float:
    return float(item.MeasuredValueSequence[0].NumericValue)


def test_sr_holds_every_measurement_with_its_verdicts(store: CaseStore,
                                                      written: list[Path]) -> None:
    sr = _by_class(written)[ComprehensiveSRStorage]
    ComprehensiveSR.from_dataset(sr)  # highdicom reads it back as a Comprehensive SR
    assert (sr.CompletionFlag, sr.ValueType) == ("COMPLETE", "CONTAINER")
    root = _items(sr)
    assert root["Case identifier"][0].TextValue == "C-7"
    assert root["Radionuclide"][0].TextValue == "Tc-99m"
    table = store.node_table("C-7")
    assert _num(root["Background count rate"][0]) == pytest.approx(table.background_cps,
                                                                  rel=1e-6)
    measurements = store.measurements("C-7")
    items = root["Probe measurement"]
    assert len(items) == len(measurements) == 5
    verdicts: dict[tuple[str, str], list[str]] = {}
    for m, item in zip(measurements, items, strict=True):
        got = _items(item)
        assert got["Node"][0].TextValue == m.node
        assert _num(got["Counts"][0]) == m.counts
        assert _num(got["Live time"][0]) == pytest.approx(m.live_s, rel=1e-9)
        # DS holds 16 characters: about 11 significant digits survive, so rel 1e-9 is safe
        assert _num(got["Net count rate"][0]) == pytest.approx(m.net_cps, rel=1e-9)
        assert _num(got["Net count rate standard deviation"][0]) == pytest.approx(
            m.net_sd_cps, rel=1e-9)
        assert _num(got["Decay-corrected count rate"][0]) == pytest.approx(
            m.corrected_rate_cps, rel=1e-9)
        unit = got["Decay-corrected count rate"][0].MeasuredValueSequence[0]
        assert unit.MeasurementUnitsCodeSequence[0].CodeValue == "{counts}/s"
        if m.kind == "background":
            assert "Ratio to background" not in got
        else:
            assert _num(got["Ratio to background"][0]) == pytest.approx(
                m.corrected_rate_cps / table.background_cps, rel=1e-9)
        verdicts[(m.node, m.kind)] = [v.TextValue for v in got.get("Rule verdict", [])]
        if m.note:
            assert got["Measurement note"][0].TextValue == m.note
    for row in table.rows:  # every verdict of the node table, under the count it judged
        for v in row.verdicts:
            kind = "bed" if v.rule == "bed_check" else "ex_vivo"
            assert v.text in verdicts[(row.node, kind)]
    assert sum(len(v) for v in verdicts.values()) == sum(len(r.verdicts) for r in table.rows)
    assert verdicts[("SLN 1", "in_vivo")] == []
    # sln-breast: 10 % rule and ex vivo / background on each ex vivo count, bed check on bed
    assert [len(verdicts[k]) for k in (("SLN 1", "ex_vivo"), ("SLN 2", "ex_vivo"),
                                       ("SLN 1", "bed"))] == [2, 2, 1]


def test_uids_follow_the_content(store: CaseStore) -> None:
    _case(store)
    first = [ds.SOPInstanceUID for ds in case_dicom(store, "C-7", now=NOW)]
    later = datetime(2027, 1, 1, tzinfo=UTC)
    assert [ds.SOPInstanceUID for ds in case_dicom(store, "C-7", now=later)] == first
    study = store.identifiers("C-7").study_instance_uid  # type: ignore[union-attr]
    store.record("C-7", "SLN 3", "ex_vivo", result(150, background_cps=30.0), T0 + 400)
    changed = case_dicom(store, "C-7", now=NOW)
    assert all(ds.SOPInstanceUID not in first for ds in changed)
    assert {ds.StudyInstanceUID for ds in changed} == {study}  # still the case's study


def test_a_case_without_identifiers_is_refused(store: CaseStore) -> None:
    store.create_case("C-8", "sln-breast", "Tc-99m")
    with pytest.raises(UserError, match="probe-nav case identify C-8") as caught:
        case_dicom(store, "C-8")
    assert "\n" not in str(caught.value)


def test_long_case_id_is_not_truncated_into_study_id(store: CaseStore) -> None:
    case_id = "CASE-" + "9" * 40
    store.create_case(case_id, "sln-breast", "Tc-99m")
    store.set_identifiers(case_id, CaseIdentifiers("P1"))
    pdf, sr = case_dicom(store, case_id, now=NOW)
    assert pdf.StudyID == sr.StudyID == ""  # SH holds 16: left empty (type 2), not cut
    assert case_id in pdf.DocumentTitle
    assert _items(sr)["Case identifier"][0].TextValue == case_id


@pytest.mark.skipif(shutil.which("dciodvfy") is None,
                    reason="dciodvfy not installed (apt dicom3tools)")
def test_dciodvfy_finds_no_errors(written: list[Path]) -> None:
    """dciodvfy's warnings are allowed: it flags our private coding scheme designator
    (99PRBNAV, declared in CodingSchemeIdentificationSequence) as an unknown defined term."""
    for path in written:
        done = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True,
                              timeout=60, check=False)
        lines = (done.stdout + done.stderr).splitlines()
        errors = [line for line in lines if line.startswith("Error")]
        assert not errors, f"{path.name}: {errors}"
        warnings = {line for line in lines if line.startswith("Warning")}
        assert warnings <= {"Warning - Unrecognized defined term <99PRBNAV> for value 1 of "
                            "attribute <Coding Scheme Designator>"}, warnings


def test_the_same_records_give_the_same_instances_byte_for_byte(store: CaseStore) -> None:
    """A re-export (a re-send) of unchanged records is the same instance: same UIDs, same
    dates, the same PDF bytes (Qt's wall-clock dates and random document ids pinned in place),
    and the PDF still reads; on both backends (what is read back must not drift either)."""
    import io

    import pypdf

    store.create_case("C1", "sln-breast", "Tc-99m")
    store.set_identifiers("C1", CaseIdentifiers("PID-1", accession_number="ACC1"))
    first, again = case_dicom(store, "C1"), case_dicom(store, "C1")
    for a, b in zip(first, again, strict=True):
        assert a.SOPInstanceUID == b.SOPInstanceUID
        assert (a.ContentDate, a.ContentTime) == (b.ContentDate, b.ContentTime)
    pdf = bytes(first[0].EncapsulatedDocument)
    assert pdf == bytes(again[0].EncapsulatedDocument)
    length = int(first[0].EncapsulatedDocumentLength)
    text = pypdf.PdfReader(io.BytesIO(pdf[:length])).pages[0].extract_text()
    assert "Case C1" in " ".join(text.split())
