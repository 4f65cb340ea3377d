"""Export a case as JSON (everything) or CSV (one row per measurement, with the verdicts)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence

from probe_nav.cases.model import Case, Measurement, format_unix_s
from probe_nav.cases.retention import RetentionRecord
from probe_nav.cases.rules import NodeTable
from probe_nav.cases.sends import SendRecord
from probe_nav.cases.store import CaseNote

CSV_COLUMNS = ("case_id", "measurement_id", "node", "kind", "measured_utc", "measured_unix_s",
               "counts", "live_s", "real_s", "rate_cps", "rate_sd_cps", "background_cps",
               "background_sd_cps", "net_cps", "net_sd_cps", "significant", "complete",
               "decay_factor", "corrected_rate_cps", "corrected_sd_cps", "corrected_net_cps",
               "note", "verdicts", "checksum")


def _plain(value: object) -> object:
    """JSON-safe: NaN/inf become None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _verdict_text(table: NodeTable, node: str) -> str:
    for row in table.rows:
        if row.node == node:
            return "; ".join(f"{v.rule}: {v.text}" for v in row.verdicts)
    return ""


def case_to_json(case: Case, measurements: Sequence[Measurement], table: NodeTable,
                 notes: Sequence[CaseNote] = (),
                 retention: Sequence[RetentionRecord] = (),
                 sends: Sequence[SendRecord] = ()) -> str:
    """The whole case as one JSON document (times as Unix seconds and UTC text), with its
    retention points (dosimetry) and its DICOM sends when it has any."""
    doc = {
        "format": "probe-nav case v1",
        "case": {**case.as_dict(), "reference_unix_s": case.reference_unix_s,
                 "reference_utc": format_unix_s(case.reference_unix_s)},
        "background_cps": table.background_cps,
        "background_sd_cps": table.background_sd_cps,
        "rules": list(table.rules),
        "measurements": [m.as_dict() for m in measurements],
        "nodes": [{
            "node": r.node, "kinds": list(r.kinds), "in_vivo_cps": r.in_vivo_cps,
            "ex_vivo_cps": r.ex_vivo_cps, "bed_cps": r.bed_cps,
            "ratio_to_background": r.ratio_to_background,
            "percent_of_hottest": r.percent_of_hottest, "flagged": r.flagged,
            "verdicts": [{"rule": v.rule, "value": v.value, "threshold": v.threshold,
                          "positive": v.positive, "text": v.text} for v in r.verdicts],
        } for r in table.rows],
        "notes": [{"t_unix_s": n.t_unix_s, "text": n.text} for n in notes],
    }
    if retention:
        doc["retention_points"] = [p.as_dict() for p in retention]
    if sends:
        doc["dicom_sends"] = [{
            "sent_unix_s": r.sent_unix_s, "sent_utc": format_unix_s(r.sent_unix_s),
            "destination": r.destination, "calling_ae": r.calling_ae,
            "associations": r.associations, "stored": r.stored, "total": r.total,
            "operator": r.operator,
            "instances": [{"sop_instance_uid": u, "sop_class_uid": c, "status": st, "note": n}
                          for u, c, st, n in r.instances]} for r in sends]
    return json.dumps(_plain(doc), indent=2, ensure_ascii=False) + "\n"


def case_to_csv(case: Case, measurements: Sequence[Measurement], table: NodeTable) -> str:
    """One CSV row per measurement (floats by repr, so they read back exactly)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for m in measurements:
        d = m.as_dict()
        d["measured_utc"] = format_unix_s(m.measured_unix_s)
        d["verdicts"] = _verdict_text(table, m.node) if m.kind != "background" else ""
        writer.writerow([repr(d[c]) if isinstance(d[c], float) else d[c] for c in CSV_COLUMNS])
    return out.getvalue()
