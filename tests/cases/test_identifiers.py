"""Case identifiers: the DICOM VR checks (with pydicom's own validator as the oracle), the
worklist reader (no patient name kept) and their sealed storage (schema v5), on SQLite and
PostgreSQL."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pydicom
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydicom import config as dicom_config
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian
from pydicom.valuerep import validate_value

from probe_nav.cases.identifiers import (
    CaseIdentifiers,
    check_string,
    check_uid,
    checked,
    from_worklist,
)
from probe_nav.cases.store import CaseStore
from probe_nav.errors import UserError
from probe_nav.storage import TamperedRecord
from tests.backends import CASES_SCHEMA, Db, backend_fixture

WORKLIST_FIND = "1.2.840.10008.5.1.4.31"  # Modality Worklist Information Model - FIND
# printable characters other than the backslash (DICOM's value separator), spaces not at the
# ends (DICOM pads with them, so they are not part of a value)
_CHARS = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Co", "Cn"),
                       blacklist_characters="\\")
lo_values = st.text(_CHARS, min_size=1, max_size=64).filter(
    lambda s: s == s.strip(" ") and s.isprintable())
sh_values = st.text(_CHARS, min_size=0, max_size=16).filter(
    lambda s: s == s.strip(" ") and s.isprintable())
components = st.one_of(st.just("0"), st.integers(1, 10**12).map(str))
uids = st.lists(components, min_size=2, max_size=12).map(".".join).filter(lambda u: len(u) <= 64)
case_db = backend_fixture("cases.sqlite3", CASES_SCHEMA)


def _pydicom_accepts(vr: str, value: str) -> bool:
    """pydicom's own check of a value against its VR (the independent oracle)."""
    try:
        validate_value(vr, value, dicom_config.RAISE)
    except ValueError:
        return False
    return True


# DICOM limits LO/SH in characters (PS3.5 6.2 note); pydicom's writer warns about UTF-8 bytes
@pytest.mark.filterwarnings("ignore:The value length")
@given(lo_values, lo_values, sh_values, uids, sh_values, sh_values)
@settings(max_examples=200, deadline=None)
def test_what_is_accepted_round_trips_and_pydicom_accepts(
        patient: str, issuer: str, accession: str, uid: str, rp: str, sps: str) -> None:
    ids = CaseIdentifiers(patient, issuer, accession, uid, rp, sps)
    assert checked(ids) == ids  # accepted unchanged
    for vr, value in (("LO", patient), ("LO", issuer), ("SH", accession), ("UI", uid),
                      ("SH", rp), ("SH", sps)):
        assert _pydicom_accepts(vr, value), (vr, value)
    ds = Dataset()  # and survive a DICOM file write and read (UTF-8 character set)
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientID, ds.IssuerOfPatientID, ds.AccessionNumber = patient, issuer, accession
    ds.StudyInstanceUID = uid
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "x.dcm"
        ds.file_meta = FileMetaDataset()
        ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds.save_as(path, implicit_vr=False, little_endian=True)
        back = pydicom.dcmread(path, force=True)
    assert (back.PatientID, back.IssuerOfPatientID, back.AccessionNumber,
            back.StudyInstanceUID) == (patient, issuer, accession, uid)


@given(st.text(_CHARS, min_size=65, max_size=120).filter(lambda s: len(s.strip(" ")) > 64))
@settings(max_examples=50, deadline=None)
def test_lo_longer_than_64_is_refused_like_pydicom_does(text: str) -> None:
    with pytest.raises(UserError, match="DICOM LO allows at most 64"):
        check_string("patient_id", text)
    assert not _pydicom_accepts("LO", text.strip(" "))


@given(st.text(_CHARS, min_size=17, max_size=40).filter(lambda s: len(s.strip(" ")) > 16))
@settings(max_examples=50, deadline=None)
def test_sh_longer_than_16_is_refused_like_pydicom_does(text: str) -> None:
    with pytest.raises(UserError, match="DICOM SH allows at most 16"):
        check_string("accession_number", text)
    assert not _pydicom_accepts("SH", text.strip(" "))


@given(st.lists(components, min_size=2, max_size=6), st.integers(0, 5),
       st.integers(1, 10**6))
@settings(max_examples=100, deadline=None)
def test_uid_component_with_a_leading_zero_is_refused(parts: list[str], at: int,
                                                      n: int) -> None:
    parts[at % len(parts)] = f"0{n}"
    with pytest.raises(UserError, match="not a DICOM UID"):
        check_uid(".".join(parts))


@pytest.mark.parametrize("bad", ["", "1", "1..2", ".1.2", "1.2.", "1.2a", "1.2 .3",
                                 "1." + "2" * 63])
def test_malformed_uids_are_refused(bad: str) -> None:
    with pytest.raises(UserError, match="not a DICOM UID"):
        check_uid(bad)


@pytest.mark.parametrize("bad", ["A\\B", "A\nB", "A\tB", "A\x1bB", "", "   "])
def test_backslash_control_characters_and_empty_patient_id_are_refused(bad: str) -> None:
    with pytest.raises(UserError) as caught:
        check_string("patient_id", bad)
    assert "\n" not in str(caught.value)


def _worklist(path: Path, **extra: object) -> Path:
    """A Modality Worklist entry as a RIS would return it (with a patient name)."""
    ds = Dataset()
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.PatientName = "Doe^Jane"
    ds.PatientID = "MRN-0042"
    ds.IssuerOfPatientID = "GENERAL HOSPITAL"
    ds.AccessionNumber = "ACC-77"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.RequestedProcedureID = "RP-9"
    step = Dataset()
    step.ScheduledProcedureStepID = "SPS-3"
    step.Modality = "OT"
    ds.ScheduledProcedureStepSequence = [step]
    for key, value in extra.items():
        setattr(ds, key, value)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = WORKLIST_FIND
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(path, enforce_file_format=True)
    return path


def test_worklist_entry_gives_the_identifiers_and_never_the_name(case_db: Db,
                                                                 tmp_path: Path) -> None:
    ids = from_worklist(_worklist(tmp_path / "entry.wl"), operator="RT")
    assert ids == CaseIdentifiers("MRN-0042", "GENERAL HOSPITAL", "ACC-77",
                                  "1.2.826.0.1.3680043.8.498.1", "RP-9", "SPS-3",
                                  "worklist entry.wl", "RT")
    with CaseStore.open(case_db.arg) as store:
        store.create_case("C1", "sln-breast", "Tc-99m")
        stored = store.set_identifiers("C1", ids)
        assert store.identifiers("C1") == stored
        assert stored.study_instance_uid == "1.2.826.0.1.3680043.8.498.1"  # the worklist's
        assert "Doe" not in repr(store.identifiers("C1"))
    # the name never reached the database: not in the file's bytes, nor in any row on a server
    if case_db.path is not None:
        raw = b"".join(p.read_bytes() for p in tmp_path.glob("cases.sqlite3*"))
    else:
        tables = case_db.sql("SELECT table_name FROM information_schema.tables "
                             "WHERE table_schema = ?", (case_db.schema,))
        raw = "".join(text for (table,) in tables for (text,) in case_db.sql(
            f'SELECT t::text FROM "{table}" t')).encode()
    assert b"MRN-0042" in raw and b"Doe" not in raw


@pytest.mark.filterwarnings("ignore:The value length")  # the entry written with a too long SH
def test_unreadable_worklists_are_refused_in_one_line(tmp_path: Path) -> None:
    junk = tmp_path / "junk.wl"
    junk.write_bytes(b"\x00\x01 not dicom at all")
    for path, message in ((tmp_path / "missing.wl", "cannot read the worklist entry"),
                          (junk, "no PatientID|not a readable DICOM worklist entry"),
                          (_worklist(tmp_path / "noid.wl", PatientID=""), "no PatientID"),
                          (_worklist(tmp_path / "long.wl", AccessionNumber="A" * 17),
                           "SH allows at most 16")):
        with pytest.raises(UserError, match=message) as caught:
            from_worklist(path)
        assert "\n" not in str(caught.value)


def test_study_uid_is_generated_once_and_kept(store: CaseStore) -> None:
    store.create_case("C1", "sln-breast", "Tc-99m")
    assert store.identifiers("C1") is None
    first = store.set_identifiers("C1", CaseIdentifiers("P1", accession_number="A1"))
    check_uid(first.study_instance_uid)
    assert first.study_instance_uid.startswith("2.25.")
    second = store.set_identifiers("C1", CaseIdentifiers("P1", accession_number="A2"))
    assert second.study_instance_uid == first.study_instance_uid  # the same study
    assert store.identifiers("C1") == second  # the latest counts
    third = store.set_identifiers("C1", CaseIdentifiers("P1", study_instance_uid="1.2.3"))
    assert store.identifiers("C1") == third and third.study_instance_uid == "1.2.3"
    store.create_case("C2", "sln-breast", "Tc-99m")
    other = store.set_identifiers("C2", CaseIdentifiers("P1"))
    assert other.study_instance_uid != first.study_instance_uid
    assert not store.verify().problems


def test_bad_identifiers_store_nothing(store: CaseStore) -> None:
    store.create_case("C1", "sln-breast", "Tc-99m")
    with pytest.raises(UserError):
        store.set_identifiers("C1", CaseIdentifiers("P" * 65))
    with pytest.raises(UserError):
        store.set_identifiers("C1", CaseIdentifiers("P1", study_instance_uid="1.2.03"))
    assert store.identifiers("C1") is None
    assert store._conn.execute("SELECT count(*) FROM case_identifiers").fetchone()[0] == 0


def test_identifiers_changed_outside_probe_nav_refuse_the_case(case_db: Db) -> None:
    with CaseStore.open(case_db.arg) as store:
        store.create_case("C1", "sln-breast", "Tc-99m")
        store.set_identifiers("C1", CaseIdentifiers("P1"))
    case_db.sql("UPDATE case_identifiers SET patient_id = 'P2'")
    with CaseStore.open(case_db.arg) as store:
        with pytest.raises(TamperedRecord, match="fails its checksum"):
            store.identifiers("C1")
        assert store.verify().problems
