"""Retention points of a case: fixed-geometry counts of a patient (or phantom) at times after the
administration of a therapy (Lu-177, I-131, Ac-225), kept in the case's sealed chain for
retention dosimetry (probe_nav.dosimetry fits them).

A case's nuclide is the therapy's nuclide and its injection time the administration time; a case
without one refuses dosimetry. Only plausible points become records (UserError, one line,
otherwise): counts a whole number 0 to 1e7 cps x live time, live time 1 ms to 24 h, background
finite and not negative, a geometry id (e.g. "1m-standing"), the time not in the future, not
before the administration and at most 30 half-lives after it.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

from probe_nav.cases.model import (
    GENEROUS_MAX_RATE_CPS,
    Case,
    check_count,
    check_not_future,
    check_within_half_lives,
    format_unix_s,
)
from probe_nav.cases.schema import RETENTION_COLUMNS
from probe_nav.dosimetry.series import RetentionPoint
from probe_nav.errors import UserError

MAX_LABEL_LENGTH = 64
H_PER_S = 1.0 / 3600.0


@dataclass(frozen=True, slots=True)
class RetentionRecord:
    """One stored retention count: time after administration, counts in live_s, background."""

    case_id: str
    measured_unix_s: float
    time_h: float  # hours after the case's administration (injection) time
    counts: int
    live_s: float
    background_cps: float
    background_sd_cps: float
    geometry: str
    operator: str
    recorded_unix_s: float  # when it was entered (host clock)
    point_id: int | None = None
    mac: str = field(default="", compare=False)

    @property
    def rate_cps(self) -> float:
        """Gross count rate."""
        return self.counts / self.live_s

    @property
    def net_cps(self) -> float:
        """Gross rate less the background (may be negative: never clipped in storage)."""
        return self.rate_cps - self.background_cps

    @property
    def net_sd_cps(self) -> float:
        """Sd of net_cps: Poisson counting (sqrt(counts) / live_s) and the background's sd."""
        return math.hypot(math.sqrt(self.counts) / self.live_s, self.background_sd_cps)

    def row_values(self) -> dict[str, object]:
        """The stored columns (RETENTION_COLUMNS)."""
        values = asdict(self)
        return {c: values[c] for c in RETENTION_COLUMNS}

    def as_dict(self) -> dict[str, object]:
        """Every field with the rates (for `dosimetry list --json`)."""
        out = {"id": self.point_id, **self.row_values()}
        out.update(rate_cps=self.rate_cps, net_cps=self.net_cps, net_sd_cps=self.net_sd_cps)
        return out

    def as_point(self) -> RetentionPoint:
        """The point as probe_nav.dosimetry's fit takes it."""
        return RetentionPoint(time_h=self.time_h, counts=self.counts, live_s=self.live_s,
                              background_cps=self.background_cps,
                              background_sd_cps=self.background_sd_cps, geometry=self.geometry)


def check_dosimetry_case(case: Case) -> float:
    """The case's administration (injection) time, or UserError: dosimetry needs it."""
    if case.injection_unix_s is None:
        raise UserError(f"case {case.case_id!r} has no administration time: retention "
                        "dosimetry counts time from it (open the case with --injected-at)")
    return float(case.injection_unix_s)


def _label(name: str, value: object, required: bool) -> str:
    text = str(value).strip()
    if (required and not text) or len(text) > MAX_LABEL_LENGTH or not text.isprintable():
        need = "1" if required else "0"
        raise UserError(f"{name} must be {need}-{MAX_LABEL_LENGTH} printable characters, "
                        f"got {value!r}")
    return text


def _rate(name: str, value: object) -> float:
    number = float(value) if isinstance(value, numbers.Real) else math.nan
    if not (math.isfinite(number) and 0.0 <= number <= GENEROUS_MAX_RATE_CPS):
        raise UserError(f"{name} {value!r} cps is outside the allowed range 0 to "
                        f"{GENEROUS_MAX_RATE_CPS:g} cps")
    return number


def background_from_count(counts: object, live_s: float) -> tuple[float, float]:
    """(rate, sd) in cps of a background count of `counts` in `live_s` (Poisson sd)."""
    n, live, _ = check_count(counts, live_s, live_s, what="background counts")
    return n / live, math.sqrt(n) / live


def measured_time(case: Case, *, measured_unix_s: float | None = None,
                  time_h: float | None = None) -> float:
    """The measurement's Unix time from exactly one of an absolute time or hours after the
    administration; UserError if neither or both are given or time_h is not finite."""
    start = check_dosimetry_case(case)
    if (measured_unix_s is None) == (time_h is None):
        raise UserError("give the time of the count either as a date and time or as hours "
                        "after administration, not both or neither")
    if time_h is not None:
        hours = float(time_h)
        if not math.isfinite(hours):
            raise UserError(f"time after administration {time_h!r} h is not a finite number")
        return start + hours * 3600.0
    return float(measured_unix_s)  # type: ignore[arg-type]


def new_retention_record(
    case: Case, *, counts: object, live_s: float, geometry: str,
    measured_unix_s: float | None = None, time_h: float | None = None,
    background_cps: float = 0.0, background_sd_cps: float = 0.0, operator: str = "",
    recorded_unix_s: float, now_unix_s: float | None = None,
) -> RetentionRecord:
    """A validated retention point of `case` (module docstring), not yet stored."""
    start = check_dosimetry_case(case)
    t = measured_time(case, measured_unix_s=measured_unix_s, time_h=time_h)
    if not math.isfinite(t) or t < start:
        raise UserError(f"count time {format_unix_s(t)} is before the administration at "
                        f"{format_unix_s(start)}")
    check_not_future("count time", t, now_unix_s)
    check_within_half_lives("count time", t, start, case.nuclide)
    n, live, _ = check_count(counts, live_s, live_s)
    bg = _rate("background rate", background_cps)
    bg_sd = _rate("background sd", background_sd_cps)
    hours = (t - start) * H_PER_S if time_h is None else float(time_h)
    return RetentionRecord(case.case_id, t, hours, n, live, bg, bg_sd,
                           _label("a geometry id", geometry, True),
                           _label("an operator", operator, False), float(recorded_unix_s))


def check_new_point(record: RetentionRecord, existing: Iterable[RetentionRecord]) -> None:
    """UserError if the case already holds a point at the same time in the same geometry."""
    for old in existing:
        if old.geometry == record.geometry and old.measured_unix_s == record.measured_unix_s:
            raise UserError(f"case {record.case_id!r} already has retention point {old.point_id} "
                            f"at {old.time_h:g} h in geometry {old.geometry!r}")


def retention_from_row(row: dict[str, object]) -> RetentionRecord:
    """A RetentionRecord from a retention_points row."""
    values = {c: row[c] for c in RETENTION_COLUMNS}
    row_id = row["id"]
    if not isinstance(row_id, int):
        raise TypeError(f"retention point id {row_id!r} is not an integer")
    return RetentionRecord(**values, point_id=row_id,  # type: ignore[arg-type]
                           mac=str(row.get("mac") or ""))


def geometries(records: Sequence[RetentionRecord]) -> list[str]:
    """The geometry ids of the records, in order of first appearance."""
    return list(dict.fromkeys(r.geometry for r in records))


def select_geometry(records: Sequence[RetentionRecord],
                    geometry: str | None) -> list[RetentionRecord]:
    """The points of one geometry (a fit needs one): `geometry`, or the only one there is;
    UserError naming them when several are stored and none is chosen, or it has no points."""
    found = geometries(records)
    if geometry is None:
        if len(found) > 1:
            raise UserError(f"the case has points in {len(found)} geometries ("
                            f"{', '.join(found)}); choose one with --geometry")
        return list(records)
    chosen = [r for r in records if r.geometry == geometry]
    if not chosen:
        raise UserError(f"no retention point in geometry {geometry!r} (stored: "
                        f"{', '.join(found) or 'none'})")
    return chosen


__all__ = ["RetentionRecord", "background_from_count", "check_dosimetry_case",
           "check_new_point", "geometries", "new_retention_record", "retention_from_row",
           "select_geometry"]
