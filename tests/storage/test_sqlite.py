"""The shared SQLite layer: private WAL files, migrations, clear refusals, checksums."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.errors import UserError
from probe_nav.storage import (
    StoreError,
    open_database,
    record_checksum,
    user_config_dir,
    user_data_dir,
)


def _v1(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")


def _v2(conn: sqlite3.Connection) -> None:
    conn.execute("ALTER TABLE item ADD COLUMN size INTEGER NOT NULL DEFAULT 0")


def test_new_database_is_private_wal_full_sync_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "store.sqlite3"
    conn = open_database(path, [_v1])
    conn.execute("INSERT INTO item (name) VALUES ('a')")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    for suffix in ("-wal", "-shm"):
        side = Path(str(path) + suffix)
        assert side.exists()
        assert stat.S_IMODE(os.stat(side).st_mode) & 0o077 == 0
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    conn.close()


def test_existing_loose_file_mode_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    open_database(path, [_v1]).close()
    os.chmod(path, 0o644)
    open_database(path, [_v1]).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_migrations_run_from_the_stored_version_only(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    conn = open_database(path, [_v1])
    conn.execute("INSERT INTO item (name) VALUES ('kept')")
    conn.close()
    conn = open_database(path, [_v1, _v2])  # _v1 would fail if run again (table exists)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    row = conn.execute("SELECT name, size FROM item").fetchone()
    assert tuple(row) == ("kept", 0)
    conn.close()


def test_failing_migration_rolls_back_and_keeps_version(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    open_database(path, [_v1]).close()

    def broken(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE item ADD COLUMN half INTEGER")
        raise RuntimeError("migration bug")

    with pytest.raises(RuntimeError):
        open_database(path, [_v1, broken])
    conn = open_database(path, [_v1])
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    cols = [r[1] for r in conn.execute("PRAGMA table_info(item)")]
    assert cols == ["id", "name"]
    conn.close()


def test_newer_schema_is_refused_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    open_database(path, [_v1, _v2]).close()
    with pytest.raises(StoreError) as err:
        open_database(path, [_v1])
    message = str(err.value)
    assert "newer" in message and "\n" not in message and str(path) in message
    assert isinstance(err.value, UserError)


def test_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello, I am not a database\n" * 10)
    with pytest.raises(StoreError, match="not a SQLite file"):
        open_database(path, [_v1])
    assert path.read_text().startswith("hello")  # left untouched


def test_damaged_database_gets_a_clear_message(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    conn = open_database(path, [_v1])
    conn.executemany("INSERT INTO item (name) VALUES (?)", [("x" * 200,)] * 500)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[page * 2: page * 4] = b"\xa5" * (page * 2)  # smash two b-tree pages, keep the header
    path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged") as err:
        open_database(path, [_v1])
    assert "\n" not in str(err.value)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="directory"):
        open_database(tmp_path, [_v1])


def test_paths_follow_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PROBE_NAV_CONFIG_DIR", str(tmp_path / "conf"))
    assert user_data_dir() == tmp_path / "data"
    assert user_config_dir() == tmp_path / "conf"
    monkeypatch.delenv("PROBE_NAV_DATA_DIR")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and os.uname().sysname == "Linux":
        assert user_data_dir() == tmp_path / "xdg" / "probe-nav"


def test_checksum_is_canonical() -> None:
    a = record_checksum({"b": 1, "a": [1.5, None, "é"], "c": float("nan")})
    b = record_checksum({"c": float("nan"), "a": (1.5, None, "é"), "b": 1})
    assert a == b and len(a) == 64
    assert record_checksum({"a": 1}) != record_checksum({"a": 2})
    assert record_checksum({"a": 1.0}) != record_checksum({"a": 1.0000000000000002})


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=20))


@given(st.dictionaries(st.text(max_size=10), scalars, max_size=8))
def test_checksum_ignores_key_order(fields: dict[str, object]) -> None:
    reordered = dict(reversed(list(fields.items())))
    assert record_checksum(fields) == record_checksum(reordered)
