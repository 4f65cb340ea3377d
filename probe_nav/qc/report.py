"""QC report as PDF: the records of each probe as tables, the daily constancy control chart over
time (ratio to the decayed baseline with mean and +-tolerance lines) and chi-square history."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from probe_nav.qc.nema_run import PREFIX as NEMA_PREFIX
from probe_nav.qc.procedures import CHI_SQUARE, DAILY
from probe_nav.qc.store import Record

_FIELDS = {
    "daily": ("rate_cps", "ratio"),
    "chi-square": ("chi2", "p_value"),
    "energy": ("fwhm_pct",),
    "sensitivity": ("cps_per_mbq", "sd"),
    "deadtime": ("dead_time_s", "model"),
}


def _value(result: dict, key: str) -> str:
    value = result.get(key)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _verdict(record: Record) -> str:
    return "-" if record.passed is None else ("pass" if record.passed else "FAIL")


def _nema_value(record: Record) -> str:
    r = record.result
    return f"{r.get('figure', record.test)}: {_value(r, 'value')} +- {_value(r, 'sd')} " \
        f"{r.get('unit', '')}"


def _nema_section(report, records: list[Record]) -> None:
    """The latest result of each NEMA NU 3 test with its limit and verdict."""
    latest: dict[str, Record] = {}
    for r in records:
        if r.test.startswith(NEMA_PREFIX):
            latest[r.test] = r
    if not latest:
        return
    report.heading("NEMA NU 3 characterisation (latest of each test)", level=2)
    rows, marked = [], []
    for i, r in enumerate(latest.values()):
        limit = r.result.get("limit")
        rows.append((r.result.get("figure", r.test),
                     f"{_value(r.result, 'value')} +- {_value(r.result, 'sd')} "
                     f"{r.result.get('unit', '')}",
                     "-" if limit is None else f"{r.result.get('limit_sense', '')} {limit:g}",
                     r.time_utc.strftime("%Y-%m-%d"), _verdict(r)))
        if r.passed is False:
            marked.append(i)
    report.table(("test", "result (1 sd)", "limit", "date", "verdict"), rows, marked)


def control_chart_points(records: list[Record]) -> tuple[np.ndarray, np.ndarray, float]:
    """Days since the first daily record, constancy ratios, and the tolerance of the last one."""
    judged = [r for r in records if r.test == DAILY and "ratio" in r.result]
    if not judged:
        return np.array([]), np.array([]), 0.10
    t0 = judged[0].time_utc
    days = np.array([(r.time_utc - t0).total_seconds() / 86400 for r in judged])
    ratios = np.array([float(r.result["ratio"]) for r in judged])
    return days, ratios, float(judged[-1].result.get("tolerance", 0.10))


def write_report(path: str | Path, records: list[Record], db_path: str | Path) -> Path:
    """Write the QC report of these records (grouped by probe) to `path`."""
    from probe_nav.report.pdf import PdfReport

    report = PdfReport(Path(path), "probe-nav QC and calibration report")
    report.key_values([
        ("Database", str(db_path)),
        ("Generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")),
        ("Records", str(len(records))),
        ("Checksums", "all verified"),
    ])
    by_probe: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_probe[record.probe.label].append(record)
    if not by_probe:
        report.paragraph("No records.")
    for label, probe_records in sorted(by_probe.items()):
        report.heading(f"Probe {label}")
        rows, marked = [], []
        for i, r in enumerate(probe_records):
            fields = _FIELDS.get(r.test, ())
            summary = _nema_value(r) if r.test.startswith(NEMA_PREFIX) else \
                ", ".join(f"{k} {_value(r.result, k)}" for k in fields)
            rows.append((str(r.id), r.time_utc.strftime("%Y-%m-%d %H:%M"), f"{r.kind} {r.test}",
                         r.operator, summary, _verdict(r)))
            if r.passed is False:
                marked.append(i)
        report.table(("#", "time (UTC)", "record", "operator", "result", "verdict"), rows,
                     marked)
        days, ratios, tolerance = control_chart_points(probe_records)
        if days.size:
            mean = float(ratios.mean())
            report.heading("Daily constancy control chart", level=2)
            report.line_plot(
                [("measured / decayed baseline", days, ratios)],
                "days since the first daily QC", "ratio to baseline",
                f"Constancy of {label}",
                hlines=[(f"mean {mean:.4f}", mean), (f"+{100 * tolerance:g} %", 1 + tolerance),
                        (f"-{100 * tolerance:g} %", 1 - tolerance)])
            outside = int(np.sum(np.abs(ratios - 1) > tolerance))
            report.paragraph(f"{ratios.size} daily checks, mean ratio {mean:.4f}, sd "
                             f"{ratios.std(ddof=1) if ratios.size > 1 else 0.0:.4f}; "
                             f"{outside} outside the +-{100 * tolerance:g} % tolerance.")
        _nema_section(report, probe_records)
        chi = [r for r in probe_records if r.test == CHI_SQUARE]
        if chi:
            band = chi[-1].result["band"]
            report.heading("Chi-square test history", level=2)
            report.line_plot([("chi-square", np.arange(1, len(chi) + 1),
                               [float(r.result["chi2"]) for r in chi])],
                             "test number", "chi-square", f"Chi-square of {label}",
                             hlines=[("lower band", float(band[0])),
                                     ("upper band", float(band[1]))])
        for r in probe_records:
            report.paragraph(f"Record {r.id}: source {r.source}; raw data {r.raw_data}; "
                             f"checksum {r.checksum[:16]}...")
    return report.save()
