"""`probe-nav case identify` and `probe-nav case export --dicom`, in-process: what is stored and
written, and bad input refused with one line on stderr, exit 2 and nothing stored or written.
Every test runs on a SQLite file and on PostgreSQL (tests/backends.py)."""

from __future__ import annotations

import stat
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from probe_nav.cases.store import CaseStore
from tests.backends import CASES_SCHEMA, Db, backend_fixture
from tests.in_process import run_main

case_db = backend_fixture("cases.sqlite3", CASES_SCHEMA)


@pytest.fixture
def db(case_db: Db) -> Db:
    """A case with a background and one ex vivo node, no identifiers yet."""
    for step in (("new", "C1", "--procedure", "sln-melanoma", "--opened-at", "2026-05-09T07:45Z"),
                 ("add-count", "C1", "background", "--kind", "background", "--counts", "200",
                  "--live-s", "10", "--at", "2026-05-09T10:00Z"),
                 ("add-count", "C1", "SLN 1", "--kind", "ex_vivo", "--counts", "8000",
                  "--live-s", "10", "--at", "2026-05-09T10:30Z")):
        done = run_main("case", *step, "--db", case_db.arg)
        assert done.returncode == 0, done.stderr
    return case_db


def _identifier_rows(db: Db) -> int:
    with CaseStore.open(db.arg) as store:
        return int(store._conn.execute("SELECT count(*) FROM case_identifiers").fetchone()[0])


def _one_line_error(done) -> None:
    assert done.returncode == 2, done
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("probe-nav"), done.stderr
    assert "Traceback" not in done.stderr


def test_identify_then_export_writes_the_two_objects(db: Db, tmp_path: Path) -> None:
    done = run_main("case", "identify", "C1", "--patient-id", "MRN-1", "--accession", "A-5",
                    "--issuer", "GH", "--operator", "RT", "--db", db.arg)
    assert done.returncode == 0, done.stderr
    assert "patient id MRN-1, accession A-5, study 2.25." in done.stdout
    out = tmp_path / "dicom"
    out.mkdir()
    done = run_main("case", "export", "C1", "--dicom", str(out), "--db", db.arg)
    assert done.returncode == 0, done.stderr
    paths = [Path(line) for line in done.stdout.splitlines()]
    assert sorted(paths) == sorted(out.iterdir()) and len(paths) == 2
    modalities = set()
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        ds = pydicom.dcmread(path)
        assert (ds.PatientID, ds.AccessionNumber, ds.IssuerOfPatientID) == ("MRN-1", "A-5", "GH")
        modalities.add(ds.Modality)
    assert modalities == {"DOC", "SR"}
    # again: the same files (same UIDs), refused without --force, replaced with it
    again = run_main("case", "export", "C1", "--dicom", str(out), "--db", db.arg)
    _one_line_error(again)
    assert "add --force" in again.stderr
    forced = run_main("case", "export", "C1", "--dicom", str(out), "--force", "--db", db.arg)
    assert forced.returncode == 0 and forced.stdout == done.stdout


def test_identify_from_a_worklist(db: Db, tmp_path: Path) -> None:
    ds = Dataset()
    ds.PatientName, ds.PatientID, ds.AccessionNumber = "Doe^Jane", "MRN-9", "ACC-9"
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.77"
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.save_as(tmp_path / "e.wl", implicit_vr=False, little_endian=True)
    done = run_main("case", "identify", "C1", "--worklist", str(tmp_path / "e.wl"),
                    "--db", db.arg)
    assert done.returncode == 0, done.stderr
    assert "Doe" not in done.stdout
    with CaseStore.open(db.arg) as store:
        ids = store.identifiers("C1")
    assert ids is not None
    assert (ids.patient_id, ids.accession_number, ids.study_instance_uid, ids.source) == (
        "MRN-9", "ACC-9", "1.2.826.0.1.3680043.8.498.77", "worklist e.wl")


@pytest.mark.parametrize("args", [
    ("--patient-id", "A\\B"),
    ("--patient-id", "P" * 65),
    ("--patient-id", "   "),
    ("--patient-id", "P1", "--accession", "A" * 17),
    ("--patient-id", "P1", "--study-uid", "1.2.03"),
    ("--patient-id", "P1", "--study-uid", "not-a-uid"),
    ("--patient-id", "P1", "--scheduled-step-id", "S\x07"),
    ("--worklist", "missing.wl"),
    ("--worklist", "e.wl", "--accession", "A1"),
    ("--patient-id", "P1", "--worklist", "e.wl"),
    (),
])
def test_bad_identifiers_one_line_exit_2_nothing_stored(db: Db, args: tuple[str, ...]) -> None:
    done = run_main("case", "identify", "C1", *args, "--db", db.arg)
    _one_line_error(done)
    assert _identifier_rows(db) == 0


def test_identify_an_unknown_case_stores_nothing(db: Db) -> None:
    _one_line_error(run_main("case", "identify", "C9", "--patient-id", "P1", "--db", db.arg))
    assert _identifier_rows(db) == 0


@pytest.mark.parametrize("extra", [(), ("--out", "x.json"), ("--format", "csv")])
def test_bad_dicom_exports_one_line_exit_2_nothing_written(db: Db, tmp_path: Path,
                                                           extra: tuple[str, ...]) -> None:
    out = tmp_path / "dicom"
    out.mkdir()
    if extra:  # identified, but --dicom with an option of the other export
        assert run_main("case", "identify", "C1", "--patient-id", "P1",
                        "--db", db.arg).returncode == 0
    done = run_main("case", "export", "C1", "--dicom", str(out), *extra, "--db", db.arg)
    _one_line_error(done)
    if not extra:
        assert "probe-nav case identify C1" in done.stderr
    assert list(out.iterdir()) == []


def test_export_into_a_missing_folder(db: Db, tmp_path: Path) -> None:
    assert run_main("case", "identify", "C1", "--patient-id", "P1",
                    "--db", db.arg).returncode == 0
    done = run_main("case", "export", "C1", "--dicom", str(tmp_path / "nope"), "--db", db.arg)
    _one_line_error(done)
    assert not (tmp_path / "nope").exists()
