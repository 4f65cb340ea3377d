"""Measuring crosstalk between energy windows: spill fractions from single-isotope counts.

A source of one isotope whose own window is s is counted in every window w (n_w counts in live
time L), and the background without it (b_w counts in L_b). The spill into window t is

    f(s -> t) = A / B,   A = n_t / L - b_t / L_b,   B = n_s / L - b_s / L_b

(the live times take out dead time: the counter loses the same share of every window's pulses).
Its 1 sd is the delta method's with the four counts Poisson and independent (disjoint windows
split one Poisson stream into independent ones): var A = n_t / L^2 + b_t / L_b^2, likewise B,
var f = (var A + f^2 var B) / B^2. A count of 0 is given variance 1 (about its 68 % upper limit,
1.84), so a window that saw nothing still carries an uncertainty rather than an exact 0.
Several measurements of one pair combine by inverse-variance weighting. The source's own net
rate must be at least MIN_SIGNIFICANCE sd above zero: below, B's relative sd exceeds 20 % and
the first-order sd no longer describes the ratio (NotSignificant; nothing is kept).

Pure maths: no I/O. The spill value objects are probe_nav.calibration.crosstalk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from probe_nav.calibration.crosstalk import MAX_SPILL_FRACTION, Spill, SpillMatrix
from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.nuclides import nuclide
from probe_nav.drivers.frames import EnergyWindow

MIN_SIGNIFICANCE = 5.0  # own-window net rate / its sd below which a source is refused
NEGATIVE_NOTE_SD = 3.0  # a spill this many sd below zero: the background count is suspect


class NotSignificant(AnalysisError):
    """The source's own window does not show it clearly enough to scale the spills by."""


@dataclass(frozen=True, slots=True)
class SourceSpills:
    """What one single-isotope count gives: its own window's net rate and the spill into every
    other window (`spills`, fractions clipped at 0 for the matrix; `raw_fractions` unclipped, one
    per target in `targets`), with notes for the record."""

    source: int
    net_cps: float
    net_sd_cps: float
    targets: tuple[int, ...]
    raw_fractions: tuple[float, ...]
    spills: tuple[Spill, ...]
    notes: tuple[str, ...] = ()


def own_window(windows: Sequence[EnergyWindow], nuclide_name: str) -> int:
    """The window named after the nuclide, else the one holding its main line; ValueError if
    none does."""
    for i, w in enumerate(windows):
        if w.name == nuclide_name:
            return i
    kev = nuclide(nuclide_name).main_line.energy_kev
    for i, w in enumerate(windows):
        if w.lo_kev <= kev < w.hi_kev:
            return i
    raise ValueError(f"no window is {nuclide_name}'s (none is named so or holds its "
                     f"{kev:g} keV line)")


def _variance(count: float) -> float:
    """Poisson variance of a count, 0 counted as 1 (see the module docstring)."""
    return max(float(count), 1.0)


def net_rate(counts: float, live_s: float, background_counts: float,
             background_live_s: float) -> tuple[float, float]:
    """(net rate, its 1 sd) in cps of one window: counts / live - background / background live."""
    rate = float(counts) / live_s - float(background_counts) / background_live_s
    var = _variance(counts) / live_s**2 + _variance(background_counts) / background_live_s**2
    return float(rate), math.sqrt(var)


def spill_fraction(source_counts: float, target_counts: float, live_s: float,
                   source_background: float, target_background: float,
                   background_live_s: float) -> tuple[float, float]:
    """(f, sd) of f(s -> t) = net_t / net_s by the delta method; f may come out below 0 (noise
    about a zero spill). AnalysisError when the source's net rate is not above 0."""
    a, sd_a = net_rate(target_counts, live_s, target_background, background_live_s)
    b, sd_b = net_rate(source_counts, live_s, source_background, background_live_s)
    if not b > 0:
        raise NotSignificant(f"the source's own window has no net counts ({b:.4g} cps)")
    f = a / b
    return f, float(math.sqrt(sd_a**2 + f**2 * sd_b**2) / b)


def _check_counts(name: str, counts: Sequence[float], live_s: float,
                  may_be_infinite: bool = False) -> None:
    if not ((math.isfinite(live_s) or may_be_infinite) and live_s > 0):
        raise AnalysisError(f"{name}: live time must be above 0 s, got {live_s!r}")
    for w, c in enumerate(counts):
        if not (math.isfinite(c) and c >= 0):
            raise AnalysisError(f"{name}: window {w} count must be a number >= 0, got {c!r}")


def measure_spills(source_window: int, counts: Sequence[float], live_s: float,
                   background_counts: Sequence[float], background_live_s: float,
                   label: str = "") -> SourceSpills:
    """The spills of a single-isotope count of the isotope of `source_window` into every other
    window (background_live_s = inf: no background count, nothing subtracted). NotSignificant
    (nothing to keep) when its own net rate is below MIN_SIGNIFICANCE sd; AnalysisError for
    mismatched or impossible counts."""
    what = label or f"the window-{source_window} source"
    if len(counts) != len(background_counts):
        raise AnalysisError(f"{what}: {len(counts)} window counts but {len(background_counts)} "
                            "background counts")
    if not 0 <= source_window < len(counts):
        raise AnalysisError(f"{what}: its window {source_window} is not among the "
                            f"{len(counts)} counted")
    _check_counts(what, counts, live_s)
    _check_counts(f"{what} background", background_counts, background_live_s, True)
    s = source_window
    net, net_sd = net_rate(counts[s], live_s, background_counts[s], background_live_s)
    if not net >= MIN_SIGNIFICANCE * net_sd:
        raise NotSignificant(
            f"{what}: its own window {s} shows {net:.4g} +- {net_sd:.3g} cps net of background "
            f"({net / net_sd:.1f} sd, need {MIN_SIGNIFICANCE:g}): count longer or with a "
            "stronger source")
    targets = tuple(t for t in range(len(counts)) if t != s)
    raw, spills, notes = [], [], []
    for t in targets:
        f, sd = spill_fraction(counts[s], counts[t], live_s, background_counts[s],
                               background_counts[t], background_live_s)
        raw.append(f)
        if f < -NEGATIVE_NOTE_SD * sd:
            notes.append(f"{what}: spill {s}:{t} is {f:.4g} +- {sd:.2g}, below zero by more "
                         f"than {NEGATIVE_NOTE_SD:g} sd: was the background counted like the "
                         "source?")
        if f > MAX_SPILL_FRACTION:
            raise AnalysisError(f"{what}: spill {s}:{t} = {f:.4g} is above "
                                f"{MAX_SPILL_FRACTION:g}: is window {s} really this isotope's?")
        spills.append(Spill(s, t, max(f, 0.0), min(sd, MAX_SPILL_FRACTION)))
    return SourceSpills(s, net, net_sd, targets, tuple(raw), tuple(spills), tuple(notes))


def combine(spills: Iterable[Spill]) -> Spill:
    """Inverse-variance weighted mean of several measurements of one pair (sd 1/sqrt(sum w)).
    AnalysisError for none, mixed pairs, or an sd of 0 (an entered value, not a measurement)."""
    items = list(spills)
    if not items:
        raise AnalysisError("no spill measurements to combine")
    pair = (items[0].source, items[0].target)
    if any((s.source, s.target) != pair for s in items):
        raise AnalysisError(f"cannot combine spills of different pairs with {pair[0]}:{pair[1]}")
    if len(items) == 1:
        return items[0]
    if any(s.sd <= 0 for s in items):
        raise AnalysisError(f"spill {pair[0]}:{pair[1]}: a measurement without an sd cannot be "
                            "weighted")
    weights = [1.0 / s.sd**2 for s in items]
    total = sum(weights)
    mean = sum(w * s.fraction for w, s in zip(weights, items, strict=True)) / total
    return Spill(pair[0], pair[1], mean, math.sqrt(1.0 / total))


def spill_matrix(measured: Iterable[SourceSpills], n_windows: int) -> SpillMatrix:
    """The matrix of every pair measured, repeated pairs combined (combine)."""
    by_pair: dict[tuple[int, int], list[Spill]] = {}
    for m in measured:
        for s in m.spills:
            by_pair.setdefault((s.source, s.target), []).append(s)
    return SpillMatrix(n_windows, tuple(combine(v) for _, v in sorted(by_pair.items())))
