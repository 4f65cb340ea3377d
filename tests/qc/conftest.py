"""Fixtures for the QC tests: the records database on SQLite and on PostgreSQL
(tests/backends.py)."""

from __future__ import annotations

from tests.backends import QC_SCHEMA, backend_fixture

# A fresh QC database: a SQLite file qc.sqlite in the test's folder, or the `qc` schema of a
# database of the throwaway PostgreSQL cluster, its key in a private directory.
qc_db = backend_fixture("qc.sqlite", QC_SCHEMA)
