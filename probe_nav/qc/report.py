"""The QC, NEMA and calibration report (PDF) of a set of stored records, grouped by probe: the
probe's identity and latest calibration, every record with its result, limit and verdict, the
daily constancy control chart over real dates (from the first check judged against the
baseline; one check sits on a +-1 day axis), the chi-square history (from the second test),
the NEMA NU 3 results, and each record's source, raw data and SHA-256 checksum. The title says
what the records are (QC, NEMA, calibration); the running header on every page names the probe,
its calibration records and the records reported. Layout: probe_nav.report (docs/reports.md)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from probe_nav.qc.nema_run import PREFIX as NEMA_PREFIX
from probe_nav.qc.procedures import CHI_SQUARE, DAILY
from probe_nav.qc.store import CALIBRATION, Record
from probe_nav.report import numbers as fmt

TEST_NAMES = {DAILY: "daily constancy", CHI_SQUARE: "chi-square", "energy": "energy calibration",
              "sensitivity": "sensitivity calibration", "deadtime": "dead-time calibration"}
SENSE = {">=": "≥", "<=": "≤"}
_SUP = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _f(result: dict[str, Any], key: str) -> float | None:
    value = result.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) \
        else None


def test_name(record: Record) -> str:
    """What the record is, in words: 'daily constancy', 'NEMA: spatial resolution FWHM'."""
    if record.test.startswith(NEMA_PREFIX):
        return f"NEMA: {record.result.get('figure', record.test[len(NEMA_PREFIX):])}"
    return TEST_NAMES.get(record.test, record.test)


def verdict(record: Record) -> str:
    """'pass', 'FAIL' or '–' (no verdict: calibrations, baselines, tests without a limit)."""
    return fmt.MISSING if record.passed is None else ("pass" if record.passed else "FAIL")


def _energy_text(r: dict[str, Any]) -> str:
    coefficients = r.get("coefficients") or []
    sds = list(r.get("coefficients_sd") or []) + [None] * len(coefficients)
    terms = []
    for i, (c, sd) in enumerate(zip(coefficients, sds, strict=False)):
        value = fmt.value_sd(float(c), None if sd is None else float(sd))
        power = "" if i == 0 else (" × ch" if i == 1 else f" × ch{str(i).translate(_SUP)}")
        terms.append(f"({value}){power}" if i else value)
    text = "E = " + " + ".join(terms) + " keV" if terms else "no coefficients"
    peaks = len(r.get("channels") or [])
    if peaks:
        text += f" ({fmt.plural(peaks, 'peak')})"
    if _f(r, "fwhm_pct") is not None:
        text += (f"; resolution {fmt.value_sd(_f(r, 'fwhm_pct'), _f(r, 'fwhm_pct_sd'), '%')} "
                 f"FWHM at {fmt.quantity(_f(r, 'resolution_kev'), 'keV', 4)}")
    return text



def result_text(record: Record) -> str:
    """The record's result in words and numbers with units."""
    r = record.result
    if record.test.startswith(NEMA_PREFIX):
        return fmt.value_sd(_f(r, "value"), _f(r, "sd"), str(r.get("unit", "")))
    if record.test == DAILY:
        rate = fmt.value_sd(_f(r, "rate_cps"), _f(r, "rate_sd_cps"), "cps")
        if r.get("baseline"):
            text = f"baseline: {rate} net ({r.get('nuclide', '')})"
        else:
            text = (f"ratio {fmt.value_sd(_f(r, 'ratio'), _f(r, 'ratio_sd'))} of the decayed "
                    f"baseline ({rate}; expected {fmt.quantity(_f(r, 'expected_cps'), 'cps')})")
        if _f(r, "battery_pct") is not None:
            text += f"; battery {fmt.percent(_f(r, 'battery_pct'))}"
        return text
    if record.test == CHI_SQUARE:
        return (f"χ² = {fmt.quantity(_f(r, 'chi2'))} with {r.get('dof')} degrees of freedom, "
                f"p = {fmt.quantity(_f(r, 'p_value'), '', 2)}")
    if record.test == "energy":
        return _energy_text(r)
    if record.test == "sensitivity":
        parts = [fmt.value_sd(_f(r, "cps_per_mbq"), _f(r, "sd"), "cps/MBq"),
                 " ".join(x for x in (str(r.get("nuclide", "")), "source",
                                      str(r.get("source_serial", ""))) if x),
                 f"{fmt.value_sd(_f(r, 'activity_mbq'), _f(r, 'activity_sd_mbq'), 'MBq')} "
                 "at the count"]
        if r.get("geometry"):
            parts.append(str(r["geometry"]))
        return "; ".join(parts)
    if record.test == "deadtime":
        return (f"{fmt.value_sd(_f(r, 'dead_time_s'), _f(r, 'dead_time_sd_s'), 's')}, "
                f"{r.get('model', '')} ({r.get('method', '')} method)")
    return "; ".join(f"{k} {v}" for k, v in r.items() if not isinstance(v, list | dict))


def limit_text(record: Record) -> str:
    """The limit the verdict was judged against, with its unit ('–' when none)."""
    r = record.result
    if record.test.startswith(NEMA_PREFIX):
        limit = _f(r, "limit")
        if limit is None:
            return fmt.MISSING
        sense = SENSE.get(str(r.get("limit_sense", "")), str(r.get("limit_sense", "")))
        return f"{sense} {fmt.quantity(limit, str(r.get('unit', '')), 3)}"
    if record.test == DAILY:
        return fmt.MISSING if r.get("baseline") else \
            f"ratio 1 {fmt.tolerance(float(r.get('tolerance', 0.10)))}"
    if record.test == CHI_SQUARE and r.get("band"):
        lo, hi = (float(b) for b in r["band"])
        return f"{fmt.quantity(lo)} to {fmt.quantity(hi)}"
    return fmt.MISSING


def report_title(records: list[Record]) -> str:
    """'NEMA NU 3 characterisation report', 'Calibration report', 'QC report' or 'QC and
    calibration report', from what the records are."""
    if records and all(r.test.startswith(NEMA_PREFIX) for r in records):
        return "NEMA NU 3 characterisation report"
    if records and all(r.kind == CALIBRATION for r in records):
        return "Calibration report"
    if records and all(r.kind != CALIBRATION for r in records):
        return "QC report"
    return "QC and calibration report"


def _probe_identity(records: list[Record]) -> list[tuple[str, str]]:
    probe = records[0].probe
    pairs = [("model", probe.model), ("serial", probe.serial or "not recorded")]
    if probe.detector:
        pairs.append(("detector", probe.detector))
    for test in ("energy", "sensitivity", "deadtime"):
        latest = [r for r in records if r.kind == CALIBRATION and r.test == test]
        if latest:
            r = latest[-1]
            pairs.append((TEST_NAMES[test], f"record {r.id} of {fmt.iso_date(r.time_utc)}: "
                                            f"{result_text(r)}"))
        else:
            pairs.append((TEST_NAMES[test], "no record in this report"))
    return pairs


def _daily_section(report, records: list[Record]) -> None:
    daily = [r for r in records if r.test == DAILY]
    if not daily:
        return
    report.heading("Daily constancy control chart", level=2)
    judged = [r for r in daily if _f(r.result, "ratio") is not None]
    baselines = [r for r in daily if r.result.get("baseline")]
    tolerance = float(daily[-1].result.get("tolerance", 0.10))
    points = [(r.time_utc, 1.0, 0.0, False, True) for r in baselines]
    points += [(r.time_utc, _f(r.result, "ratio"), _f(r.result, "ratio_sd") or 0.0,
                r.passed is False, False) for r in judged]
    outside = sum(1 for r in judged if abs((_f(r.result, "ratio") or 1.0) - 1) > tolerance)
    summary = (f"{fmt.plural(len(daily), 'daily check')}: "
               f"{fmt.plural(len(baselines), 'baseline')} and "
               f"{fmt.plural(len(judged), 'judged check')}, {outside} outside the "
               f"{fmt.tolerance(tolerance)} tolerance.")
    if len(judged) > 1:
        ratios = [_f(r.result, "ratio") or 0.0 for r in judged]
        mean = sum(ratios) / len(ratios)
        sd = math.sqrt(sum((x - mean) ** 2 for x in ratios) / (len(ratios) - 1))
        summary = summary[:-1] + f"; mean ratio {fmt.value_sd(mean, sd)} (sd between checks)."
    report.paragraph(summary)
    if not judged:
        report.note("Baseline only: no check has been judged against it yet. The chart "
                    "starts with the first check.")
        return
    from probe_nav.report.charts import ControlChart, RefLine

    chart = ControlChart([p[0] for p in points], [p[1] for p in points], [p[2] for p in points],
                         band=(1 - tolerance, 1 + tolerance),
                         band_labels=(f"-{100 * tolerance:g} %", f"+{100 * tolerance:g} %"),
                         centre=RefLine("baseline", 1.0),
                         axis_label="ratio to the decayed baseline",
                         failed=[p[3] for p in points], hollow=[p[4] for p in points])
    report.figure(chart, "Measured net rate over the baseline decayed to the day of the check "
                         "(1 sd bars); shaded: the tolerance band; red: a failed check; open "
                         "circles: baselines (1 by definition).")


def _chi_square_section(report, records: list[Record]) -> None:
    chi = [r for r in records if r.test == CHI_SQUARE and _f(r.result, "chi2") is not None]
    if not chi:
        return
    report.heading("Chi-square test history", level=2)
    if len({r.time_utc for r in chi}) < 2:
        report.note("One chi-square test so far: its result is in the table above; the "
                    "history is drawn from the second test on.")
        return
    from probe_nav.report.charts import ControlChart, RefLine

    bands = {tuple(r.result.get("band") or ()) for r in chi}
    dofs = {r.result.get("dof") for r in chi}
    if len(bands) == 1 and len(dofs) == 1 and all(len(b) == 2 for b in bands):
        lo, hi = (float(b) for b in next(iter(bands)))
        dof = int(next(iter(dofs)))
        chart = ControlChart([r.time_utc for r in chi], [_f(r.result, "chi2") for r in chi],
                             band=(lo, hi), band_labels=("lower limit", "upper limit"),
                             centre=RefLine(f"expected ({dof})", float(dof)),
                             axis_label=f"χ² ({dof} degrees of freedom)",
                             failed=[r.passed is False for r in chi], joined=False)
        caption = "χ² of each test against its pass band; red: a failed test."
    else:  # different numbers of counts: compare the p-values, whose band is the same
        p_low = float(chi[-1].result.get("p_low", 0.10))
        p_high = float(chi[-1].result.get("p_high", 0.90))
        chart = ControlChart([r.time_utc for r in chi], [_f(r.result, "p_value") for r in chi],
                             band=(p_low, p_high), band_labels=(f"p {p_low:g}", f"p {p_high:g}"),
                             centre=RefLine("p 0.5", 0.5), axis_label="p-value",
                             failed=[r.passed is False for r in chi], joined=False)
        caption = "p-value of each test (tests of different lengths); red: a failed test."
    report.figure(chart, caption)


def _nema_section(report, records: list[Record]) -> None:
    """The latest result of each NEMA NU 3 test with its limit and verdict (when a test was
    run more than once)."""
    latest: dict[str, Record] = {}
    nema = [r for r in records if r.test.startswith(NEMA_PREFIX)]
    for r in nema:
        latest[r.test] = r
    if len(latest) == len(nema):  # each test once: the table of all records says it all
        return
    report.heading("NEMA NU 3 characterisation (latest of each test)", level=2)
    rows = [(str(r.result.get("figure", r.test)), result_text(r), limit_text(r),
             fmt.iso_date(r.time_utc), verdict(r)) for r in latest.values()]
    report.table(("test", "result (± 1 sd)", "limit", "date", "verdict"), rows,
                 [i for i, r in enumerate(latest.values()) if r.passed is False])


def _checksum_text(checksum: str) -> str:
    """A SHA-256 in groups of 8 hex digits, two groups a line (four lines)."""
    groups = [checksum[i:i + 8] for i in range(0, len(checksum), 8)]
    return "\n".join(" ".join(groups[i:i + 2]) for i in range(0, len(groups), 2))


def _records_section(report, records: list[Record]) -> None:
    report.heading("Records and checksums", level=2)
    kept = {r.id: r.raw_data for r in records if r.raw_data not in ("", "-")}  # "-": none
    folders = {str(Path(raw).parent) for raw in kept.values()}
    common = folders.pop() if len(folders) == 1 else None
    if common is not None:
        report.paragraph(f"Raw data files are in {common}.")
    rows = []
    for r in records:
        raw = kept.get(r.id)
        raw = fmt.MISSING if raw is None else (Path(raw).name if common is not None else raw)
        rows.append((str(r.id), r.source, raw, _checksum_text(r.checksum) or fmt.MISSING))
    report.table(("record", "source", "raw data file" if common else "raw data",
                  "SHA-256 checksum"), rows, align=("r", "l", "l", "l"))


def calibration_summary(records: list[Record]) -> str:
    """The latest calibration record of each kind, for the running header: 'energy #2,
    sensitivity #3, dead time #4 (2026-11-02)'; 'none in these records' without any."""
    latest: dict[str, Record] = {}
    for r in records:
        if r.kind == CALIBRATION:
            latest[r.test] = r
    if not latest:
        return "none in these records"
    parts = [f"{TEST_NAMES.get(t, t).removesuffix(' calibration').replace('-', ' ')} "
             f"#{r.id}" for t, r in sorted(latest.items(), key=lambda item: item[1].id)]
    days = sorted({fmt.iso_date(r.time_utc) for r in latest.values()})
    return ", ".join(parts) + f" ({', '.join(days)})"


def header_lines(records: list[Record], db_path: str | Path) -> list[str]:
    """The running header under the title: the probe(s), their calibration and which records
    of which database the report holds."""
    probes = sorted({r.probe.label for r in records})
    ids = sorted(r.id for r in records)
    by_probe: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        by_probe[r.probe.label].append(r)
    calibration = "; ".join(f"{label}: {calibration_summary(rs)}" if len(by_probe) > 1
                            else calibration_summary(rs) for label, rs in sorted(by_probe.items()))
    return [f"probe: {', '.join(probes) if probes else 'none'} · calibration: "
            f"{calibration or 'none in these records'}",
            f"{fmt.plural(len(records), 'record')}"
            + (f" (#{ids[0]} to #{ids[-1]})" if ids else "") + f" from {Path(db_path).name}"]


def write_report(path: str | Path, records: list[Record], db_path: str | Path) -> Path:
    """Write the QC report of these records (grouped by probe) into the file at `path`
    (created 0600 or truncated: the writer of probe_nav.files.atomic_write_with, through which
    the CLI publishes it)."""
    from probe_nav import __version__
    from probe_nav.report.pdf import PdfReport

    title = report_title(records)
    now = datetime.now(UTC)
    report = PdfReport(Path(path), title, header_lines(records, db_path),
                       f"probe-nav {__version__} · {title} · generated "
                       f"{fmt.iso_datetime(now)}")
    passed = sum(1 for r in records if r.passed is True)
    failed = sum(1 for r in records if r.passed is False)
    report.key_values([
        ("database", str(db_path)),
        ("generated", fmt.iso_datetime(now)),
        ("records", f"{fmt.plural(len(records), 'record')}, every checksum verified"),
        ("period", f"{fmt.iso_date(records[0].time_utc)} to {fmt.iso_date(records[-1].time_utc)}"
         if records else fmt.MISSING),
        ("verdicts", f"{passed} pass, {failed} FAIL, "
                     f"{len(records) - passed - failed} without a verdict"),
    ])
    by_probe: dict[str, list[Record]] = defaultdict(list)
    for record in records:
        by_probe[record.probe.label].append(record)
    if not by_probe:
        report.paragraph("No records.")
    for label, probe_records in sorted(by_probe.items()):
        report.heading(f"Probe {label}")
        report.key_values(_probe_identity(probe_records))
        report.heading("Tests and calibrations", level=2)
        report.table(("record", "time (UTC)", "test", "operator", "result", "limit",
                      "verdict"),
                     [(str(r.id), fmt.iso_datetime(r.time_utc, zone=False), test_name(r),
                       r.operator, result_text(r), limit_text(r), verdict(r))
                      for r in probe_records],
                     [i for i, r in enumerate(probe_records) if r.passed is False],
                     align=("r", "l", "l", "l", "l", "l", "l"))
        _daily_section(report, probe_records)
        _chi_square_section(report, probe_records)
        _nema_section(report, probe_records)
        _records_section(report, probe_records)
    return report.write_into()
