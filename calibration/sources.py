"""Certified sources: a nuclide's activity (with its 1 sd) on a reference date, decayed to any
date; and the photon lines of calibration sources for an energy calibration. Half-lives are
taken as exact (their relative uncertainty, ~1e-3 for the nuclides used here, is far below a
certificate's few per cent), so the sd decays with the activity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.nuclides import Nuclide, nuclide


@dataclass(frozen=True, slots=True)
class Activity:
    """An activity in MBq with its 1 sd, at a stated time."""

    mbq: float
    sd_mbq: float
    when: datetime


def elapsed_s(start: datetime, end: datetime) -> float:
    """Seconds from start to end; AnalysisError when one is time-zone aware and the other not."""
    if (start.tzinfo is None) != (end.tzinfo is None):
        raise AnalysisError(f"cannot compare a time-zone aware and a naive time "
                            f"({start.isoformat()} vs {end.isoformat()}); give both with a zone "
                            "or both without")
    return (end - start).total_seconds()


@dataclass(frozen=True, slots=True)
class CertifiedSource:
    """A source with a certified activity (1 sd) at a reference time, e.g. a Co-57 check source."""

    nuclide_name: str
    activity_mbq: float
    activity_sd_mbq: float
    reference: datetime
    serial: str = ""

    def __post_init__(self) -> None:
        nuclide(self.nuclide_name)  # UnknownNuclide names the known ones
        if not (self.activity_mbq > 0 and math.isfinite(self.activity_mbq)):
            raise AnalysisError(f"a certified activity must be > 0 MBq, got {self.activity_mbq}")
        if not (self.activity_sd_mbq >= 0 and math.isfinite(self.activity_sd_mbq)):
            raise AnalysisError(f"an activity sd must be >= 0 MBq, got {self.activity_sd_mbq}")

    @property
    def nuclide(self) -> Nuclide:
        """The source's nuclide data."""
        return nuclide(self.nuclide_name)

    def decay_factor(self, when: datetime) -> float:
        """A(when) / A(reference): 2 ** (-(when - reference) / T1/2)."""
        return math.exp2(-elapsed_s(self.reference, when) / self.nuclide.half_life_s)

    def activity_at(self, when: datetime) -> Activity:
        """The activity (MBq, 1 sd) at `when` (before or after the reference date)."""
        f = self.decay_factor(when)
        return Activity(self.activity_mbq * f, self.activity_sd_mbq * f, when)

    def mean_activity_over(self, start: datetime, duration_s: float) -> Activity:
        """Mean activity over a count of duration_s starting at `start`:
        A(start) (1 - exp(-lambda T)) / (lambda T), which matters for short-lived sources."""
        if not duration_s > 0:
            raise AnalysisError(f"a counting time must be > 0 s, got {duration_s}")
        a = self.activity_at(start)
        x = self.nuclide.decay_constant_per_s * duration_s
        mean = -math.expm1(-x) / x if x > 1e-12 else 1.0 - x / 2.0
        return Activity(a.mbq * mean, a.sd_mbq * mean, start)


def calibration_lines(names: Sequence[str]) -> tuple[list[float], list[float]]:
    """Every photon line (gammas and X-rays) of the named sources for an energy calibration:
    energies in keV and yields relative to each source's strongest line.

    All lines, because a peak of a line left out is taken for a listed one (Ba-133's 302.9 keV
    for 356.0 keV); relative per source, because the sources' activities are unknown, so only
    lines of one source can be weighed against each other (blends, a strong line unfound).
    UnknownNuclide names the known nuclides.
    """
    energies: list[float] = []
    yields: list[float] = []
    for name in dict.fromkeys(n.strip() for n in names):
        lines = nuclide(name).lines
        strongest = max(line.yield_per_decay for line in lines)
        energies += [line.energy_kev for line in lines]
        yields += [line.yield_per_decay / strongest for line in lines]
    return energies, yields
