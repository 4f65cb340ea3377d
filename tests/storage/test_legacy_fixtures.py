"""Databases written by probe-nav before keyed seals (tests/storage/fixtures, made by
make_legacy.py with that code) are upgraded on first open: a key made 0600 beside the database,
every record verified under its old checksum and re-sealed, the upgrade noted in the database and
shown by `verify`; nothing lost, nothing changed in value."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from probe_nav.cases.store import CaseStore
from probe_nav.qc.store import QcStore
from probe_nav.storage import key_path
from tests.in_process import run_main

FIXTURES = Path(__file__).parent / "fixtures"


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copyfile(FIXTURES / name, target)
    target.chmod(0o600)
    assert not key_path(target).exists()
    return target


def test_a_v2_case_database_is_keyed_and_resealed(tmp_path: Path, caplog) -> None:
    path = _copy("cases-v2.sqlite3", tmp_path)
    with CaseStore.open(path) as store:
        assert [c.case_id for c in store.cases()] == ["OLD-1", "OLD-2"]
        assert [(m.node, m.counts) for m in store.measurements("OLD-1")] == [
            ("background", 200), ("SLN 1", 12000), ("SLN 2", 1000)]
        assert [n.text for n in store.notes("OLD-1")] == ["two nodes sent to pathology"]
        assert [s.directory for s in store.sessions()] == ["/data/sessions/OLD-1",
                                                           "/data/sessions/free"]
        table = store.node_table("OLD-1")
        assert {r.node for r in table.rows} == {"SLN 1", "SLN 2"}
        assert store.verify().problems == []
        # 2 cases + 4 measurements + 1 note + 2 sessions
        assert store.upgrade_note() is not None
        assert str(store.upgrade_note()).startswith("9 record(s) verified under unkeyed")
    assert stat.S_IMODE(key_path(path).stat().st_mode) == 0o600
    assert any("re-sealed" in r.getMessage() and r.levelname == "WARNING"
               for r in caplog.records)
    done = run_main("case", "verify", "--db", str(path))
    assert done.returncode == 0, done.stderr
    summary, note = done.stdout.splitlines()
    assert summary == f"{path}: 3 chain(s), 9 record(s): every record verified"
    assert note.startswith(f"{path}: 9 record(s) verified") and "re-sealed with keyed" in note


def test_a_v1_qc_database_is_keyed_and_resealed(tmp_path: Path) -> None:
    path = _copy("qc-v1.sqlite", tmp_path)
    with QcStore(path) as store:
        records = store.records()
        assert [(r.probe.label, r.test) for r in records] == [
            ("PN-1 #SN42", "energy"), ("PN-1 #SN43", "energy"), ("PN-1 #SN42", "sensitivity"),
            ("PN-1 #SN42", "daily")]
        assert records[2].result == {"cps_per_mbq": 123.4}
        assert store.verify_all() == []
        assert str(store.upgrade_note()).startswith("6 record(s) verified under unkeyed")
    assert stat.S_IMODE(key_path(path).stat().st_mode) == 0o600
    done = run_main("qc", "verify", "--db", str(path))
    assert done.returncode == 0 and "re-sealed" in done.stdout, done.stderr


@pytest.mark.parametrize("name", ["cases-v2.sqlite3", "qc-v1.sqlite"])
def test_the_fixtures_themselves_are_untouched(name: str) -> None:
    """The suite only ever opens copies: the committed files stay pre-keyed."""
    assert not key_path(FIXTURES / name).exists()
    assert (FIXTURES / name).read_bytes()[:16] == b"SQLite format 3\x00"
