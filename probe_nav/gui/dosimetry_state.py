"""The Qt-free part of the console's Dosimetry panel: a therapy case's retention points read from
the case store, a finished timed count kept as a candidate point (with the session's background
or none: a missing background is never guessed), the manual entry row parsed, the fit of one
geometry's points, and the figures, curves and error bars the panel lays out.

Every value is checked by probe_nav.cases (new_retention_record, on adding) and probe_nav.dosimetry
(check_series, on fitting); here are only the conversions of typed text into numbers (UserError,
one line, for text that is not a number) and the arithmetic of the display.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probe_nav.cases import CaseStore
from probe_nav.cases.model import Case
from probe_nav.cases.retention import (
    RetentionRecord,
    check_dosimetry_case,
    geometries,
    select_geometry,
)
from probe_nav.core.timed import TimedCountResult
from probe_nav.dosimetry.fit import SCATTER_P, RetentionAnalysis, RetentionFit, fit_series
from probe_nav.dosimetry.series import SeriesError
from probe_nav.errors import UserError

log = logging.getLogger(__name__)

MODEL_NAMES = {"mono": "mono-exponential", "bi": "bi-exponential"}
CURVE_SAMPLES = 300
X_MARGIN = 1.25  # the time axis runs on past the last point by this share (extrapolation)
POINT_COLUMNS = ("#", "after admin. (h)", "net ± sd (cps)", "counts", "live (s)",
                 "background ± sd (cps)", "geometry")  # what the fit uses first


@dataclass(frozen=True)
class PendingCount:
    """A finished timed count offered as a retention point: its middle on the host clock (the
    decay curve is sampled there, as `sim retention` centres its counts) and the background the
    session had in use, or None when it had none (then one must be typed)."""

    counts: int
    live_s: float
    measured_unix_s: float
    background: tuple[float, float] | None  # (rate, sd) cps

    def describe(self) -> str:
        """One line for the panel: the count and its background."""
        when = time.strftime("%H:%M:%S UTC", time.gmtime(self.measured_unix_s))
        bg = ("no background in use: type one (0 if truly none)" if self.background is None
              else f"session background {self.background[0]:.4g} ± {self.background[1]:.2g} cps")
        return f"last count {self.counts} in {self.live_s:.1f} s ({when}) · {bg}"


def pending_from_result(result: TimedCountResult, background: tuple[float, float] | None,
                        finished_unix_s: float | None = None) -> PendingCount:
    """The candidate point of a timed count that finished at `finished_unix_s` (now if None):
    its time is the middle of the count (real time, which includes dead time)."""
    end = time.time() if finished_unix_s is None else float(finished_unix_s)
    return PendingCount(int(result.counts), float(result.live_s), end - result.real_s / 2.0,
                        background)


def number(name: str, text: str, *, integer: bool = False) -> float:
    """A typed number (UserError naming the field when the text is not one)."""
    text = text.strip()
    if not text:
        raise UserError(f"{name} is empty")
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise UserError(f"{name} must be {kind}, got {text!r}") from None
    if not math.isfinite(value):
        raise UserError(f"{name} must be a finite number, got {text!r}")
    return value


def typed_background(rate_text: str, sd_text: str) -> tuple[float, float]:
    """The background typed in the panel: a rate is required (never guessed; 0 when the user
    says so), the sd defaults to 0."""
    if not rate_text.strip():
        raise UserError("no background: measure one (B) with the patient out of the room or "
                        "type the background rate (0 if there is truly none)")
    rate = number("background rate", rate_text)
    sd = number("background sd", sd_text) if sd_text.strip() else 0.0
    return rate, sd


@dataclass(frozen=True)
class ManualEntry:
    """A typed retention point (time in hours after administration)."""

    time_h: float
    counts: int
    live_s: float
    background: tuple[float, float]


def parse_manual(time_h: str, counts: str, live_s: str, background_cps: str,
                 background_sd_cps: str) -> ManualEntry:
    """The manual entry row as numbers (range checks come from the case store on adding)."""
    return ManualEntry(number("time after administration (h)", time_h),
                       int(number("counts", counts, integer=True)),
                       number("live time (s)", live_s),
                       typed_background(background_cps, background_sd_cps))


class DosimetryCases:
    """The case store as the panel uses it: opened for each action and closed again (the Case
    tab keeps its own connection; SQLite serialises the writers)."""

    def __init__(self, store_path: str | Path | None, *, queue: bool = False,
                 on_written: Callable[[], None] | None = None) -> None:
        self.store_path = Path(store_path) if store_path is not None else None
        self.queue = queue  # a console on a department server (probe_nav.gui.department_link)
        self.on_written = on_written  # called after each point stored

    def path(self) -> Path:
        """The case database's file (the default one in the user data folder if none given)."""
        from probe_nav.cases.store import default_case_db

        return self.store_path if self.store_path is not None else default_case_db()

    @contextmanager
    def _open(self) -> Iterator[CaseStore]:
        """The store, open for one action; an OSError (e.g. a folder that cannot be written)
        becomes one UserError line, as the store's own refusals are."""
        try:
            with CaseStore.open(self.store_path, queue=self.queue) as store:
                yield store
        except OSError as exc:
            raise UserError(f"{self.path()}: {exc.strerror or exc}") from None

    def therapy_case_ids(self) -> list[str]:
        """Ids of the cases with an administration time, newest first (the ones dosimetry
        accepts); [] when the store cannot be read."""
        if not self.path().is_file():  # nothing to list: not created just to look
            return []
        try:
            with self._open() as store:
                cases = [c for c in store.cases() if c.injection_unix_s is not None]
        except UserError as exc:  # StoreError is a UserError
            log.info("therapy cases not listed: %s", exc)
            return []
        return [c.case_id for c in sorted(cases, key=lambda c: -(c.injection_unix_s or 0.0))]

    def load(self, case_id: str) -> tuple[Case, list[RetentionRecord]]:
        """The case and its retention points; UserError when the case does not exist or has
        no administration time (or there is no case database yet: none is created to look)."""
        if not self.path().is_file():
            raise UserError(f"no case {case_id!r}: there is no case database at {self.path()}")
        with self._open() as store:
            case = store.case(case_id)
            check_dosimetry_case(case)
            return case, store.retention_points(case.case_id)

    def add(self, case_id: str, *, counts: int, live_s: float, geometry: str,
            background: tuple[float, float], measured_unix_s: float | None = None,
            time_h: float | None = None) -> RetentionRecord:
        """Store one point (the store checks every value; UserError, nothing stored)."""
        when = ({"measured_unix_s": measured_unix_s} if measured_unix_s is not None
                else {"time_h": time_h})
        with self._open() as store:
            record = store.add_retention_point(case_id, counts=counts, live_s=live_s,
                                               geometry=geometry, background_cps=background[0],
                                               background_sd_cps=background[1], **when)
        if self.on_written is not None:
            self.on_written()
        return record


def fit_geometry(case: Case, records: Sequence[RetentionRecord], geometry: str,
                 ) -> tuple[list[RetentionRecord], RetentionAnalysis]:
    """Fit the points of one geometry: the only one stored, else `geometry` (the panel's
    field). UserError (one line) when they cannot be fitted."""
    found = geometries(records)
    chosen = select_geometry(records, None if len(found) <= 1 else (geometry.strip() or None))
    try:
        return chosen, fit_series([r.as_point() for r in chosen], case.nuclide)
    except (SeriesError, ValueError) as exc:
        raise UserError(f"no fit: {exc}") from None


def point_cells(r: RetentionRecord) -> tuple[str, ...]:
    """One row of the points table (POINT_COLUMNS)."""
    return (str(r.point_id), f"{r.time_h:.2f}", f"{r.net_cps:.5g} ± {r.net_sd_cps:.2g}",
            str(r.counts), f"{r.live_s:.1f}",
            f"{r.background_cps:.4g} ± {r.background_sd_cps:.2g}", r.geometry)


def hours(value: float | None, sd: float | None = None) -> str:
    """'40.1 ± 1.2 h'; '∞' for no clearance; '—' for a missing figure."""
    if value is None or math.isnan(value):
        return "—"
    if math.isinf(value):
        return "∞ (no clearance)"
    if sd is None or not math.isfinite(sd):
        return f"{value:.4g} h"
    return f"{value:.4g} ± {sd:.2g} h"


def fit_rows(analysis: RetentionAnalysis) -> list[tuple[str, str, str]]:
    """(figure, mono, bi) rows of the results table, the retained fractions at the measured
    times last; '—' where bi was not fitted."""
    fits: list[RetentionFit | None] = [analysis.mono, analysis.bi]

    def row(label: str, cell) -> tuple[str, str, str]:
        a, b = (cell(f) if f is not None else "—" for f in fits)
        return label, a, b

    def bi_hours(name: str):
        return lambda f: (hours(getattr(f, name), getattr(f, name.replace("_h", "_sd_h")))
                          if f.model == "bi" else "—")

    def retained(t_h: float):
        def cell(f: RetentionFit) -> str:
            value, sd = f.retained_fraction(t_h)
            return f"{100 * value[0]:.1f} ± {100 * sd[0]:.1f} %"
        return cell

    return [
        row("AICc", lambda f: f"{f.aicc:.2f}" if math.isfinite(f.aicc) else "undefined"),
        row("χ² / dof", lambda f: f"{f.chi2_dof:.2f}"),
        row("T_eff", lambda f: hours(f.t_eff_h, f.t_eff_sd_h)),
        row("T_eff fast", bi_hours("t_eff_fast_h")),
        row("T_eff slow", bi_hours("t_eff_slow_h")),
        row("fast fraction", lambda f: f"{f.fraction_fast:.3f} ± {f.fraction_fast_sd:.2g}"
            if f.model == "bi" and f.fraction_fast is not None
            and f.fraction_fast_sd is not None else "—"),
        row("TIAC", lambda f: hours(f.tiac_h, f.tiac_sd_h)),
        row("TIAC outside data", lambda f: f"{100 * f.extrapolated_fraction:.1f} %"
            + (" FLAGGED" if f.extrapolation_flag else "")),
        *(row(f"retained at {t:g} h", retained(t)) for t in analysis.t_h),
    ]


def summary(analysis: RetentionAnalysis) -> str:
    """The chosen model and its T_eff and TIAC in one line (and why bi is missing)."""
    c = analysis.chosen
    text = (f"chosen by AICc: {MODEL_NAMES[c.model]} · T_eff {hours(c.t_eff_h, c.t_eff_sd_h)}"
            f" · TIAC {hours(c.tiac_h, c.tiac_sd_h)} · {analysis.nuclide} T_phys "
            f"{c.t_phys_h:.4g} h")
    if c.chi2_p < SCATTER_P:
        text += (f" · χ²/dof {c.chi2_dof:.3g}: more scatter than counting explains (the sds "
                 "are understated or the model does not describe the data)")
    if c.extrapolation_flag:
        text += (f" · EXTRAPOLATION FLAGGED: {100 * c.extrapolated_fraction:.0f} % of the TIAC "
                 "lies outside the measured times")
    if analysis.bi is None:
        text += f" · no bi-exponential fit: {analysis.bi_note}"
    elif analysis.bi_note:
        text += f" · {analysis.bi_note}"
    return text


@dataclass(frozen=True)
class CurvePieces:
    """A fitted curve in log10(cps) split where it is extrapolated (before the first and after
    the last measured time) and where it lies among the data."""

    before: tuple[np.ndarray, np.ndarray]
    inside: tuple[np.ndarray, np.ndarray]
    after: tuple[np.ndarray, np.ndarray]


def x_max_h(times_h: Sequence[float]) -> float:
    """The right end of the time axis: X_MARGIN past the last point."""
    return X_MARGIN * max(times_h)


def curve_pieces(fit: RetentionFit, times_h: Sequence[float]) -> CurvePieces:
    """The fit's curve from administration to x_max_h in three pieces (log10 of the rate)."""
    first, last, end = min(times_h), max(times_h), x_max_h(times_h)

    def piece(a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
        x = np.linspace(a, b, max(2, int(CURVE_SAMPLES * (b - a) / end) + 2))
        return x, np.log10(np.maximum(fit.rate_cps(x), 1e-300))

    return CurvePieces(piece(0.0, first), piece(first, last), piece(last, end))


@dataclass(frozen=True)
class LogPoints:
    """Points with 1 sd bars in log10(cps); those at or below zero net rate cannot sit on a log
    axis and are listed apart (drawn as marks on the bottom edge)."""

    x_h: np.ndarray
    y_log: np.ndarray
    top: np.ndarray  # bar lengths up and down, in decades
    bottom: np.ndarray
    below_zero_h: np.ndarray
    floor_log: float  # the bottom edge of the axis


def log_points(records: Sequence[RetentionRecord], fits: Sequence[RetentionFit]) -> LogPoints:
    """The points and bars of the plot. A bar whose lower end is at or below zero runs down to
    the floor (half a decade under the lowest point or curve end)."""
    t = np.array([r.time_h for r in records], dtype=float)
    y = np.array([r.net_cps for r in records], dtype=float)
    sd = np.array([r.net_sd_cps for r in records], dtype=float)
    positive = y > 0
    lows = [float(np.min(np.log10(y[positive])))] if positive.any() else [0.0]
    end = x_max_h(t.tolist()) if t.size else 1.0
    lows += [float(np.log10(max(float(f.rate_cps(end)[0]), 1e-300))) for f in fits]
    floor = math.floor(2 * (min(lows) - 0.5)) / 2
    yp, sdp = y[positive], sd[positive]
    y_log = np.log10(yp)
    top = np.log10(yp + sdp) - y_log
    low = yp - sdp
    bottom = np.where(low > 0, y_log - np.log10(np.where(low > 0, low, 1.0)), y_log - floor)
    return LogPoints(t[positive], y_log, top, bottom, t[~positive], floor)


__all__ = ["DosimetryCases", "ManualEntry", "PendingCount", "curve_pieces", "fit_geometry",
           "fit_rows", "log_points", "number", "parse_manual",
           "pending_from_result", "point_cells", "summary", "typed_background"]
