"""probe_nav.cases.dicom_send against small in-process pynetdicom SCPs on loopback (each test's
own, on a free port): what an accepting, failing, aborting and rejecting PACS and a closed port
give, the retries and their back-off (counted through a fake sleep, so no test waits on the
wall clock), and the `case send` argument errors. The real PACS (Orthanc) is in
tests/e2e/test_pacs_roundtrip.py."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
from pydicom import Dataset
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE, evt
from pynetdicom.sop_class import ComprehensiveSRStorage, EncapsulatedPDFStorage

from probe_nav.cases import dicom_send
from probe_nav.cases.dicom_send import check_ae_title, parse_pacs, send
from tests.in_process import run_main

PDF = b"%PDF-1.4\n% a tiny stand-in, odd length\n%%EOF\n"


def instance(sop_class: str, *, pdf: bytes = PDF) -> Dataset:
    """A minimal instance of `sop_class` with file meta information (what send needs)."""
    ds = Dataset()
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = generate_uid()
    ds.StudyInstanceUID = "1.2.826.0.1.3680043.8.498.1"
    ds.SeriesInstanceUID = generate_uid()
    ds.PatientID = "P-1"
    ds.PatientName = ""
    ds.Modality = "DOC" if sop_class == EncapsulatedPDFStorage else "SR"
    if sop_class == EncapsulatedPDFStorage:
        ds.MIMETypeOfEncapsulatedDocument = "application/pdf"
        ds.EncapsulatedDocument = pdf + b"\0" * (len(pdf) % 2)
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = sop_class
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    return ds


@pytest.fixture
def two() -> list[Dataset]:
    return [instance(EncapsulatedPDFStorage), instance(ComprehensiveSRStorage)]


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off delays send asked for, instead of sleeping them."""
    asked: list[float] = []
    monkeypatch.setattr(dicom_send, "_sleep", asked.append)
    return asked


def test_sop_class_the_pacs_does_not_take_is_not_retried(scp_factory, two, sleeps) -> None:
    scp = scp_factory(sop_classes=(EncapsulatedPDFStorage,))
    report = send(two, "TESTSCP", "127.0.0.1", scp.port, retries=3)
    assert [a.outcome for a in report.attempts] == ["accepted"] and sleeps == []
    pdf, sr = report.instances
    assert pdf.stored and not sr.stored and sr.permanent
    assert sr.line().startswith(f"NOT STORED {two[1].SOPInstanceUID} (Comprehensive SR): "
                                "not sent: No presentation context for 'Comprehensive SR")
    assert "\n" not in sr.line()


class Scp:
    """A pynetdicom storage SCP on 127.0.0.1 (a free port) whose C-STORE answers come from
    `answer(call_number, dataset, event) -> status`; keeps what it stored."""

    def __init__(self, answer: Callable[[int, Dataset, object], int] | None = None, *,
                 ae_title: str = "TESTSCP", require_called_aet: bool = False,
                 sop_classes: tuple[str, ...] = (EncapsulatedPDFStorage,
                                                 ComprehensiveSRStorage)) -> None:
        self.stored: dict[str, Dataset] = {}
        self.calls = 0
        self.answer = answer or (lambda n, ds, event: 0x0000)
        ae = AE(ae_title=ae_title)
        ae.require_called_aet = require_called_aet
        for uid in sop_classes:
            ae.add_supported_context(uid)
        self.server = ae.start_server(("127.0.0.1", 0), block=False,
                                      evt_handlers=[(evt.EVT_C_STORE, self._on_store)])
        self.port = self.server.server_address[1]

    def _on_store(self, event: object) -> int:
        self.calls += 1
        ds = event.dataset  # type: ignore[attr-defined]
        ds.file_meta = event.file_meta  # type: ignore[attr-defined]
        status = self.answer(self.calls, ds, event)
        if status in (0x0000, 0xB000):
            self.stored[str(ds.SOPInstanceUID)] = ds
        return status


@pytest.fixture
def scp_factory() -> Iterator[Callable[..., Scp]]:
    made: list[Scp] = []

    def make(*args: object, **kwargs: object) -> Scp:
        made.append(Scp(*args, **kwargs))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for scp in made:
        scp.server.shutdown()


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_all_stored_in_one_association(scp_factory, two, sleeps) -> None:
    scp = scp_factory()
    report = send(two, "TESTSCP", "127.0.0.1", scp.port)
    assert report.all_stored and report.n_stored == 2
    assert [a.outcome for a in report.attempts] == ["accepted"]
    assert sleeps == []
    assert [i.tries for i in report.instances] == [1, 1]
    got = scp.stored[str(two[0].SOPInstanceUID)]
    assert got.EncapsulatedDocument == two[0].EncapsulatedDocument  # bytes unchanged
    assert got.SOPClassUID == EncapsulatedPDFStorage
    assert report.instances[0].line() == f"stored {two[0].SOPInstanceUID} (Encapsulated PDF)"
    assert report.summary() == (f"2 of 2 instance(s) stored in TESTSCP@127.0.0.1:{scp.port} "
                                "after 1 association(s)")


def test_failed_instance_is_retried_alone_with_backoff(scp_factory, two, sleeps) -> None:
    # the SR is refused "out of resources" twice, then stored
    def answer(n: int, ds: Dataset, event: object) -> int:
        return 0xA700 if ds.SOPClassUID == ComprehensiveSRStorage and n <= 3 else 0x0000

    scp = scp_factory(answer)
    report = send(two, "TESTSCP", "127.0.0.1", scp.port, retries=3, backoff_s=0.5)
    assert report.all_stored
    assert [a.outcome for a in report.attempts] == ["accepted"] * 3
    assert sleeps == [0.5, 1.0]  # doubled each time
    assert [i.tries for i in report.instances] == [1, 3]  # the PDF was not sent again
    assert scp.calls == 4


def test_failure_after_all_retries_is_reported(scp_factory, two, sleeps) -> None:
    scp = scp_factory(lambda n, ds, e: 0xA700 if ds.SOPClassUID == ComprehensiveSRStorage else 0)
    report = send(two, "TESTSCP", "127.0.0.1", scp.port, retries=2)
    assert not report.all_stored and report.n_stored == 1
    assert len(report.attempts) == 3 and sleeps == [1.0, 2.0]
    sr = report.instances[1]
    assert sr.status == 0xA700 and sr.tries == 3 and not sr.stored
    assert sr.line() == (f"FAILED {two[1].SOPInstanceUID} (Comprehensive SR): status 0xA700 "
                         "(Failure: Refused: Out of Resources)")


def test_warning_status_counts_as_stored(scp_factory, two, sleeps) -> None:
    scp = scp_factory(lambda n, ds, e: 0xB000)
    report = send(two, "TESTSCP", "127.0.0.1", scp.port)
    assert report.all_stored and sleeps == []
    assert report.instances[0].line().startswith(f"stored {two[0].SOPInstanceUID} "
                                                 "(Encapsulated PDF): status 0xB000 (Warning")


def test_abort_while_storing_is_retried(scp_factory, two, sleeps) -> None:
    def answer(n: int, ds: Dataset, event: object) -> int:
        if n == 1:
            event.assoc.abort()  # type: ignore[attr-defined]
        return 0x0000

    scp = scp_factory(answer)
    # pynetdicom notices an abort during a C-STORE only at the response time-out, so the test
    # waits timeout_s: 5 s, far beyond a loopback association's few ms even on a loaded machine
    report = send(two, "TESTSCP", "127.0.0.1", scp.port, timeout_s=5.0)
    assert [a.outcome for a in report.attempts] == ["aborted", "accepted"]
    assert report.all_stored and sleeps == [1.0]
    assert set(scp.stored) == {str(ds.SOPInstanceUID) for ds in two}


def test_permanent_rejection_is_not_retried(scp_factory, two, sleeps) -> None:
    scp = scp_factory(ae_title="TESTSCP", require_called_aet=True)
    report = send(two, "WRONG_AE", "127.0.0.1", scp.port, retries=3)
    (attempt,) = report.attempts
    assert attempt.outcome == "rejected" and attempt.permanent
    assert attempt.line(report.destination) == (
        f"association 1 with WRONG_AE@127.0.0.1:{scp.port}: rejected: permanent, by the "
        "service user: Called AE title not recognised")
    assert sleeps == [] and scp.calls == 0 and report.n_stored == 0
    assert all(i.line().startswith("NOT STORED") for i in report.instances)


def test_no_connection_is_retried_then_reported(two, sleeps) -> None:
    port = closed_port()
    report = send(two, "ORTHANC", "127.0.0.1", port, retries=3)
    assert [a.outcome for a in report.attempts] == ["no connection"] * 4
    assert "refused" in report.attempts[0].detail.lower()
    assert sleeps == [1.0, 2.0, 4.0]
    assert report.n_stored == 0 and [i.tries for i in report.instances] == [0, 0]


def test_silent_peer_is_a_timeout(two, sleeps) -> None:
    # a listener that accepts the connection and never answers: the time-out fires however
    # loaded the machine is (nothing can arrive), so 0.5 s keeps the test short without a race
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        report = send(two, "SILENT", "127.0.0.1", port, retries=1, timeout_s=0.5)
    assert [a.outcome for a in report.attempts] == ["aborted", "aborted"]
    assert report.attempts[0].detail == ("timeout: no answer to the association request "
                                         "within 0.5 s")
    assert report.n_stored == 0 and sleeps == [1.0]


def test_bad_arguments_and_datasets_are_refused(two) -> None:
    with pytest.raises(ValueError, match="AE title"):
        send(two, "A" * 17, "127.0.0.1", 104)
    with pytest.raises(ValueError, match="calling AE title"):
        send(two, "PACS", "127.0.0.1", 104, calling_ae="BACK\\SLASH")
    with pytest.raises(ValueError, match="twice"):
        send([two[0], two[0]], "PACS", "127.0.0.1", 104)
    del two[1].file_meta
    with pytest.raises(ValueError, match="transfer syntax"):
        send(two, "PACS", "127.0.0.1", 104)
    with pytest.raises(ValueError, match="nothing to send"):
        send([], "PACS", "127.0.0.1", 104)


@pytest.mark.parametrize(("text", "expected"), [
    ("ORTHANC@127.0.0.1:4242", ("ORTHANC", "127.0.0.1", 4242)),
    ("PACS 1@pacs.example.org:104", ("PACS 1", "pacs.example.org", 104)),
    ("AE@[::1]:11112", ("AE", "::1", 11112)),
])
def test_parse_pacs(text: str, expected: tuple[str, str, int]) -> None:
    assert parse_pacs(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("127.0.0.1:4242", "expected AE@HOST:PORT"),
    ("ORTHANC@127.0.0.1", "expected AE@HOST:PORT"),
    ("ORTHANC@:4242", "expected AE@HOST:PORT"),
    ("@host:4242", "AE title"),
    ("SEVENTEEN_CHARS_X@host:4242", "AE title"),
    ("   @host:4242", "AE title"),
    ("ORTHANC@host:0", "port"),
    ("ORTHANC@host:65536", "port"),
    ("ORTHANC@host:http", "port"),
])
def test_parse_pacs_refuses(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_pacs(text)


def test_cli_default_calling_ae_is_the_modules() -> None:
    from probe_nav.cli import case_send

    assert case_send.DEFAULT_CALLING_AE == dicom_send.DEFAULT_CALLING_AE


def test_check_ae_title() -> None:
    assert check_ae_title("PROBE_NAV") == "PROBE_NAV"
    for bad in ("", "x" * 17, "A\\B", "caf\u00e9", "TAB\tAE"):
        with pytest.raises(ValueError):
            check_ae_title(bad)


@pytest.mark.parametrize(("args", "message"), [
    (["--pacs", "nonsense"], "expected AE@HOST:PORT"),
    (["--pacs", "ORTHANC@127.0.0.1:99999"], "port"),
    (["--pacs", "ORTHANC@127.0.0.1:4242", "--calling-ae", "A" * 17], "--calling-ae"),
    (["--pacs", "ORTHANC@127.0.0.1:4242", "--retries", "-1"], "--retries"),
])
def test_cli_bad_arguments_are_one_line(tmp_path, args: list[str], message: str) -> None:
    """SQLite only: the arguments are refused before any database is opened (none is made),
    so the backend plays no part."""
    db = tmp_path / "cases.sqlite3"
    run = run_main("case", "send", "C1", *args, "--db", str(db))
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.splitlines()) == 1 and message in run.stderr, run.stderr
    assert run.stdout == "" and not db.exists()
