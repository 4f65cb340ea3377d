"""The PDF report of a case: details, probe and calibration, node table, rules, trend plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from probe_nav.cases.model import Case, Measurement, format_unix_s
from probe_nav.cases.rules import RULE_TITLES, NodeTable
from probe_nav.cases.store import CaseNote
from probe_nav.report import PdfReport

KIND_LABELS = {"in_vivo": "in vivo", "ex_vivo": "ex vivo", "bed": "bed",
               "background": "background"}


def _cps(value: float) -> str:
    return f"{value:.1f}" if math.isfinite(value) else "-"


def write_case_report(path: Path, case: Case, measurements: Sequence[Measurement],
                      table: NodeTable, notes: Sequence[CaseNote] = ()) -> Path:
    """Write the case report PDF; returns its path."""
    report = PdfReport(path, f"Case {case.case_id}")
    activity = (f"{case.injected_activity_mbq:g} MBq" if case.injected_activity_mbq else "-")
    report.key_values([
        ("procedure", case.procedure), ("nuclide", case.nuclide),
        ("injected activity", activity),
        ("injection time (UTC)", format_unix_s(case.injection_unix_s) or "-"),
        ("case opened (UTC)", format_unix_s(case.created_unix_s)),
        ("decay correction to (UTC)", format_unix_s(case.reference_unix_s)),
        ("operator", case.operator or "-"),
    ])
    report.heading("Probe and calibration")
    report.key_values([("probe", case.probe or "not recorded"),
                       ("calibration", case.calibration or "not recorded")])
    report.heading("Nodes")
    report.paragraph(f"Rates are gross counts per second, decay corrected to "
                     f"{format_unix_s(case.reference_unix_s)}. Background "
                     f"{_cps(table.background_cps)} cps. Highlighted rows: a rule says act.")
    rows, marked = [], []
    for i, r in enumerate(table.rows):
        rows.append([r.node, _cps(r.in_vivo_cps), _cps(r.ex_vivo_cps), _cps(r.bed_cps),
                     f"{r.ratio_to_background:.1f}" if math.isfinite(r.ratio_to_background)
                     else "-",
                     f"{r.percent_of_hottest:.0f}" if math.isfinite(r.percent_of_hottest)
                     else "-",
                     "; ".join(v.text for v in r.verdicts) or "-"])
        if r.flagged:
            marked.append(i)
    report.table(["node", "in vivo cps", "ex vivo cps", "bed cps", "x bkg", "% hottest",
                  "verdicts"], rows, marked)
    report.heading("Rules applied")
    for rule in table.rules:
        report.paragraph(f"- {RULE_TITLES.get(rule, rule)}")
    report.heading("Measurements")
    report.table(["time (UTC)", "node", "kind", "counts", "live s", "cps", "sd", "corrected"],
                 [[format_unix_s(m.measured_unix_s)[11:19], m.node, KIND_LABELS[m.kind],
                   str(m.counts), f"{m.live_s:.1f}", _cps(m.rate_cps), _cps(m.rate_sd_cps),
                   _cps(m.corrected_rate_cps)] for m in measurements])
    if measurements:
        t0 = min(m.measured_unix_s for m in measurements)
        series = []
        for kind in ("in_vivo", "ex_vivo", "bed", "background"):
            ms = [m for m in measurements if m.kind == kind]
            if ms:
                series.append((KIND_LABELS[kind], [(m.measured_unix_s - t0) / 60 for m in ms],
                               [m.corrected_rate_cps for m in ms]))
        hlines = [("background", table.background_cps)] if math.isfinite(
            table.background_cps) else []
        report.line_plot(series, "minutes since first count", "decay-corrected rate (cps)",
                         title="Trend of counts", hlines=hlines)
    if notes:
        report.heading("Decisions and notes")
        report.table(["time (UTC)", "note"],
                     [[format_unix_s(n.t_unix_s), n.text] for n in notes])
    return report.save()
