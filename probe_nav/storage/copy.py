"""Copy a store's whole history from one database to another without loss (e.g. a console's SQLite
file into the department's PostgreSQL server, and back): `probe-nav db copy SRC DST`.

The records are copied as they are, seals included: every row of every sealed table with every
column (ids, seq, prev_mac, mac), the chain heads, the ledger and seal_meta, the write identities
(applied_writes: COMPANION_TABLES), and the source's key
is installed as the destination's. Nothing is re-sealed, so the copy verifies under the same key
exactly when the source did, and a record changed on the way would fail its seal. Both stores
must be at the same schema version (the caller migrates both first), and the destination must
hold no record yet: a copy never merges into or overwrites a history.

After the copy the destination is verified by the caller (the store's `verify()`); `copy_store`
itself checks that every table has as many rows as the source and that the rows are equal value
for value (canonical JSON, so a float or an integer that changed type or precision is caught).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from probe_nav.storage.backend import Database
from probe_nav.storage.keys import install_key, read_key
from probe_nav.storage.sqlite import StoreError, canonical_json
from probe_nav.storage.urls import Dialect

log = logging.getLogger(__name__)
SEAL_TABLES = ("seal_heads", "seal_meta")
# Copied as they are when the store has them: which console wrote each record, and the write
# identities that keep a console's outbox from doubling a record the copy already brought
# (probe_nav.storage.writes). A console's own outbox is not copied: it stays with the console.
COMPANION_TABLES = ("applied_writes",)


@dataclass(frozen=True, slots=True)
class CopyReport:
    """What was copied: rows per table."""

    rows: dict[str, int]

    @property
    def total(self) -> int:
        """Rows copied in all."""
        return sum(self.rows.values())


def _rows(db: Database, table: str) -> list[dict[str, object]]:
    return [dict(r) for r in db.execute(f"SELECT * FROM {table}").fetchall()]


def _key_of(row: dict[str, object]) -> str:
    return canonical_json(row)


def copy_store(src: Database, dst: Database, tables: Sequence[str]) -> CopyReport:
    """Copy `tables` (the store's sealed tables, parents first) and the seal tables from src to
    dst in one destination transaction; StoreError (dst unchanged) if the schema versions
    differ, dst already holds records, or a row does not read back equal."""
    if src.schema_version() != dst.schema_version():
        raise StoreError(f"{dst.label}: schema version {dst.schema_version()}, the source "
                         f"{src.label} has {src.schema_version()}: migrate both first")
    extra = tuple(t for t in COMPANION_TABLES if t in src.table_names())
    copied_tables = (*tables, *SEAL_TABLES, *extra)
    source = src.read(lambda db: {t: _rows(db, t) for t in copied_tables})
    key = read_key(src.key_base)

    def write(db: Database) -> None:
        held = sum(int(db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables)
        if held:
            raise StoreError(f"{dst.label}: already holds {held} record(s); a copy goes into an "
                             "empty store only (nothing was changed; to add a console's cases "
                             "to a server that holds records: probe-nav db sync SERVER --local "
                             "FILE --history)")
        for table in SEAL_TABLES:  # the fresh store's own key check and empty ledger
            db.execute(f"DELETE FROM {table}")
        for table in copied_tables:
            for row in source[table]:
                db.insert(table, row, "rowid" if db.dialect is Dialect.SQLITE else
                          next(iter(row)))
        if db.dialect is Dialect.POSTGRESQL:
            for table in tables:  # explicit ids leave identity sequences behind: catch up
                for (column,) in db.execute(
                        "SELECT column_name FROM information_schema.columns WHERE "
                        "table_schema = current_schema() AND table_name = ? AND "
                        "is_identity = 'YES'", (table,)).fetchall():
                    db.execute(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                               f"(SELECT max({column}) FROM {table}))")
        for table in copied_tables:
            copied = sorted(_key_of(r) for r in _rows(db, table))
            if copied != sorted(_key_of(r) for r in source[table]):
                raise StoreError(f"{dst.label}: table {table} does not read back equal to "
                                 f"{src.label}; nothing was copied")
        install_key(dst.key_base, key)  # last, inside the transaction: a failure rolls back

    dst.write(write)
    report = CopyReport({t: len(source[t]) for t in tables})
    log.info("%s: %d record(s) copied from %s with their seals and key", dst.label,
             report.total, src.label)
    return report
