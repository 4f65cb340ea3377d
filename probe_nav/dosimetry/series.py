"""A retention series: fixed-geometry counts of a patient (or phantom) at times after
administration, each with its live time and background, checked before any fit."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass


class SeriesError(ValueError):
    """A retention series that cannot be fitted (the message is one line)."""


@dataclass(frozen=True)
class RetentionPoint:
    """One measurement: `counts` in `live_s` at `time_h` hours after administration, with the
    background rate in the same window and geometry (and its 1 sd)."""

    time_h: float
    counts: int
    live_s: float
    background_cps: float = 0.0
    background_sd_cps: float = 0.0
    geometry: str = ""

    @property
    def net_cps(self) -> float:
        """Gross rate minus background (may be negative for a noisy point near background)."""
        return self.counts / self.live_s - self.background_cps

    @property
    def net_sd_cps(self) -> float:
        """1 sd of the net rate from the counts (Poisson: sqrt(N)/live) and the background sd."""
        return math.sqrt(self.counts / self.live_s**2 + self.background_sd_cps**2)


def check_series(points: Sequence[RetentionPoint]) -> None:
    """Raise SeriesError (one line) unless `points` can be fitted: at least 3 points, times >= 0
    and strictly increasing, one geometry id, counts >= 0 integers, live_s > 0, finite
    backgrounds >= 0."""
    if len(points) < 3:
        raise SeriesError(f"a retention fit needs at least 3 points, got {len(points)}")
    geometries = sorted({p.geometry for p in points})
    if len(geometries) > 1:
        raise SeriesError(f"mixed geometry ids {geometries}: a series is one fixed geometry")
    for i, p in enumerate(points, start=1):
        _check_point(i, p)
    for i, (a, b) in enumerate(itertools.pairwise(points), start=2):
        if not b.time_h > a.time_h:
            raise SeriesError(f"point {i}: times must increase, got {b.time_h:g} h after "
                              f"{a.time_h:g} h")


def _check_point(i: int, p: RetentionPoint) -> None:
    """One point's values (numbered from 1 in the message)."""
    if isinstance(p.counts, bool) or not isinstance(p.counts, int):
        raise SeriesError(f"point {i}: counts must be an integer, got {p.counts!r}")
    if p.counts < 0:
        raise SeriesError(f"point {i}: counts must be >= 0, got {p.counts}")
    values = {"time_h": p.time_h, "live_s": p.live_s, "background_cps": p.background_cps,
              "background_sd_cps": p.background_sd_cps}
    for name, value in values.items():
        try:
            finite = math.isfinite(value)
        except TypeError:  # a string or None from an untyped caller
            finite = False
        if not finite:
            raise SeriesError(f"point {i}: {name} must be a finite number, got {value!r}")
    if p.time_h < 0:
        raise SeriesError(f"point {i}: time_h must be >= 0 (hours after administration), "
                          f"got {p.time_h:g}")
    if p.live_s <= 0:
        raise SeriesError(f"point {i}: live_s must be > 0, got {p.live_s:g}")
    if p.background_cps < 0 or p.background_sd_cps < 0:
        raise SeriesError(f"point {i}: background_cps and background_sd_cps must be >= 0")
