"""The audit of a case's DICOM sends: every `probe-nav case send` leaves a sealed record in the
case saying where its report and measurements went, when, by whom, and what the PACS answered
for each instance, stored or not. A physicist asked "did C-17 reach the PACS?" reads it in
`case show` rather than in a terminal's scrollback.

A send record is not part of the case's DICOM content (probe_nav.cases.dicom_export.content_key):
sending again makes the same instances, which the PACS replaces rather than doubles.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pydicom only where DICOM is sent, not wherever a case is read
    from probe_nav.cases.dicom_send import SendReport

SENDS_SQL = """
CREATE TABLE case_sends (
    id INTEGER PRIMARY KEY,
    case_id TEXT NOT NULL REFERENCES cases(case_id),
    sent_unix_s REAL NOT NULL,
    destination TEXT NOT NULL,
    calling_ae TEXT NOT NULL,
    associations INTEGER NOT NULL,
    stored INTEGER NOT NULL,
    total INTEGER NOT NULL,
    instances_json TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '',
    seq INTEGER,
    prev_mac TEXT NOT NULL DEFAULT '',
    mac TEXT NOT NULL DEFAULT ''
);
CREATE INDEX case_sends_by_case ON case_sends(case_id, sent_unix_s)
"""


@dataclass(frozen=True, slots=True)
class SendRecord:
    """One send of a case to a PACS, as stored: per instance (SOP instance UID, SOP class UID,
    DIMSE status or None if never answered, note)."""

    case_id: str
    sent_unix_s: float
    destination: str  # AE@HOST:PORT
    calling_ae: str
    associations: int
    stored: int
    total: int
    instances: tuple[tuple[str, str, int | None, str], ...]
    operator: str = ""

    @property
    def complete(self) -> bool:
        """Whether the PACS confirmed every instance stored."""
        return self.stored == self.total

    def row_values(self) -> dict[str, object]:
        """The columns to store (before sealing)."""
        return {"case_id": self.case_id, "sent_unix_s": float(self.sent_unix_s),
                "destination": self.destination, "calling_ae": self.calling_ae,
                "associations": int(self.associations), "stored": int(self.stored),
                "total": int(self.total),
                "instances_json": json.dumps([list(i) for i in self.instances],
                                             separators=(",", ":")),
                "operator": self.operator}

    def line(self) -> str:
        """One line for `case show`."""
        state = "all stored" if self.complete else "NOT all stored"
        who = f" by {self.operator}" if self.operator else ""
        return (f"sent to {self.destination}{who}: {self.stored} of {self.total} instance(s) "
                f"{state}, {self.associations} association(s)")


def send_record(case_id: str, report: SendReport, calling_ae: str, sent_unix_s: float,
                operator: str = "") -> SendRecord:
    """The record of one `send` of the case's instances."""
    return SendRecord(
        case_id, sent_unix_s, report.destination, calling_ae, len(report.attempts),
        report.n_stored, len(report.instances),
        tuple((i.sop_instance_uid, i.sop_class_uid, i.status, i.note) for i in report.instances),
        operator)


def send_from_row(row: Mapping[str, object]) -> SendRecord:
    """A SendRecord from a case_sends row."""
    instances = tuple((str(u), str(c), None if s is None else int(s), str(n))
                      for u, c, s, n in json.loads(str(row["instances_json"])))
    return SendRecord(str(row["case_id"]), float(row["sent_unix_s"]),  # type: ignore[arg-type]
                      str(row["destination"]), str(row["calling_ae"]),
                      int(row["associations"]), int(row["stored"]),  # type: ignore[call-overload]
                      int(row["total"]), instances,  # type: ignore[call-overload]
                      str(row["operator"]))
