"""Storage logging: databases opened and migrated, each record written (kind and id, nothing of
the patient beyond ids), refused records at WARNING and marked REPORTED (the caller shows them)."""

from __future__ import annotations

import logging
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe_nav.cases.schema import KEYED_SEALS_VERSION, SCHEMA_VERSION
from probe_nav.cases.store import CaseStore
from probe_nav.qc.store import QcStore
from probe_nav.storage import TamperedRecord
from tests.cases.conftest import result

SECRET = "Jane Doe, born 1961-02-03"  # what a note may hold: must never reach the log


def lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def test_case_store_logs_opening_migrations_and_writes(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="probe_nav")
    path = tmp_path / "cases.sqlite3"
    with CaseStore.open(path) as store:
        store.create_case("C-1", "sln-breast", "Tc-99m", operator="Annabel Q.", notes=SECRET)
        m = store.record("C-1", "SLN 1", "in_vivo", result(1000))
        store.add_note("C-1", SECRET)
    info = lines(caplog, logging.INFO)
    assert info == [
        *(f"{path}: schema migrated from version {v} to {v + 1}"
          for v in range(KEYED_SEALS_VERSION - 1)),
        f"{path}.key: new database key made",  # by the migration to keyed seals
        *(f"{path}: schema migrated from version {v} to {v + 1}"
          for v in range(KEYED_SEALS_VERSION - 1, SCHEMA_VERSION)),
        f"{path}: database opened (schema version {SCHEMA_VERSION})",
        f"{path}: case C-1 written",
        f"{path}: measurement {m.measurement_id} (node SLN 1, in_vivo) of case C-1 written",
        f"{path}: note written to case C-1",
    ]
    assert "Jane" not in caplog.text and "Annabel" not in caplog.text
    caplog.clear()
    CaseStore.open(path).close()  # up to date: opened, nothing migrated
    assert lines(caplog, logging.INFO) == [
        f"{path}: database opened (schema version {SCHEMA_VERSION})"]


def test_case_rows_failing_their_checksum_are_logged_as_refused(tmp_path: Path,
                                                                caplog) -> None:
    path = tmp_path / "cases.sqlite3"
    with CaseStore.open(path) as store:
        store.create_case("C-1", "sln-breast", "Tc-99m")
        m = store.record("C-1", "SLN 1", "in_vivo", result(1000))
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE measurements SET counts = counts + 1")
    caplog.set_level(logging.INFO, logger="probe_nav")
    with CaseStore.open(path) as store, pytest.raises(TamperedRecord) as error:
        store.measurements("C-1")
    (refused,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert refused.getMessage() == str(error.value)
    assert refused.getMessage().startswith(
        f"{path}: case 'C-1' refused: measurement {m.measurement_id} (node 'SLN 1') fails its "
        "checksum")
    assert refused.reported  # the CLI reports the count itself: not twice on stderr


def test_qc_store_logs_writes_and_refused_records(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="probe_nav")
    path = tmp_path / "qc.sqlite"
    with QcStore(path) as store:
        probe = store.probe("PN-1", "SN42")
        record = store.add(probe, "qc", "daily", {"rate_cps": 1000.0}, operator="bob",
                           source="sim", raw_data="-", passed=True,
                           when=datetime(2025, 5, 1, tzinfo=UTC))
    assert f"{path}: record {record.id} (qc daily of PN-1 #SN42) written" in lines(
        caplog, logging.INFO)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE records SET operator = 'mallory'")
    caplog.clear()
    with QcStore(path) as store, pytest.raises(TamperedRecord) as refused:
        store.get(record.id)
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == str(refused.value) and "fails its checksum" in str(refused.value)
    assert warning.reported
