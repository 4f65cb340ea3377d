"""`probe-nav db migrate|copy|sync`: the record databases themselves.

  db migrate [--db URL]        bring the case and QC stores at URL (default: the
                               PROBE_NAV_DATABASE_URL, else the two default files) to this
                               probe-nav's schema
  db copy SRC DST [--store S]  copy the whole history of the case store, the QC store or both
                               (S: cases, qc, all) from SRC to an empty DST with their seals and
                               key (probe_nav/storage/copy.py), then verify DST record by record
  db sync [SERVER] [--local F] send a console's case records still waiting for the department
          [--history]          server (its outbox: probe_nav/storage/outbox.py) now, and list
                               any the server refused; exit 0 when nothing waits, 1 otherwise;
                               --history: first queue every record of the console's own history
                               (a console joining a department whose server already holds
                               records, where `db copy` needs an empty store)

SRC and DST are a SQLite file (a path or sqlite:///FILE) or a PostgreSQL URL; for a SQLite file
the two stores are two files, so --store cases or qc is required with one. Exit 2, one line, for
a bad URL, a missing source, a non-empty destination or a copy that does not verify.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from probe_nav.errors import UserError


@dataclass(frozen=True)
class _Store:
    name: str
    namespace: str
    tables: tuple[str, ...]
    migrations: tuple[Any, ...]
    application_id: int
    kind: str


def _stores() -> dict[str, _Store]:
    from probe_nav.cases import schema as case_schema
    from probe_nav.cases import store as case_store
    from probe_nav.qc import schema as qc_schema
    from probe_nav.qc import store as qc_store

    return {
        "cases": _Store("cases", case_store.NAMESPACE, case_schema.SEALED_TABLES,
                        case_schema.MIGRATIONS, case_store.APPLICATION_ID, "case"),
        "qc": _Store("qc", qc_store.NAMESPACE, qc_schema.SEALED_TABLES, qc_schema.MIGRATIONS,
                     qc_store.APPLICATION_ID, "QC"),
    }


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `db` subcommand and its actions."""
    p = sub.add_parser("db", help="migrate or copy the record databases", description=__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    actions = p.add_subparsers(dest="db_command", metavar="ACTION")
    actions.required = True
    mig = actions.add_parser("migrate", help="bring the stores to this probe-nav's schema")
    mig.add_argument("--db", metavar="URL", default=None,
                     help="a PostgreSQL URL or a SQLite file (then with --store)")
    mig.add_argument("--store", choices=("cases", "qc", "all"), default="all")
    mig.set_defaults(func=run_migrate)
    cp = actions.add_parser("copy", help="copy a store's whole history into an empty one")
    cp.add_argument("src", metavar="SRC")
    cp.add_argument("dst", metavar="DST")
    cp.add_argument("--store", choices=("cases", "qc", "all"), default="all")
    cp.set_defaults(func=run_copy)
    sy = actions.add_parser("sync", help="send a console's waiting case records to the server")
    sy.add_argument("server", metavar="SERVER", nargs="?", default=None,
                    help="the department's PostgreSQL URL (default: PROBE_NAV_DATABASE_URL)")
    sy.add_argument("--local", metavar="FILE", default=None,
                    help="the console's case database (default: the user data folder's)")
    sy.add_argument("--history", action="store_true",
                    help="also send every record the console holds from before it joined the "
                         "department (records the server holds already are not doubled)")
    sy.set_defaults(func=run_sync)


def _chosen(args: argparse.Namespace, *urls: Any) -> list[_Store]:
    from probe_nav.storage.urls import Dialect

    stores = _stores()
    if args.store != "all":
        return [stores[args.store]]
    if any(u.dialect is Dialect.SQLITE for u in urls):
        raise UserError("a SQLite file holds one store: add --store cases or --store qc")
    return list(stores.values())


def run_migrate(args: argparse.Namespace) -> int:
    """Open (and so migrate) each chosen store; print its version."""
    from probe_nav.cases.store import default_case_db
    from probe_nav.qc.store import default_db_path
    from probe_nav.storage.backend import connect
    from probe_nav.storage.urls import database_url

    defaults = {"cases": default_case_db(), "qc": default_db_path()}
    for store in _chosen(args, *([database_url(args.db, defaults["cases"])]
                                 if args.db else [])):
        url = database_url(args.db, defaults[store.name])
        with connect(url, store.namespace, store.migrations,
                     application_id=store.application_id, kind=store.kind) as db:
            print(f"{db.label}: {store.name} store at schema version {db.schema_version()}")
    return 0


def run_copy(args: argparse.Namespace) -> int:
    """Copy each chosen store from SRC to DST, then verify DST."""
    from probe_nav.storage.backend import connect
    from probe_nav.storage.copy import copy_store
    from probe_nav.storage.urls import parse_database_url

    src_url, dst_url = parse_database_url(args.src), parse_database_url(args.dst)
    if src_url.path is not None and not src_url.path.is_file():
        raise UserError(f"{src_url.path}: no such database file")
    for store in _chosen(args, src_url, dst_url):
        open_args = {"application_id": store.application_id, "kind": store.kind}
        with connect(src_url, store.namespace, store.migrations, **open_args) as src, \
                connect(dst_url, store.namespace, store.migrations, **open_args) as dst:
            report = copy_store(src, dst, store.tables)
        problems, records = _verify(store.name, dst_url)
        if problems:
            raise UserError(f"{dst.label}: the copy does not verify: {problems[0]} (and "
                            f"{len(problems) - 1} more problem(s))")
        if records != report.total:
            raise UserError(f"{dst.label}: {records} record(s) verified, {report.total} copied")
        detail = ", ".join(f"{t} {n}" for t, n in report.rows.items())
        print(f"{dst.label}: {report.total} {store.name} record(s) copied from {src.label} "
              f"({detail}); every record verified")
    return 0


def run_sync(args: argparse.Namespace) -> int:
    """Send the console's outbox once; say what was sent, what waits and what was refused."""
    from pathlib import Path

    from probe_nav.cases.department import DepartmentCases, queue_history
    from probe_nav.cases.store import default_case_db
    from probe_nav.storage.urls import ENV_VAR, Dialect, database_url

    url = database_url(args.server, default_case_db())
    if url.dialect is not Dialect.POSTGRESQL:
        raise UserError(f"db sync: give the department server's PostgreSQL URL (or set {ENV_VAR})")
    local = Path(args.local) if args.local else default_case_db()
    if not local.is_file():
        raise UserError(f"{local}: no such case database")
    dept = DepartmentCases(url, local)
    try:
        if args.history:
            added = queue_history(dept.store)
            print(f"{local}: {added} record(s) of its history queued")
        done = dept.syncer.sync_once()
        refused = dept.refused()
    finally:
        dept.close(final_sync=False)
    print(f"{local} -> {url.display}: {done.sent} record(s) sent, {done.pending} waiting, "
          f"{len(refused)} refused by the server")
    if done.error:
        print(f"  not sent: {done.error}")
    for op_id, table, chain, reason in refused:
        print(f"  refused {table} of {chain or '(no case)'!r} (write {op_id}): {reason}")
    return 0 if done.pending == 0 and not refused else 1


def _verify(name: str, url: Any) -> tuple[list[str], int]:
    """(problems, records) of the store `name` at url, as its own verify sees them."""
    if name == "cases":
        from probe_nav.cases.store import CaseStore

        with CaseStore.open(url) as cases:
            report = cases.verify()
        return report.problems, report.records
    from probe_nav.qc.store import QcStore

    with QcStore(url) as qc:
        problems, _probes, records = qc.verify()
    return problems, records
