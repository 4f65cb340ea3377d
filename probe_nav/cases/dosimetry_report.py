"""The PDF report of a case's retention dosimetry: the case and therapy in a running header, the
table of retention points, the fit plot (points with 1 sd bars, mono- and bi-exponential curves
on a log axis, the one AICc chooses drawn heavier, extrapolated stretches shaded and dashed),
the standardised residuals, both fits' results (AICc, T_eff, TIAC with sd), the retained
fractions, the extrapolation flag and, when asked, the I-131 release time."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from probe_nav.cases.model import Case
from probe_nav.cases.report import header_lines
from probe_nav.cases.retention import RetentionRecord
from probe_nav.dosimetry.fit import SCATTER_P, RetentionAnalysis, RetentionFit
from probe_nav.report import PdfReport
from probe_nav.report import numbers as fmt
from probe_nav.report.axes import nice_ceiling

MODEL_NAMES = {"mono": "mono-exponential", "bi": "bi-exponential"}
MODEL_COLOURS = {"mono": "#b5651d", "bi": "#2a7f3f"}
CURVE_SAMPLES = 400
X_MARGIN = 1.25  # the time axis runs on past the last point by this factor (extrapolation)


@dataclass(frozen=True)
class ReleaseCriterion:
    """I-131 release: dose rate at 1 m per net count rate (µSv/h per cps) and the limit."""

    usv_h_per_cps: float
    limit_usv_h: float


def _hours(value: float, sd: float | None = None) -> str:
    if not math.isfinite(value):
        return "∞ (no clearance)" if value > 0 else fmt.MISSING
    return fmt.value_sd(value, sd, "h") if sd is not None else fmt.quantity(value, "h")


def _points_table(report: PdfReport, points: Sequence[RetentionRecord], a0_cps: float) -> None:
    report.heading("Retention points")
    report.paragraph(
        f"Net rate = counts / live time - background; its sd combines counting (√N / live "
        f"time) and the background's sd. Retained = net rate / fitted rate at administration "
        f"({fmt.quantity(a0_cps, 'cps')}, chosen fit), with the counting sd only.")
    rows = [[str(p.point_id), fmt.iso_datetime(p.measured_unix_s, zone=False),
             fmt.fixed(p.time_h, 2), fmt.count(p.counts), fmt.fixed(p.live_s, 1),
             fmt.value_sd(p.background_cps, p.background_sd_cps),
             fmt.value_sd(p.net_cps, p.net_sd_cps),
             fmt.value_sd(100 * p.net_cps / a0_cps, 100 * p.net_sd_cps / a0_cps)]
            for p in points]
    report.table(["#", "time (UTC)", "after admin. (h)", "counts", "live time (s)",
                  "background ± sd (cps)", "net rate ± sd (cps)", "retained ± sd (%)"], rows)


def _curve_x(x_max: float) -> np.ndarray:
    return np.linspace(0.0, x_max, CURVE_SAMPLES)


def _fit_figures(report: PdfReport, points: Sequence[RetentionRecord],
                 analysis: RetentionAnalysis) -> None:
    from probe_nav.report.curve_charts import Curve, LogCurveChart, PointSeries, ResidualChart

    times = [p.time_h for p in points]
    x_max = nice_ceiling(X_MARGIN * max(times))
    x = _curve_x(x_max)
    fits = [f for f in (analysis.mono, analysis.bi) if f is not None]
    chosen = analysis.chosen.model
    curves = [Curve(f"{MODEL_NAMES[f.model]}" + (" (chosen by AICc)" if f.model == chosen
                                                  else ""),
                    x.tolist(), f.rate_cps(x).tolist(), MODEL_COLOURS[f.model],
                    0.6 if f.model == chosen else 0.3) for f in fits]
    measured = PointSeries("net rate ± 1 sd", times, [p.net_cps for p in points],
                           [p.net_sd_cps for p in points])
    x_title = "time after administration (h)"
    chart = LogCurveChart(measured, curves, measured=(min(times), max(times)), x_max=x_max,
                          x_title=x_title, y_title="net rate (cps)")
    report.paragraph("Net count rate of each point (1 sd bars) with the fitted retention curves "
                     "on a logarithmic axis; the fit AICc chooses is drawn heavier. Shaded, "
                     "with the curves dashed: before the first and after the last point, where "
                     "the curves are extrapolations."
                     + (" A point at or below zero net rate cannot sit on a logarithmic axis: "
                        "it is marked ▽ on the bottom edge." if any(p.net_cps <= 0 for p in points)
                        else ""))
    report.figure(chart)
    series = [PointSeries(MODEL_NAMES[f.model], times, list(f.residuals), [0.0] * len(times),
                          MODEL_COLOURS[f.model]) for f in fits]
    report.paragraph("Standardised residuals (measured - fitted) / sd of each fit; dashed: ±2. "
                     "A fit that describes the data leaves them scattered about zero, mostly "
                     "within ±2, without a trend.")
    report.figure(ResidualChart(series, x_max=x_max, x_title=x_title))


def _fit_rows(fits: Sequence[RetentionFit]) -> list[list[str]]:
    def row(label: str, cell: Any) -> list[str]:
        return [label, *(cell(f) for f in fits)]

    def bi_only(name: str, unit: str = "h") -> Any:
        def cell(f: RetentionFit) -> str:
            if f.model != "bi":
                return fmt.MISSING
            value, sd = getattr(f, name), getattr(f, name.replace("_h", "_sd_h"))
            return _hours(value, sd) if unit == "h" else fmt.value_sd(value, sd)
        return cell

    return [
        row("AICc", lambda f: fmt.fixed(f.aicc, 2) if math.isfinite(f.aicc) else "undefined"),
        row("χ² / degree of freedom", lambda f: fmt.fixed(f.chi2_dof, 2)),
        row("rate at administration (cps)", lambda f: fmt.value_sd(f.a0_cps, f.a0_sd_cps)),
        row("effective half-life T_eff", lambda f: _hours(f.t_eff_h, f.t_eff_sd_h)),
        row("biological half-life", lambda f: _hours(f.t_bio_h, f.t_bio_sd_h)
            if f.model == "mono" else fmt.MISSING),
        row("fast component T_eff", bi_only("t_eff_fast_h")),
        row("slow component T_eff", bi_only("t_eff_slow_h")),
        row("fast fraction", lambda f: fmt.value_sd(f.fraction_fast, f.fraction_fast_sd)
            if f.model == "bi" else fmt.MISSING),
        row("TIAC (residence time)", lambda f: _hours(f.tiac_h, f.tiac_sd_h)),
        row("TIAC outside the measured times", lambda f: fmt.percent(
            100 * f.extrapolated_fraction, 1) + (" (flagged)" if f.extrapolation_flag else "")),
    ]


def _results(report: PdfReport, analysis: RetentionAnalysis,
             fractions_at_h: Sequence[float]) -> None:
    report.heading("Results")
    chosen = analysis.chosen
    fits = [f for f in (analysis.mono, analysis.bi) if f is not None]
    report.paragraph(
        f"Chosen by AICc: {MODEL_NAMES[chosen.model]}. T_eff "
        f"{_hours(chosen.t_eff_h, chosen.t_eff_sd_h)}, TIAC "
        f"{_hours(chosen.tiac_h, chosen.tiac_sd_h)}"
        f" (physical half-life of {analysis.nuclide}: {fmt.quantity(chosen.t_phys_h, 'h')})."
        + (" For the bi-exponential fit T_eff is the equivalent mono-exponential half-life "
           "(TIAC × ln 2)." if chosen.model == "bi" else ""))
    headers = ["", *(MODEL_NAMES[f.model] + (" (chosen)" if f is chosen else "") for f in fits)]
    report.table(headers, _fit_rows(fits), align=("l", *("r" for _ in fits)))
    if chosen.chi2_p is not None and chosen.chi2_p < SCATTER_P:  # said, not hidden
        report.note(f"WARNING: scatter beyond counting statistics (χ²/dof "
                    f"{chosen.chi2_dof:.3g}, p = {chosen.chi2_p:.2g}): the sds above understate "
                    "the uncertainty; check each point's geometry, or the model (a "
                    "bi-exponential needs at least 6 points to be chosen by AICc).")
    if analysis.bi is None:
        report.note(f"No bi-exponential fit: {analysis.bi_note}.")
    elif analysis.bi_note:
        report.note(analysis.bi_note)
    value, sd = chosen.retained_fraction(list(fractions_at_h))
    report.heading("Retained fraction (chosen fit)", level=2)
    report.table(["time after administration (h)", "retained ± sd (%)"],
                 [[fmt.fixed(t, 1), fmt.value_sd(100 * v, 100 * s)]
                  for t, v, s in zip(fractions_at_h, value.tolist(), sd.tolist(), strict=True)])
    _extrapolation(report, chosen)


def _extrapolation(report: PdfReport, chosen: RetentionFit) -> None:
    share = fmt.percent(100 * chosen.extrapolated_fraction, 1)
    first, last = min(chosen.t_h), max(chosen.t_h)
    text = (f"Extrapolation: {share} of the TIAC lies before the first point "
            f"({fmt.fixed(first, 1)} h) or after the last ({fmt.fixed(last, 1)} h).")
    if chosen.extrapolation_flag:
        report.paragraph(f"EXTRAPOLATION FLAGGED. {text} The TIAC rests largely on the model, "
                         "not on measurements: measure later points.")
    else:
        report.paragraph(text)


def _release(report: PdfReport, analysis: RetentionAnalysis, case: Case,
             criterion: ReleaseCriterion) -> None:
    from probe_nav.dosimetry.release import release_time_h

    report.heading("Release (dose rate at 1 m)")
    t_h, sd_h = release_time_h(analysis.chosen, criterion.usv_h_per_cps, criterion.limit_usv_h)
    start = case.injection_unix_s or 0.0
    when = fmt.iso_datetime(start + float(t_h) * 3600.0) if math.isfinite(t_h) else fmt.MISSING
    report.key_values([
        ("calibration factor", f"{fmt.quantity(criterion.usv_h_per_cps)} µSv/h at 1 m per cps"),
        ("limit", fmt.quantity(criterion.limit_usv_h, "µSv/h")),
        ("dose rate at administration", fmt.quantity(
            analysis.chosen.a0_cps * criterion.usv_h_per_cps, "µSv/h")),
        ("criterion reached", f"{_hours(float(t_h), float(sd_h))} after administration"
         + (f" ({when})" if math.isfinite(t_h) else "")),
    ])


def write_dosimetry_report(
    path: Path, case: Case, points: Sequence[RetentionRecord], analysis: RetentionAnalysis, *,
    fractions_at_h: Sequence[float] | None = None, release: ReleaseCriterion | None = None,
) -> Path:
    """Write the dosimetry report of `case` (its retention `points` of one geometry and their
    RetentionAnalysis) into the file at `path` (created 0600 or truncated; the CLI publishes it
    atomically through write_private_file)."""
    from probe_nav import __version__

    generated = fmt.iso_datetime(datetime.now(UTC))
    geometry = points[0].geometry if points else ""
    report = PdfReport(path, f"Retention dosimetry, case {case.case_id}", header_lines(case),
                       f"probe-nav {__version__} · dosimetry report · generated {generated}")
    operators = sorted({p.operator for p in points if p.operator})
    report.key_values([
        ("case", case.case_id),
        ("therapy nuclide", f"{case.nuclide} (physical half-life "
                            f"{fmt.quantity(analysis.mono.t_phys_h, 'h')})"),
        ("administered", (fmt.quantity(case.injected_activity_mbq, "MBq")
                          if case.injected_activity_mbq else "activity not recorded") + " at "
         + fmt.iso_datetime(case.injection_unix_s, seconds=True)),
        ("geometry", geometry),
        ("points", fmt.plural(len(points), "point")),
        ("operators", ", ".join(operators) or "not recorded"),
    ])
    _points_table(report, points, analysis.chosen.a0_cps)
    report.heading("Fit")
    _fit_figures(report, points, analysis)
    _results(report, analysis, [p.time_h for p in points] if fractions_at_h is None
             else fractions_at_h)
    if release is not None:
        _release(report, analysis, case, release)
    return report.write_into()
