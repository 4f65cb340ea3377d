"""Retention points in the case store: round trip, validation (nothing stored on bad input),
tamper evidence in the case's chain, and migration of older databases to schema v4.
All on SQLite and PostgreSQL, except the v3 migration and salvage tests: SQLite-only, they are
about SQLite files an older probe-nav wrote (no PostgreSQL store predates schema v4)."""

from __future__ import annotations

import math
import time
from pathlib import Path

import pytest

from probe_nav.cases.model import parse_time
from probe_nav.cases.schema import MIGRATIONS, SCHEMA_VERSION
from probe_nav.cases.store import CaseStore
from probe_nav.errors import UserError
from probe_nav.storage import TamperedRecord, open_database
from probe_nav.storage.chain import SCHEME, append, open_sealer
from tests.backends import CASES_SCHEMA, Db, backend_fixture

DAY_S = 86400.0
TIMES_H = (4.0, 24.0, 48.0, 96.0, 168.0)
COUNTS = (52_000, 38_000, 29_500, 17_800, 8_100)

case_db = backend_fixture("cases.sqlite3", CASES_SCHEMA)


def _therapy_case(store: CaseStore, case_id: str = "LU-1", nuclide: str = "Lu-177",
                  days_ago: float = 10.0) -> float:
    """A case whose administration was `days_ago` days before now; returns that time."""
    injected = time.time() - days_ago * DAY_S
    store.create_case(case_id, "psma", nuclide, injection_unix_s=injected,
                      created_unix_s=injected + 600.0, injected_activity_mbq=7400.0)
    return injected


def _series(store: CaseStore, case_id: str = "LU-1") -> None:
    for t_h, n in zip(TIMES_H, COUNTS, strict=True):
        store.add_retention_point(case_id, counts=n, live_s=60.0, geometry="1m-standing",
                                  time_h=t_h, background_cps=12.5, background_sd_cps=0.4,
                                  operator="RT")


def test_points_round_trip_in_time_order(store: CaseStore) -> None:
    injected = _therapy_case(store)
    _series(store)
    at = injected + 72.5 * 3600.0  # given as a date and time instead of hours
    p = store.add_retention_point("LU-1", counts=23_000, live_s=60.0, geometry="1m-standing",
                                  measured_unix_s=at)
    assert p.point_id is not None and len(p.mac) == 64
    assert p.time_h == pytest.approx(72.5, abs=1e-9)
    points = store.retention_points("LU-1")
    assert [q.time_h for q in points] == pytest.approx([4, 24, 48, 72.5, 96, 168], abs=1e-9)
    assert [q.counts for q in points] == [52_000, 38_000, 29_500, 23_000, 17_800, 8_100]
    first = points[0]
    assert (first.live_s, first.background_cps, first.background_sd_cps, first.geometry,
            first.operator) == (60.0, 12.5, 0.4, "1m-standing", "RT")
    assert first.measured_unix_s == pytest.approx(injected + 4 * 3600.0)
    assert first.net_cps == pytest.approx(52_000 / 60 - 12.5)
    assert first.net_sd_cps == pytest.approx(math.hypot(math.sqrt(52_000) / 60, 0.4))
    assert points[3] == p  # the returned record is the stored one (mac not compared)
    assert store.measurements("LU-1") == []  # points are not node measurements
    assert not store.verify().problems


def test_an_iso_time_with_zone_is_absolute(store: CaseStore) -> None:
    store.create_case("I-1", "other", "I-131", injection_unix_s=parse_time("2026-11-18T09:00Z"),
                      created_unix_s=parse_time("2026-11-18T09:05Z"))
    p = store.add_retention_point("I-1", counts=5000, live_s=30.0, geometry="1m",
                                  measured_unix_s=parse_time("2026-11-20T10:00+01:00"))
    assert p.time_h == pytest.approx(48.0)


@pytest.mark.parametrize(("change", "message"), [
    ({"counts": -1}, "outside the allowed range"),
    ({"counts": 2.5}, "not a whole number"),
    ({"live_s": 0.0}, "live time above 0"),
    ({"live_s": math.nan}, "live time"),
    ({"background_cps": math.nan}, "background rate"),
    ({"background_cps": -3.0}, "background rate"),
    ({"background_sd_cps": math.inf}, "background sd"),
    ({"geometry": ""}, "geometry id"),
    ({"geometry": "1m\nstanding"}, "geometry id"),
    ({"time_h": -1.0}, "before the administration"),
    ({"time_h": math.nan}, "not a finite number"),
    ({"time_h": 24 * 11.0}, "in the future"),
    ({"time_h": None}, "not both or neither"),
    ({"measured_unix_s": 2e9}, "not both or neither"),
])
def test_bad_points_are_refused_and_nothing_is_stored(store: CaseStore, change: dict,
                                                      message: str) -> None:
    _therapy_case(store)
    good = {"counts": 1000, "live_s": 60.0, "geometry": "1m", "time_h": 24.0}
    with pytest.raises(UserError, match=message) as err:
        store.add_retention_point("LU-1", **{**good, **change})
    assert "\n" not in str(err.value)
    assert store.retention_points("LU-1") == []
    store.add_retention_point("LU-1", **good)  # the store still takes a good one
    assert len(store.retention_points("LU-1")) == 1


def test_beyond_thirty_half_lives_and_repeats_are_refused(store: CaseStore) -> None:
    _therapy_case(store, "TC-1", "Tc-99m", days_ago=10.0)  # 30 half-lives of Tc-99m: 180 h
    with pytest.raises(UserError, match="30 half-lives of Tc-99m"):
        store.add_retention_point("TC-1", counts=10, live_s=60.0, geometry="1m", time_h=200.0)
    store.add_retention_point("TC-1", counts=10, live_s=60.0, geometry="1m", time_h=2.0)
    with pytest.raises(UserError, match="already has retention point"):
        store.add_retention_point("TC-1", counts=11, live_s=60.0, geometry="1m", time_h=2.0)
    store.add_retention_point("TC-1", counts=11, live_s=60.0, geometry="2m", time_h=2.0)
    assert [p.geometry for p in store.retention_points("TC-1")] == ["1m", "2m"]


def test_a_case_without_administration_time_refuses_dosimetry(store: CaseStore) -> None:
    store.create_case("NO-T", "psma", "Lu-177")
    with pytest.raises(UserError, match="no administration time"):
        store.add_retention_point("NO-T", counts=10, live_s=60.0, geometry="1m", time_h=2.0)
    with pytest.raises(UserError, match="no case 'NOPE'"):
        store.retention_points("NOPE")


@pytest.mark.parametrize(("sql", "message"), [
    ("UPDATE retention_points SET counts = 60000 WHERE counts = 52000", "fails its checksum"),
    ("UPDATE retention_points SET time_h = 5.0 WHERE counts = 52000", "fails its checksum"),
    ("DELETE FROM retention_points WHERE counts = 8100", "missing"),
    ("DELETE FROM retention_points WHERE counts = 29500", "missing"),
    ("UPDATE retention_points SET case_id = 'LU-2' WHERE counts = 8100", "missing"),
])
def test_tampered_points_refuse_the_case(case_db: Db, sql: str, message: str) -> None:
    with CaseStore.open(case_db.arg) as store:
        _therapy_case(store)
        _therapy_case(store, "LU-2")
        _series(store)
    case_db.sql(sql)  # outside probe-nav, as a database tool would
    with CaseStore.open(case_db.arg) as store:
        with pytest.raises(TamperedRecord, match=message):
            store.retention_points("LU-1")
        with pytest.raises(TamperedRecord):
            store.case("LU-1")  # the whole case, not just its points
        with pytest.raises(TamperedRecord):  # nothing is added to a case that fails
            _series(store)
        problems = store.verify().problems
        assert problems and any("retention point" in p or "LU-1" in p for p in problems)


def _v3_database(path: Path) -> None:
    """A database as schema v3 wrote it: a case, a measurement and a note, sealed."""
    conn = open_database(path, MIGRATIONS[:3])
    sealer = open_sealer(conn, path)  # the key install() made in migrate_v3
    injected = time.time() - 5 * DAY_S
    case = {"case_id": "OLD-3", "procedure": "psma", "nuclide": "Lu-177",
            "created_unix_s": injected + 60, "injected_activity_mbq": 7400.0,
            "injection_unix_s": injected, "probe": "", "calibration": "", "operator": "",
            "notes": "", "checksum": ""}
    note = {"case_id": "OLD-3", "t_unix_s": injected + 120, "text": "therapy given",
            "checksum": ""}
    with conn:
        append(conn, sealer, "case", "OLD-3", "cases", case, str(path))
        append(conn, sealer, "case", "OLD-3", "case_notes", note, str(path))
    conn.close()


def test_v3_database_migrates_and_takes_points_in_the_same_chain(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    _v3_database(path)
    with CaseStore.open(path) as store:
        assert store._conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert store.upgrade_note() is None  # nothing was re-sealed
        assert [n.text for n in store.notes("OLD-3")] == ["therapy given"]
        p = store.add_retention_point("OLD-3", counts=900, live_s=60.0, geometry="1m",
                                      time_h=24.0)
        seq = store._conn.execute("SELECT seq FROM retention_points WHERE id = ?",
                                  (p.point_id,)).fetchone()[0]
        assert seq == 2  # after the case row (#0) and the note (#1)
        assert store.retention_points("OLD-3") == [p]
        assert not store.verify().problems
        assert SCHEME in str(store._conn.execute(
            "SELECT value FROM seal_meta WHERE name = 'scheme'").fetchone()[0])


def test_salvaged_v3_database_reads_without_the_new_table(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite3"
    _v3_database(path)
    with CaseStore.salvage(path) as store:  # read only: not migrated
        assert [n.text for n in store.notes("OLD-3")] == ["therapy given"]
        assert store.retention_points("OLD-3") == []
        assert store.skipped_records == 0
        assert not store.verify().problems


def test_the_case_export_keeps_its_retention_points(store: CaseStore) -> None:
    """`case export`/`case show --json` carry every retention point (a record left out of the
    export is a lost record)."""
    import json

    from probe_nav.cases.export import case_to_json

    _therapy_case(store)
    _series(store)
    case = store.case("LU-1")
    doc = json.loads(case_to_json(case, store.measurements("LU-1"), store.node_table("LU-1"),
                                  store.notes("LU-1"), store.retention_points("LU-1")))
    assert [p["counts"] for p in doc["retention_points"]] == list(COUNTS)
    assert [p["time_h"] for p in doc["retention_points"]] == pytest.approx(list(TIMES_H))
