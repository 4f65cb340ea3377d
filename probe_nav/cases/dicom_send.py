"""Send DICOM instances (a case's Encapsulated PDF and SR, probe_nav.cases.dicom_export) to a PACS
with C-STORE (pynetdicom), and say exactly what happened: each association's result (accepted,
rejected with its reason, aborted, no connection) and each instance's last status.

Instances that are not stored are sent again on a new association after a back-off (1 s, 2 s,
4 s, ... by default), up to `retries` more times; a rejection the PACS calls permanent is not
retried (asking again gets the same answer). Sending twice is harmless: the SOP Instance UIDs are
derived from the case's content, so a PACS files the same instance once.
"""

from __future__ import annotations

import logging
import re
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

log = logging.getLogger(__name__)

DEFAULT_CALLING_AE = "PROBE_NAV"
BACKOFF_S = 1.0  # before the first retry; doubled before each next one
_AE_RE = re.compile(r"[\x20-\x5b\x5d-\x7e]{1,16}")  # AE VR: 16 printable ASCII, no backslash
_sleep: Callable[[float], None] = time.sleep  # looked up at call time, so tests can replace it


def check_ae_title(text: str, what: str = "AE title") -> str:
    """`text` as a DICOM AE title (1-16 printable ASCII characters, no backslash, not only
    spaces); ValueError naming `what` otherwise."""
    if not _AE_RE.fullmatch(text) or not text.strip():
        raise ValueError(f"{what} {text!r} is not a DICOM AE title (1 to 16 printable ASCII "
                         "characters, no backslash)")
    return text


def parse_pacs(text: str) -> tuple[str, str, int]:
    """'AE@HOST:PORT' (HOST may be [IPv6]) -> (ae_title, host, port); ValueError otherwise."""
    ae, at, address = text.rpartition("@")
    host, colon, port_text = address.rpartition(":")
    if not at or not colon or not host or not port_text:
        raise ValueError(f"--pacs {text!r}: expected AE@HOST:PORT, e.g. ORTHANC@pacs.local:4242")
    check_ae_title(ae, "--pacs: the called AE title")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise ValueError(f"--pacs {text!r}: the port must be a number from 1 to 65535")
    return ae, host, int(port_text)


@dataclass(frozen=True)
class Attempt:
    """One association: its number (1 = first try), outcome ("accepted", "rejected", "aborted",
    "no connection") and the detail a person needs (the rejection's reason, the socket error)."""

    number: int
    outcome: str
    detail: str = ""
    permanent: bool = False  # a rejection the PACS says is permanent: not retried

    def line(self, destination: str) -> str:
        """One line for the user."""
        detail = f": {self.detail}" if self.detail else ""
        return f"association {self.number} with {destination}: {self.outcome}{detail}"


@dataclass(frozen=True)
class InstanceStatus:
    """The last C-STORE status of one instance (None: never answered) and how many C-STOREs
    were tried for it."""

    sop_instance_uid: str
    sop_class_uid: str
    status: int | None
    tries: int
    note: str = ""  # why it was not sent or answered, when status is None
    permanent: bool = False  # the PACS does not take its SOP class: not retried

    @property
    def stored(self) -> bool:
        """Success, or a warning (stored, e.g. with coerced elements)."""
        return self.status is not None and _category(self.status) in ("Success", "Warning")

    def line(self) -> str:
        """One line for the user: stored / FAILED, the UID, the SOP class, the status."""
        kind = _sop_class_name(self.sop_class_uid)
        if self.status is None:
            return f"NOT STORED {self.sop_instance_uid} ({kind}): {self.note or 'no answer'}"
        text = f"status 0x{self.status:04X} {_status_text(self.status)}"
        word = "stored" if self.stored else "FAILED"
        if self.stored and self.status == 0:
            return f"stored {self.sop_instance_uid} ({kind})"
        return f"{word} {self.sop_instance_uid} ({kind}): {text}"


@dataclass(frozen=True)
class SendReport:
    """What `send` did: every association, and each instance's final status, in the order
    given."""

    destination: str  # AE@HOST:PORT
    attempts: tuple[Attempt, ...]
    instances: tuple[InstanceStatus, ...]

    @property
    def n_stored(self) -> int:
        return sum(i.stored for i in self.instances)

    @property
    def all_stored(self) -> bool:
        return self.n_stored == len(self.instances)

    def summary(self) -> str:
        """One line: how many were stored, after how many associations."""
        n = len(self.attempts)
        return (f"{self.n_stored} of {len(self.instances)} instance(s) stored in "
                f"{self.destination} after {n} association(s)")


def send(datasets: Sequence[Dataset], ae_title: str, host: str, port: int, *,
         calling_ae: str = DEFAULT_CALLING_AE, retries: int = 3, timeout_s: float = 10.0,
         backoff_s: float = BACKOFF_S) -> SendReport:
    """C-STORE `datasets` to ae_title@host:port, retrying what is not stored; never raises for a
    network or PACS failure (the report says it). ValueError for bad arguments or datasets
    (no SOP Class/Instance UID or transfer syntax, a UID twice)."""
    check_ae_title(ae_title, "the called AE title")
    check_ae_title(calling_ae, "the calling AE title")
    if retries < 0 or not timeout_s > 0 or not backoff_s >= 0:
        raise ValueError("retries must be >= 0, timeout_s > 0 and backoff_s >= 0")
    _check_datasets(datasets)
    destination = f"{ae_title}@{host}:{port}"
    status: dict[str, InstanceStatus] = {
        str(ds.SOPInstanceUID): InstanceStatus(str(ds.SOPInstanceUID), str(ds.SOPClassUID),
                                               None, 0, "not sent")
        for ds in datasets}
    attempts: list[Attempt] = []
    for number in range(1, retries + 2):
        pending = [ds for ds in datasets if not (status[str(ds.SOPInstanceUID)].stored
                                                 or status[str(ds.SOPInstanceUID)].permanent)]
        if not pending:
            break
        if number > 1:
            delay_s = backoff_s * 2 ** (number - 2)
            log.info("retrying %d instance(s) in %g s", len(pending), delay_s)
            _sleep(delay_s)
        attempt = _associate_and_store(number, pending, status, ae_title, host, port,
                                       calling_ae, timeout_s)
        log.info("%s", attempt.line(destination))
        attempts.append(attempt)
        if attempt.permanent:
            break
    return SendReport(destination, tuple(attempts),
                      tuple(status[str(ds.SOPInstanceUID)] for ds in datasets))


def _check_datasets(datasets: Sequence[Dataset]) -> None:
    if not datasets:
        raise ValueError("nothing to send")
    seen: set[str] = set()
    for ds in datasets:
        meta = getattr(ds, "file_meta", None)
        if "SOPClassUID" not in ds or "SOPInstanceUID" not in ds or meta is None \
                or "TransferSyntaxUID" not in meta:
            raise ValueError("a dataset lacks its SOP Class UID, SOP Instance UID or transfer "
                             "syntax (file meta information)")
        uid = str(ds.SOPInstanceUID)
        if uid in seen:
            raise ValueError(f"SOP Instance UID {uid} given twice")
        seen.add(uid)


def _associate_and_store(number: int, pending: Sequence[Dataset],
                         status: dict[str, InstanceStatus], ae_title: str, host: str, port: int,
                         calling_ae: str, timeout_s: float) -> Attempt:
    """One association: request it, C-STORE each pending instance, release; the outcome."""
    from pynetdicom import AE

    ae = AE(ae_title=calling_ae)
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = timeout_s
    ae.connection_timeout = timeout_s
    for sop_class in dict.fromkeys(str(ds.SOPClassUID) for ds in pending):
        own = [str(ds.file_meta.TransferSyntaxUID) for ds in pending
               if str(ds.SOPClassUID) == sop_class]
        ae.add_requested_context(sop_class, list(dict.fromkeys(
            [*own, ExplicitVRLittleEndian, ImplicitVRLittleEndian])))
    with association(ae, host, port, ae_title, number, timeout_s) as (assoc, failed):
        if failed is not None:
            return failed
        for ds in pending:
            _store_one(assoc, ds, status)
            if not assoc.is_established:
                break
    if assoc.is_aborted:
        return Attempt(number, "aborted", "the association was aborted while storing")
    return Attempt(number, "accepted")


@contextmanager
def association(ae: Any, host: str, port: int, ae_title: str, number: int,
                timeout_s: float) -> Iterator[tuple[Any, Attempt | None]]:
    """ae.associate(...) with pynetdicom's log lines collected and its unclosed-socket warning
    silenced: yields (assoc, None) when established (released at the end), else (assoc, the
    failed Attempt). Shared by C-STORE and the worklist's C-FIND."""
    from pynetdicom import evt

    opened: list[bool] = []
    with pynetdicom_logs() as messages, warnings.catch_warnings():
        # pynetdicom 3.0.4 drops the socket of a refused connection unclosed (its shutdown()
        # raises first; fixed upstream in pynetdicom PR #999): the ResourceWarning is its, and
        # is raised before associate() returns
        warnings.filterwarnings("ignore", "unclosed <socket", ResourceWarning)
        assoc = ae.associate(host, port, ae_title=ae_title,
                             evt_handlers=[(evt.EVT_CONN_OPEN, lambda event: opened.append(True))])
        if not assoc.is_established:
            yield assoc, failed_association(number, assoc, opened, messages, timeout_s)
            return
        try:
            yield assoc, None
        finally:
            if assoc.is_established:
                assoc.release()


def failed_association(number: int, assoc: object, opened: list[bool], messages: list[str],
                        timeout_s: float) -> Attempt:
    """What became of an association that was not established (rejected with its reason, no
    connection with the socket error, a time-out, or ended by the peer): one Attempt line.
    Shared by C-STORE and the worklist's C-FIND (probe_nav.cases.worklist_query)."""
    if getattr(assoc, "is_rejected", False):
        rsp = assoc.acceptor.primitive  # type: ignore[attr-defined]
        permanent = rsp.result == 0x01
        kind = "permanent" if permanent else "transient"
        return Attempt(number, "rejected", f"{kind}, by the {rsp.source_str.lower()}: "
                       f"{rsp.reason_str}", permanent=permanent)
    if not opened:
        errors = [m.split(":", 1)[1].strip() for m in messages
                  if m.startswith("TCP Initialisation Error")]
        return Attempt(number, "no connection", errors[-1] if errors else "")
    if any("timeout" in m.lower() for m in messages):
        return Attempt(number, "aborted", f"timeout: no answer to the association request "
                       f"within {timeout_s:g} s")
    return Attempt(number, "aborted", "the peer ended the association request")


def _store_one(assoc: object, ds: Dataset, status: dict[str, InstanceStatus]) -> None:
    uid = str(ds.SOPInstanceUID)
    before = status[uid]
    try:
        rsp = assoc.send_c_store(ds)  # type: ignore[attr-defined]
    except ValueError as exc:  # no accepted presentation context for its SOP class
        why = " ".join(str(exc).split())
        status[uid] = InstanceStatus(uid, before.sop_class_uid, None, before.tries + 1,
                                     f"not sent: {why}", permanent=True)
        return
    except RuntimeError:  # the association ended before this one
        status[uid] = InstanceStatus(uid, before.sop_class_uid, None, before.tries,
                                     "not sent: the association ended first")
        return
    code = int(rsp.Status) if "Status" in rsp else None
    note = "" if code is not None else "no answer (time-out or aborted association)"
    status[uid] = InstanceStatus(uid, before.sop_class_uid, code, before.tries + 1, note)


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        self.messages.append(message)
        log.debug("pynetdicom: %s", message)


@contextmanager
def pynetdicom_logs() -> Iterator[list[str]]:
    """pynetdicom's log lines (its only report of a socket error) collected and passed on at
    DEBUG: at WARNING they would repeat on stderr what the report already says."""
    messages: list[str] = []
    logger = logging.getLogger("pynetdicom")
    handler, propagate, level = _Collect(messages), logger.propagate, logger.level
    logger.addHandler(handler)
    logger.propagate = False
    if level == logging.NOTSET or level > logging.INFO:
        logger.setLevel(logging.INFO)
    try:
        yield messages
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        logger.setLevel(level)


def _category(code: int) -> str:
    from pynetdicom.status import code_to_category

    return str(code_to_category(code))


def _status_text(code: int) -> str:
    from pynetdicom.status import STORAGE_SERVICE_CLASS_STATUS

    category = _category(code)
    if code in STORAGE_SERVICE_CLASS_STATUS:
        return f"({category}: {STORAGE_SERVICE_CLASS_STATUS[code][1]})"
    ranges = {0xA7: "Out of resources", 0xA9: "Data set does not match SOP class",
              0xC0: "Cannot understand"}
    text = ranges.get(code >> 8) or ("Cannot understand" if code >> 12 == 0xC else "")
    return f"({category}: {text})" if text else f"({category})"


def _sop_class_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name
    return name.removesuffix(" Storage") if name and name != uid else uid
