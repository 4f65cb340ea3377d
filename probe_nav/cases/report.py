"""The PDF report of a case: a running header with the case, procedure, nuclide, probe and
calibration on every page; the injection and decay correction; the node table with the rules'
verdicts; a bar chart of the nodes (nodes are categories: no line joins one to the next) with
the rules' thresholds; the rules applied; decisions and notes; every measurement."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from probe_nav.cases.model import Case, Measurement
from probe_nav.cases.rules import RULE_TITLES, NodeTable
from probe_nav.cases.store import CaseNote
from probe_nav.report import PdfReport
from probe_nav.report import numbers as fmt

KIND_LABELS = {"in_vivo": "in vivo", "ex_vivo": "ex vivo", "bed": "bed",
               "background": "background"}
KIND_COLOURS = {"in_vivo": "#8fb3e0", "ex_vivo": "#1f4e99", "bed": "#7a7a7a"}
PROCEDURE_NAMES = {
    "sln-breast": "sentinel lymph node biopsy, breast",
    "sln-melanoma": "sentinel lymph node biopsy, melanoma",
    "sln-head-neck": "sentinel lymph node biopsy, head and neck",
    "roll": "radioguided occult lesion localisation (ROLL)",
    "rsl": "radioactive seed localisation (RSL)",
    "parathyroid": "radioguided parathyroidectomy",
    "psma": "PSMA-radioguided surgery",
    "therapy": "radionuclide therapy, retention dosimetry",
    "other": "other",
}
THRESHOLD_COLOUR = "#b00000"


def typeset(text: str) -> str:
    """The rules' ASCII comparison signs as printed signs: '>= 10 %' -> '≥ 10 %'."""
    return text.replace(">=", "≥").replace("<=", "≤")


def procedure_text(code: str) -> str:
    """'sentinel lymph node biopsy, breast (sln-breast)'."""
    name = PROCEDURE_NAMES.get(code)
    return f"{name} ({code})" if name and name != code else code


def _injection(case: Case) -> str:
    activity = fmt.quantity(case.injected_activity_mbq, "MBq") \
        if case.injected_activity_mbq else "activity not recorded"
    when = fmt.iso_datetime(case.injection_unix_s) if case.injection_unix_s is not None \
        else "time not recorded"
    return f"{activity} at {when}"


def header_lines(case: Case) -> list[str]:
    """The running header under the title: what, with what, measured by which probe."""
    return [f"{procedure_text(case.procedure)} · {case.nuclide} · injected {_injection(case)}",
            f"probe: {case.probe or 'not recorded'} · calibration: "
            f"{case.calibration or 'not recorded'}"]


def _details(report: PdfReport, case: Case) -> None:
    report.key_values([
        ("case", case.case_id),
        ("procedure", procedure_text(case.procedure)),
        ("nuclide", case.nuclide),
        ("injected", _injection(case)),
        ("rates decay corrected to", fmt.iso_datetime(case.reference_unix_s, seconds=True)
         + (" (injection)" if case.injection_unix_s is not None else " (case opened)")),
        ("case opened", fmt.iso_datetime(case.created_unix_s, seconds=True)),
        ("operator", case.operator or "not recorded"),
        *((("case notes", case.notes),) if case.notes else ()),
    ])
    report.heading("Probe and calibration")
    report.key_values([("probe", case.probe or "not recorded"),
                       ("calibration", case.calibration or "not recorded")])


def _node_table(report: PdfReport, table: NodeTable) -> None:
    background = fmt.value_sd(table.background_cps, table.background_sd_cps, "cps") \
        if math.isfinite(table.background_cps) else "not measured"
    report.paragraph(f"Gross count rates of the latest measurement of each node and kind, "
                     f"decay corrected. Background {background}. Shaded rows: a rule says act "
                     f"(remove, confirmed, or residual activity in the bed).")
    rows, marked = [], []
    for i, r in enumerate(table.rows):
        rows.append([r.node, fmt.quantity(r.in_vivo_cps), fmt.quantity(r.ex_vivo_cps),
                     fmt.quantity(r.bed_cps), fmt.quantity(r.ratio_to_background),
                     fmt.percent(r.percent_of_hottest),
                     typeset("; ".join(v.text for v in r.verdicts)) or fmt.MISSING])
        if r.flagged:
            marked.append(i)
    report.table(["node", "in vivo (cps)", "ex vivo (cps)", "bed (cps)", "× background",
                  "% of hottest", "verdicts"], rows, marked)


def _thresholds(table: NodeTable):
    from probe_nav.report.charts import RefLine

    lines = []
    cfg = table.config
    ex_vivo = [r.ex_vivo_cps for r in table.rows if math.isfinite(r.ex_vivo_cps)]
    if "ten_percent" in table.rules and ex_vivo and max(ex_vivo) > 0:
        level = cfg.ten_percent_fraction * max(ex_vivo)
        lines.append(RefLine(f"{100 * cfg.ten_percent_fraction:g} % of the hottest ex vivo "
                             f"({fmt.quantity(level, 'cps')})", level, THRESHOLD_COLOUR))
    bg = table.background_cps
    if math.isfinite(bg):
        if "ex_vivo_background" in table.rules and ex_vivo:
            ratio = cfg.ex_vivo_background_min_ratio
            lines.append(RefLine(f"{ratio:g} × background", ratio * bg, "#6a3d9a"))
        if "parathyroid_20" in table.rules and ex_vivo:
            fraction = cfg.parathyroid_fraction
            lines.append(RefLine(f"{100 * fraction:g} % of background", fraction * bg,
                                 "#6a3d9a"))
        lines.append(RefLine(f"background ({fmt.quantity(bg, 'cps')})", bg, "#222222"))
    return lines


def _node_chart(report: PdfReport, table: NodeTable) -> None:
    if len(table.rows) < 2:
        report.note("One node: the table above says all; a chart compares two or more.")
        return
    from probe_nav.report.charts import BarSeries, NodeBarChart

    series = [BarSeries(KIND_LABELS[kind], [getattr(r, f"{kind}_cps") for r in table.rows],
                        colour) for kind, colour in KIND_COLOURS.items()]
    chart = NodeBarChart([r.node for r in table.rows], series, "decay-corrected rate (cps)",
                         _thresholds(table))
    report.figure(chart, "Decay-corrected gross rate of each node by kind of count, with the "
                         "thresholds of the rules applied.")


def _measurements(report: PdfReport, measurements: Sequence[Measurement]) -> None:
    report.heading("Measurements")
    if not measurements:
        report.paragraph("No measurements recorded.")
        return
    days = {fmt.iso_date(m.measured_unix_s) for m in measurements}
    one_day = len(days) == 1

    def when(m: Measurement) -> str:
        return fmt.iso_time(m.measured_unix_s) if one_day else \
            fmt.iso_datetime(m.measured_unix_s, seconds=True, zone=False)

    time_header = f"time (UTC, {next(iter(days))})" if one_day else "time (UTC)"
    rows = [[str(m.measurement_id) if m.measurement_id is not None else fmt.MISSING, when(m),
             m.node, KIND_LABELS.get(m.kind, m.kind), fmt.count(m.counts),
             fmt.fixed(m.live_s, 1), fmt.value_sd(m.rate_cps, m.rate_sd_cps),
             fmt.quantity(m.decay_factor, "", 4), fmt.quantity(m.corrected_rate_cps)]
            for m in measurements]
    report.table(["#", time_header, "node", "kind", "counts", "live time (s)",
                  "rate ± sd (cps)", "decay factor", "decay-corrected (cps)"], rows)


def write_case_report(path: Path, case: Case, measurements: Sequence[Measurement],
                      table: NodeTable, notes: Sequence[CaseNote] = (),
                      generated_unix_s: float | None = None) -> Path:
    """Write the case report PDF into the file at `path` (created 0600 or truncated: the
    writer of probe_nav.files.atomic_write_with, through which the CLI publishes it).
    `generated_unix_s` fixes the "generated" stamp (DICOM export: the same records give the
    same report under the same UID); default now."""
    from probe_nav import __version__

    generated = fmt.iso_datetime(datetime.now(UTC) if generated_unix_s is None
                                 else datetime.fromtimestamp(generated_unix_s, UTC))
    report = PdfReport(path, f"Case {case.case_id}", header_lines(case),
                       f"probe-nav {__version__} · case report · generated {generated}")
    _details(report, case)
    report.heading("Nodes")
    if table.rows:
        _node_table(report, table)
        _node_chart(report, table)
    else:
        report.paragraph("No node has been counted.")
    report.heading("Decisions and notes")
    report.paragraph("Rules applied for this procedure:")
    report.bullets([typeset(RULE_TITLES.get(rule, rule)) for rule in table.rules])
    if notes:
        report.table(["time (UTC)", "note"],
                     [[fmt.iso_datetime(n.t_unix_s, seconds=True, zone=False), n.text]
                      for n in notes], align=("l", "l"))
    else:
        report.paragraph("No notes were written into the case.")
    _measurements(report, measurements)
    return report.write_into()
