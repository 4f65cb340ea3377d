"""Case-database rows as records (Case, Measurement, CaseNote, SessionRef) and as named in
messages: the row<->record conversion of CaseStore, kept apart from its reading and writing."""

from __future__ import annotations

from dataclasses import dataclass, field

from probe_nav.cases.model import Case, Measurement
from probe_nav.cases.schema import CASE_COLUMNS, MEASUREMENT_COLUMNS
from probe_nav.storage.chain import StoredRecord, stored

_TABLE_LABEL = {"cases": "case", "measurements": "measurement", "case_notes": "note",
                "sessions": "session", "retention_points": "retention point",
                "case_identifiers": "identifiers", "case_sends": "DICOM send"}


@dataclass(frozen=True, slots=True)
class CaseNote:
    """A decision or remark written into the case at a time."""

    case_id: str
    t_unix_s: float
    text: str


@dataclass(frozen=True, slots=True)
class SessionRef:
    """A recorded session (frame file + events) belonging to a case."""

    case_id: str | None
    started_unix_s: float
    directory: str


@dataclass
class CaseRecords:
    """The rows of one case's chain, as read (not yet verified)."""

    rows: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def records(self) -> list[StoredRecord]:
        return [stored(t, row_label(t, r), r) for t, rs in self.rows.items() for r in rs]


def row_label(table: str, row: dict[str, object]) -> str:
    """How a row is named in messages: "measurement 7 (node 'SLN 2')", "case 'C-1'"."""
    if table == "cases":
        return f"case {row.get('case_id')!r} (its own row)"
    if table == "measurements":
        return f"measurement {row.get('id')} (node {row.get('node')!r})"
    return f"{_TABLE_LABEL.get(table, table)} {row.get('id')}"


def case_from_row(row: dict[str, object]) -> Case:
    return Case(**{k: row[k] for k in CASE_COLUMNS})  # type: ignore[arg-type]


def measurement_from_row(row: dict[str, object]) -> Measurement:
    values = {c: row[c] for c in MEASUREMENT_COLUMNS}
    values["significant"], values["complete"] = bool(row["significant"]), bool(row["complete"])
    return Measurement(**values, measurement_id=int(row["id"]),  # type: ignore[arg-type]
                       checksum=str(row.get("mac") or row.get("checksum") or ""))
