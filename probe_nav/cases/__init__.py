"""Case records: cases, timed-count measurements, decision rules, store, export, reports, sessions.

Typical use from a GUI case panel:
    store = CaseStore.open()                       # ~/.local/share/probe-nav/cases.sqlite3
    store.create_case("C-0042", "sln-breast", "Tc-99m", injection_unix_s=t0, probe="PL-1 0042")
    store.record("C-0042", "background", "background", timed_result)
    store.record("C-0042", "SLN 1", "ex_vivo", timed_result)
    table = store.node_table("C-0042")             # rows with ratios and verdicts
"""

from probe_nav.cases.model import KINDS, PROCEDURES, Case, Measurement
from probe_nav.cases.rules import NodeRow, NodeTable, RulesConfig, Verdict, node_table
from probe_nav.cases.store import CaseNote, CaseStore, SessionRef, default_case_db

__all__ = ["KINDS", "PROCEDURES", "Case", "CaseNote", "CaseStore", "Measurement", "NodeRow",
           "NodeTable", "RulesConfig", "SessionRef", "Verdict", "default_case_db", "node_table"]
