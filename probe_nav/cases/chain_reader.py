"""CaseStore's reading side: every row of a case's chain read (in salvage, past unreadable
stretches of a damaged file) and the chain verified whole; split out of store.py so the store
itself is its public reading and writing methods."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from probe_nav.cases.rows import CaseRecords, row_label
from probe_nav.cases.schema import (
    SCOPE,
    SEALED_TABLES,
    case_checksum,
    legacy_note_checksum,
    measurement_checksum,
)
from probe_nav.logs import REPORTED
from probe_nav.storage import StoreError
from probe_nav.storage.backend import Database
from probe_nav.storage.chain import (
    Head,
    Sealer,
    TamperedRecord,
    chain_names,
    chain_problems,
    ledger_problems,
    read_head,
    refusal,
)

log = logging.getLogger("probe_nav.cases.store")  # CaseStore's messages, as before the split
_T = TypeVar("_T")
VERIFY_COMMAND = "probe-nav case verify"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What `verify` found: problems (one line each) and what was checked."""

    problems: list[str]
    chains: int
    records: int


class ChainReader:
    """The chain reading and verification of CaseStore (its base class; CaseStore sets these)."""

    _conn: Database
    path: Path | str
    read_only: bool
    _sealer: Sealer | None
    skipped_records: int

    def _tables(self) -> tuple[str, ...]:
        """The sealed tables the database has (a salvaged older one lacks the later ones)."""
        try:
            have = self._conn.table_names()
        except self._conn.database_errors:
            return SEALED_TABLES
        return tuple(t for t in SEALED_TABLES if t in have)

    def _rows(self, table: str) -> Iterator[dict[str, object]]:
        """Every readable row of a table in rowid order; unreadable stretches are skipped
        (salvage: a damaged SQLite file)."""
        if not self.read_only:
            yield from (dict(r) for r in self._conn.execute(
                f"SELECT * FROM {table} ORDER BY {self._conn.rowid}").fetchall())
            return
        last = 0
        gap = 0
        while True:
            try:
                cur = self._conn.execute(
                    f"SELECT rowid AS _rowid, * FROM {table} WHERE rowid > ? ORDER BY rowid",
                    (last + gap,))
                for row in cur:
                    last, gap = int(row["_rowid"]), 0
                    yield dict(row)
                return
            except sqlite3.DatabaseError as exc:
                if not self.read_only:
                    raise StoreError(f"{self.path}: cannot read table {table}: {exc}") from None
                self.skipped_records += 1 if gap == 0 else 0
                if gap == 0:
                    log.warning("%s: unreadable rows in table %s after row %d skipped (%s)",
                                self.path, table, last, exc, extra=REPORTED)
                gap = 1 if gap == 0 else gap * 2  # probe past the damaged stretch
                if gap > 1 << 40:
                    return

    def _read_chain(self, case_id: str | None) -> CaseRecords:
        """Every row that claims to belong to the case (or, for None, to no case)."""
        found = CaseRecords()
        for table in self._tables():
            if table == "cases" and case_id is None:
                continue
            if self.read_only:
                rows = [r for r in self._rows(table) if r.get("case_id") == case_id]
            else:
                rows = [dict(r) for r in self._conn.execute(
                    f"SELECT * FROM {table} WHERE case_id IS ? ORDER BY {self._conn.rowid}",
                    (case_id,))]
            found.rows[table] = rows
        return found

    def _verified(self, case_id: str | None) -> CaseRecords:
        """The case's rows after checking its whole chain; TamperedRecord if anything fails.
        Salvage (read only) too: a case that lost a row to the damage is refused whole (and
        counted in skipped_records), never shown without it; intact cases stay readable.
        The chain and its head are read in one snapshot (another console may be writing)."""
        if self.read_only:
            return self._verified_now(case_id)
        return self._conn.read(lambda _db: self._verified_now(case_id))

    def _verified_now(self, case_id: str | None) -> CaseRecords:
        found = self._read_chain(case_id)
        chain = case_id or ""
        what = f"case {chain!r}" if case_id is not None else "sessions without a case"
        if self._sealer is None:  # a salvaged database from before keyed seals
            return self._legacy_verified(found)
        anchor = "cases" if case_id is not None else None
        problems = chain_problems(self._sealer, SCOPE, chain, what, found.records(),
                                  self._salvage_head(chain), anchor)
        if not problems:
            return found
        if self.read_only:
            self.skipped_records += len(problems)
        raise self._refuse(what, problems)

    def _salvage_head(self, chain: str) -> Head | None:
        """The chain's head, or (salvage) None where it cannot be read (a damaged file)."""
        try:
            return read_head(self._conn, SCOPE, chain)
        except sqlite3.DatabaseError as exc:
            if not self.read_only:
                raise StoreError(f"{self.path}: cannot read the chain heads: {exc}") from None
            return None

    def _legacy_verified(self, found: CaseRecords) -> CaseRecords:
        """Salvage of a pre-v3 database: its unkeyed checksums are all there is to check."""
        checks = {"cases": case_checksum, "measurements": measurement_checksum,
                  "case_notes": legacy_note_checksum}
        for table, rows in found.rows.items():
            check = checks.get(table)
            kept = [r for r in rows if check is None or check(r) == r.get("checksum")]
            for r in rows:
                if r not in kept:
                    self.skipped_records += 1
                    log.warning("%s: %s fails its checksum; skipped", self.path,
                                row_label(table, r), extra=REPORTED)
            found.rows[table] = kept
        return found

    def _refuse(self, what: str, problems: list[str]) -> TamperedRecord:
        """Log a refused case (the caller shows the raised error, so not on stderr again)."""
        message = refusal(str(self.path), what, problems, VERIFY_COMMAND)
        log.warning("%s", message, extra=REPORTED)
        return TamperedRecord(message)

    def _salvaged(self, read: Callable[..., _T], *args: object) -> _T | None:
        """read(*args); in salvage (read only), None for a case refused because the damage
        took some of its rows (already counted and logged), so the intact ones are listed."""
        try:
            return read(*args)
        except TamperedRecord:
            if not self.read_only:
                raise
            return None

    def verify(self) -> VerifyReport:
        """Check every record of the database: every case's chain, the sessions without a case
        and the database-wide record count, as of one snapshot. Never raises for what it
        finds."""
        if self.read_only:
            return self._verify_now()
        return self._conn.read(lambda _db: self._verify_now())

    def _verify_now(self) -> VerifyReport:
        if self._sealer is None:
            raise StoreError(f"{self.path}: written by an older probe-nav and damaged: its "
                             "records cannot be verified with keyed seals")
        ids: set[str] = set(chain_names(self._conn, SCOPE)) if not self.read_only else set()
        for table in self._tables():
            ids.update("" if r.get("case_id") is None else str(r["case_id"])
                       for r in self._rows(table))
        problems: list[str] = []
        records = 0
        for chain in sorted(ids):
            case_id = chain or None
            what = f"case {chain!r}" if case_id is not None else "sessions without a case"
            found = self._read_chain(case_id)
            listed = found.records()
            records += len(listed)
            head = self._salvage_head(chain)
            problems += chain_problems(self._sealer, SCOPE, chain, what, listed, head,
                                       "cases" if case_id is not None else None)
        problems += ledger_problems(self._conn, self._sealer, self._tables(), str(self.path))
        return VerifyReport(problems, len(ids), records)
