"""What a case holds besides its measurements, notes and sessions: retention points (therapy
dosimetry), DICOM identifiers and the audit of DICOM sends. Each is a sealed record of the case's
chain, written and read through CaseStore (this mixin's methods use its _anchor, _append,
_verified and case), kept here so that the store itself stays about cases and chains."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from probe_nav.cases.identifiers import CaseIdentifiers, latest, to_store
from probe_nav.cases.retention import (
    RetentionRecord,
    check_new_point,
    new_retention_record,
    retention_from_row,
)
from probe_nav.cases.sends import SendRecord, send_from_row, send_record

if TYPE_CHECKING:
    from probe_nav.cases.dicom_send import SendReport

log = logging.getLogger("probe_nav.cases.store")


class CaseAttachments:
    """Retention points, identifiers and sends of a case (mixed into CaseStore)."""

    path: Any
    _anchor: Any
    _append: Any
    _verified: Any
    case: Any

    def add_retention_point(self, case_id: str, *, counts: object, live_s: float,
                            geometry: str, **when_and_background: object) -> RetentionRecord:
        """Record a retention count (probe_nav.cases.retention: measured_unix_s or time_h,
        background_cps, background_sd_cps, operator); returns it once committed. UserError for
        a case without administration time, an implausible value or a repeated point."""
        case = self._anchor(case_id)
        record = new_retention_record(case, counts=counts, live_s=live_s, geometry=geometry,
                                      recorded_unix_s=time.time(),
                                      **when_and_background)  # type: ignore[arg-type]
        check_new_point(record, self.retention_points(case.case_id))
        row_id, mac = self._append(case.case_id, "retention_points", record.row_values())
        log.info("%s: retention point %d (%.4g h, %s) of case %s written", self.path, row_id,
                 record.time_h, record.geometry, case.case_id)
        return replace(record, point_id=row_id, mac=mac)

    def set_identifiers(self, case_id: str, ids: CaseIdentifiers) -> CaseIdentifiers:
        """Store the case's DICOM identifiers (probe_nav.cases.identifiers: checked; the study
        UID kept from before or generated); returns them once committed. UserError if bad."""
        case = self._anchor(case_id)
        new = to_store(ids, self.identifiers(case.case_id), time.time())
        row_id, _ = self._append(case.case_id, "case_identifiers", new.row_values(case.case_id))
        log.info("%s: identifiers %d (%s) of case %s written", self.path, row_id, new.source,
                 case.case_id)
        return new

    def identifiers(self, case_id: str) -> CaseIdentifiers | None:
        """The case's latest DICOM identifiers (its whole chain verified), None if never set."""
        case_id = self.case(case_id).case_id
        return latest(self._verified(case_id).rows.get("case_identifiers", []))

    def retention_points(self, case_id: str) -> list[RetentionRecord]:
        """The case's retention points by time (its whole chain verified); UserError if there
        is no such case."""
        case_id = self.case(case_id).case_id
        rows = self._verified(case_id).rows.get("retention_points", [])
        return sorted((retention_from_row(r) for r in rows),
                      key=lambda p: (p.measured_unix_s, p.point_id or 0))

    def add_send(self, case_id: str, report: SendReport, *, calling_ae: str,
                 operator: str = "", sent_unix_s: float | None = None) -> SendRecord:
        """Record a DICOM send of the case (probe_nav.cases.sends) once it has ended, whatever
        the PACS answered; returns it once committed."""
        case = self._anchor(case_id)
        record = send_record(case.case_id, report, calling_ae,
                             time.time() if sent_unix_s is None else float(sent_unix_s),
                             operator)
        self._append(case.case_id, "case_sends", record.row_values())
        log.info("%s: send to %s (%d of %d stored) recorded in case %s", self.path,
                 record.destination, record.stored, record.total, case.case_id)
        return record

    def sends(self, case_id: str) -> list[SendRecord]:
        """The case's DICOM sends in time order (its whole chain verified)."""
        case_id = self.case(case_id).case_id
        rows = self._verified(case_id).rows.get("case_sends", [])
        return sorted((send_from_row(r) for r in rows), key=lambda r: r.sent_unix_s)
