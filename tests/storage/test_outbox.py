"""The outbox (probe_nav.storage.outbox): queued values read back equal (property-based, the
codec), in order; an entry changed on disk is never sent but kept, rejected with the reason;
and the Syncer over a fake server: away -> kept and counted, refused -> kept, the rest of its
chain held back, sent -> removed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.errors import UserError
from probe_nav.storage.backend import Database, ServerUnavailable, SqliteDatabase
from probe_nav.storage.outbox import (
    QueuedWrite,
    counts,
    create_outbox,
    encode_values,
    enqueue,
    pending,
    rejected,
)
from probe_nav.storage.sqlite import open_database
from probe_nav.storage.sync import Syncer
from probe_nav.storage.writes import new_op_id

column_values = st.one_of(st.none(), st.text(max_size=40), st.integers(-2**63, 2**63 - 1),
                          st.floats(allow_nan=True, allow_infinity=True))
rows = st.dictionaries(st.from_regex(r"[a-z_]{1,12}", fullmatch=True), column_values,
                       max_size=12)


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (a == b and math.copysign(1, a) ==
                                                      math.copysign(1, b))
    return type(a) is type(b) and a == b


def open_local(path: Path) -> Database:
    return SqliteDatabase(open_database(path, [create_outbox]), str(path))


@settings(max_examples=60, deadline=None)
@given(values=st.lists(rows, min_size=1, max_size=5))
def test_queued_values_read_back_equal_in_order(tmp_path_factory: pytest.TempPathFactory,
                                                values: list[dict[str, object]]) -> None:
    db = open_local(tmp_path_factory.mktemp("o") / "local.sqlite3")
    try:
        ops = [new_op_id() for _ in values]
        for op, row in zip(ops, values, strict=True):
            db.write(lambda d, op=op, row=row: enqueue(d, op, "C-1", "measurements", row))
        got, bad = pending(db)
        assert bad == [] and [w.op_id for w in got] == ops
        for w, row in zip(got, values, strict=True):
            assert w.values.keys() == row.keys()
            assert all(_same(w.values[k], row[k]) for k in row)
        assert counts(db).pending == len(values)
    finally:
        db.close()


def test_only_plain_column_values_are_queued() -> None:
    with pytest.raises(TypeError, match="cannot be queued"):
        encode_values({"when": object()})


class FakeServer:
    """Takes writes; away while `away`; refuses the chains in `refuse`."""

    def __init__(self) -> None:
        self.away = False
        self.refuse: set[str] = set()
        self.got: list[QueuedWrite] = []

    def apply_queued(self, write: QueuedWrite) -> None:
        if self.away:
            raise ServerUnavailable("server away")
        if write.chain in self.refuse:
            raise UserError(f"case {write.chain!r} already exists")
        self.got.append(write)

    def close(self) -> None:
        pass


def test_the_syncer_keeps_what_it_cannot_send(tmp_path: Path) -> None:
    path = tmp_path / "local.sqlite3"
    server = FakeServer()
    syncer = Syncer(lambda: open_local(path), lambda: server, period_s=3600.0)
    db = open_local(path)
    try:
        for chain, n in (("C-1", 3), ("C-2", 2), ("C-1", 1)):
            for i in range(n):
                db.write(lambda d, c=chain, i=i: enqueue(d, new_op_id(), c, "measurements",
                                                         {"i": i}))
        server.away = True
        away = syncer.sync_once()
        assert (away.sent, away.pending, away.error) == (0, 6, "server away")
        assert not syncer.status().server_ok and syncer.status().counts.pending == 6
        server.away, server.refuse = False, {"C-2"}
        back = syncer.sync_once()
        assert (back.sent, back.rejected, back.pending) == (4, 2, 0)
        assert [w.chain for w in server.got] == ["C-1"] * 4
        kept = rejected(db)
        assert [c for _, _, c, _ in kept] == ["C-2", "C-2"]
        assert "already exists" in kept[0][3] and "was refused" in kept[1][3]
        assert counts(db).rejected == 2 and not syncer.status().synced
    finally:
        db.close()


def test_an_entry_changed_on_disk_is_kept_not_sent(tmp_path: Path) -> None:
    path = tmp_path / "local.sqlite3"
    server = FakeServer()
    db = open_local(path)
    try:
        db.write(lambda d: enqueue(d, new_op_id(), "C-1", "measurements", {"counts": 100}))
        db.execute("UPDATE outbox SET values_json = '{\"counts\":1000}'")
        done = Syncer(lambda: open_local(path), lambda: server).sync_once()
        assert (done.sent, done.rejected) == (0, 1) and server.got == []
        assert "fail their checksum" in rejected(db)[0][3]
    finally:
        db.close()


def test_a_server_store_this_console_cannot_open_rejects_nothing(tmp_path: Path) -> None:
    """A console without the department's key (or older than the server's schema) cannot open
    the server store: that is the console's problem, not the records'; they all stay queued,
    and the status says why."""
    path = tmp_path / "local.sqlite3"

    def cannot_open() -> FakeServer:
        raise UserError("cases.key: not this database's key")
    db = open_local(path)
    try:
        for i in range(3):
            db.write(lambda d, i=i: enqueue(d, new_op_id(), "C-1", "measurements", {"i": i}))
        syncer = Syncer(lambda: open_local(path), cannot_open)
        done = syncer.sync_once()
        assert (done.sent, done.rejected, done.pending) == (0, 0, 3)
        assert "not this database's key" in done.error
        assert counts(db).rejected == 0 and not syncer.status().server_ok
    finally:
        db.close()
