"""The crosstalk calibration as a QC record: what it keeps, and active_spill finding the newest
one of the very probe, for the windows in use. What touches the store runs on SQLite and on
PostgreSQL (tests/qc/conftest.py, tests/backends.py)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta

import pytest

from probe_nav.calibration.crosstalk import SpillError, SpillMatrix
from probe_nav.calibration.crosstalk_measure import measure_spills
from probe_nav.drivers.frames import EnergyWindow
from probe_nav.qc.crosstalk import (
    CROSSTALK,
    active_spill,
    check_crosstalk,
    crosstalk_outcome,
    overlap_notes,
)
from probe_nav.qc.store import CALIBRATION, QcStore
from probe_nav.storage import StoreError
from tests.backends import Db

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WINDOWS = (EnergyWindow(20.0, 45.0, "I-125"), EnergyWindow(126.0, 155.0, "Tc-99m"))


def _outcome(tc_in_i125: int = 9500):
    """I-125 source (window 0), then Tc-99m (window 1) with 100000 counts in its window."""
    i125 = measure_spills(0, [200000, 40], 50.0, [60, 50], 100.0, "I-125")
    tc = measure_spills(1, [tc_in_i125, 100000], 50.0, [60, 50], 100.0, "Tc-99m")
    counts = [{"nuclide": "I-125", "counts": [200000, 40]},
              {"nuclide": "Tc-99m", "counts": [tc_in_i125, 100000]}]
    return crosstalk_outcome([i125, tc], WINDOWS, counts, "test")


def _store(db: Db, outcome, when: datetime, serial: str = "SN1") -> int:
    with QcStore(db.arg) as store:
        probe = store.probe("PN-2", serial, "CdTe")
        return store.add(probe, CALIBRATION, outcome.test, outcome.result, operator="ann",
                         source="test", raw_data="-", passed=None, when=when).id


def test_the_record_keeps_the_matrix_windows_and_counts() -> None:
    out = _outcome()
    assert out.test == CROSSTALK == "crosstalk" and out.passed is None
    r = out.result
    assert r["n_windows"] == 2
    m = SpillMatrix.from_dict(r)
    # (9500/50 - 60/100) / (100000/50 - 50/100) = 189.4 / 1999.5
    assert m.fraction(1, 0).fraction == pytest.approx(189.4 / 1999.5)
    assert m.fraction(0, 1).fraction == pytest.approx((40 / 50 - 0.5) / (4000 - 0.6))
    assert [w["name"] for w in r["windows"]] == ["I-125", "Tc-99m"]
    assert r["windows"][1] == {"index": 1, "name": "Tc-99m", "lo_kev": 126.0, "hi_kev": 155.0}
    assert [s["nuclide"] for s in r["sources"]] == ["I-125", "Tc-99m"]
    assert r["sources"][1]["net_cps"] == pytest.approx(1999.5)
    assert r["sources"][1]["raw_fractions"] == {"0": pytest.approx(189.4 / 1999.5)}
    assert json.loads(json.dumps(r)) == r  # stored as JSON as it is
    assert any("1:0" in line and "9.47" in line for line in out.summary)
    assert check_crosstalk(r) == m


def test_active_spill_is_the_newest_of_that_probe(qc_db: Db) -> None:
    db = qc_db
    with QcStore(db.arg) as store:
        assert active_spill(store, None, 2) is None
        assert active_spill(store, store.probe("PN-2", "SN1"), 2) is None
    _store(db, _outcome(9500), T0)
    _store(db, _outcome(12000), T0 + timedelta(days=1))
    _store(db, _outcome(5000), T0 + timedelta(days=2), serial="SN2")  # another probe
    with QcStore(db.arg) as store:
        got = active_spill(store, store.find_probe("PN-2", "SN1"), 2, WINDOWS)
    assert got is not None
    assert got.fraction(1, 0).fraction == pytest.approx((240 - 0.6) / 1999.5)
    assert got.fraction(1, 0).sd > 0


def test_a_calibration_for_other_windows_is_not_used(qc_db: Db) -> None:
    db = qc_db
    record = _store(db, _outcome(), T0)
    with QcStore(db.arg) as store:
        probe = store.find_probe("PN-2", "SN1")
        with pytest.raises(SpillError, match=rf"record {record}\) is for 2 windows, not 3"):
            active_spill(store, probe, 3)
        swapped = (WINDOWS[1], WINDOWS[0])
        with pytest.raises(SpillError, match="was made with windows I-125 20-45 keV"):
            active_spill(store, probe, 2, swapped)
        assert active_spill(store, probe, 2, WINDOWS) is not None


def test_an_unusable_matrix_is_not_a_calibration() -> None:
    with pytest.raises(StoreError, match="not stored"):
        check_crosstalk({"n_windows": 2, "spills": ["1:0=-0.1"]})
    with pytest.raises(StoreError, match="n_windows"):
        check_crosstalk({"spills": []})
    with pytest.raises(StoreError, match="indistinguishable"):
        check_crosstalk({"n_windows": 2, "spills": ["1:0=1.0", "0:1=1.0"]})
    assert math.isclose(check_crosstalk({"n_windows": 2, "spills": ["1:0=0.1+-0.01"]})
                        .fraction(1, 0).sd, 0.01)


def test_overlapping_windows_are_noted() -> None:
    assert overlap_notes(WINDOWS) == []
    in111 = EnergyWindow(150.0, 270.0, "In-111")
    assert overlap_notes((*WINDOWS, in111)) == [
        "windows 1 and 2 overlap (150-155 keV): their spill sds are approximate"]
    assert overlap_notes((EnergyWindow(20, 45), EnergyWindow(45, 60))) == []  # [lo, hi)


def test_the_store_refuses_an_unusable_matrix(qc_db: Db) -> None:
    """check_calibration runs on every calibration record: a matrix that cannot be solved is
    never stored, whoever calls add()."""
    with QcStore(qc_db.arg) as store:
        probe = store.probe("sim", "S1")
        with pytest.raises(StoreError, match="crosstalk calibration"):
            store.add(probe, "calibration", "crosstalk",
                      {"n_windows": 2, "spills": ["1:0=1", "0:1=1"]}, operator="tech",
                      source="test", raw_data="", passed=None)
        assert store.latest(probe, "calibration", "crosstalk") is None
