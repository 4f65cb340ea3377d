"""Axis ticks for report charts: round numbers on a value axis, calendar steps on a date axis.
Pure Python (no Qt), so the choices are tested on their own."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


def nice_ticks(lo: float, hi: float, target: int = 6) -> list[float]:
    """Round tick values (1, 2, 5 x 10^k steps) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return []
    if hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(target, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    return [round(k * step, 12) for k in range(first, math.floor(hi / step + 1e-9) + 1)]


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2, 2.5, 5 x 10^k at or above value (> 0): the end of a value axis."""
    if not (value > 0 and math.isfinite(value)):
        return 1.0
    mag = 10 ** math.floor(math.log10(value))
    return next(m * mag for m in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10)
                if m * mag >= value * (1 - 1e-12))


def tick_labels(ticks: list[float], fixed: Callable[[float, int], str]) -> list[str]:
    """Tick texts with the decimals of the step between ticks (0.9, 1.0, 1.1 - not 0.900,
    1.00, 1.10); `fixed` formats a value with a number of decimals."""
    if len(ticks) < 2:
        return [fixed(t, 0 if t == int(t) else 2) for t in ticks]
    step = min(b - a for a, b in itertools.pairwise(ticks))
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    if any(abs(round(t, decimals) - t) > 1e-9 * max(1.0, abs(t)) for t in ticks):
        decimals += 1  # steps of 2.5, 0.25 ...
    return [fixed(t, decimals) for t in ticks]


@dataclass(frozen=True)
class DateStep:
    """One candidate spacing of date ticks and how its labels are written."""

    seconds: float  # nominal length (months: 30.44 days) for choosing the step
    months: int  # > 0: calendar months (ticks on the 1st), else fixed seconds
    label: str  # strftime format of the tick labels


_MIN, _HOUR, _DAY = 60.0, 3600.0, 86400.0
DATE_STEPS: tuple[DateStep, ...] = (
    *(DateStep(s, 0, "%H:%M:%S") for s in (1, 2, 5, 10, 15, 30)),
    *(DateStep(m * _MIN, 0, "%H:%M") for m in (1, 2, 5, 10, 15, 30)),
    *(DateStep(h * _HOUR, 0, "%m-%d %H:%M") for h in (1, 2, 3, 6, 12)),
    *(DateStep(d * _DAY, 0, "%Y-%m-%d") for d in (1, 2, 7, 14)),
    *(DateStep(m * 30.44 * _DAY, m, "%Y-%m") for m in (1, 2, 3, 6, 12, 24, 60, 120)),
)


def _add_months(when: datetime, months: int) -> datetime:
    index = when.year * 12 + when.month - 1 + months
    return when.replace(year=index // 12, month=index % 12 + 1)


def date_ticks(start: datetime, end: datetime, max_ticks: int,
               min_step_s: float = 0.0) -> tuple[list[datetime], DateStep]:
    """Tick times (UTC) in [start, end] on the finest calendar step of at least min_step_s
    giving at most max_ticks ticks (at least 2 where the span allows), and that step (its
    label format)."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    span = max((end - start).total_seconds(), 1.0)
    max_ticks = max(max_ticks, 2)
    step = next((s for s in DATE_STEPS if span / s.seconds <= max_ticks - 1 and
                 s.seconds >= min_step_s), DATE_STEPS[-1])
    ticks: list[datetime] = []
    if step.months:
        first = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        index = first.year * 12 + first.month - 1
        first = _add_months(first, (-index) % step.months)  # months divisible by the step
        t = first
        while t <= end:
            if t >= start:
                ticks.append(t)
            t = _add_months(t, step.months)
        return ticks, step
    day = start.replace(hour=0, minute=0, second=0, microsecond=0)
    offset = (start - day).total_seconds()
    k = math.ceil(offset / step.seconds - 1e-9)
    t = day + timedelta(seconds=k * step.seconds)
    if step.seconds >= 7 * _DAY:  # weeks from a Monday
        t = day - timedelta(days=day.weekday())
        while t < start:
            t += timedelta(seconds=step.seconds)
    while t <= end:
        ticks.append(t)
        t += timedelta(seconds=step.seconds)
    return ticks, step
