"""The QC store's record types (Probe, Record) and how a probe row becomes one: kept apart from
the store so the schema's migrations and the store share them."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Probe:
    """A probe known to the store."""

    id: int
    model: str
    serial: str
    detector: str = ""

    @property
    def label(self) -> str:
        """'model #serial' for messages and reports."""
        return f"{self.model} #{self.serial}" if self.serial else self.model


@dataclass(frozen=True, slots=True)
class Record:
    """One calibration or QC result as stored (its probe's chain verified when read)."""

    id: int
    probe: Probe
    kind: str
    test: str
    time_utc: datetime
    operator: str
    source: str
    raw_data: str
    passed: bool | None
    result: dict[str, Any] = field(default_factory=dict)
    checksum: str = ""  # the record's MAC


def probe_from_row(row: sqlite3.Row) -> Probe:
    return Probe(row["id"], row["model"], row["serial"], row["detector"])


def probe_label(row: dict[str, Any]) -> str:
    return Probe(int(row["id"]), str(row["model"]), str(row["serial"])).label
