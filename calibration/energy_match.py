"""Which found peak is which photon line: candidate channel -> keV maps from pairs of peaks and
pairs of lines (or blends of lines too close to resolve), kept only when physically plausible.

A map is plausible when its gain is positive, its channel-0 energy is small (ADC offsets are a
few keV), it keeps a main line of the sources on the recorded spectrum (MAIN_LINE_YIELD), and
every peak it explains is as narrow as a photopeak can be (FWHM <= 30 % of the
energy: CsI(Tl) is ~15-25 % at 140 keV; a Compton edge or a scatter hump is wider). Lines that
fall within 0.75 (smoothed) FWHM of the same peak are a blend: one calibration point at their
yield-weighted mean energy, with their spread as an extra uncertainty (Co-57's 122.1/136.5 keV
pair on a 1 keV/channel CdTe probe, I-125's 27.4/31.0 keV X-rays).

A weak line is only used when the strong lines near its energy were found too: under a map that
leaves a line WEAK_RATIO times stronger (within ENERGY_RATIO in energy, where the detector's
efficiency is similar) unfound, the weak line's peak is more likely something else (a Compton
edge, a backscatter peak, another line), and the weak line is not a calibration point.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from probe_nav.calibration.peaks import Peak

BLEND_FWHM = 0.75  # lines predicted within this many found-peak FWHM of it are one blend
MAX_FWHM_FRACTION = 0.30  # a photopeak wider than this share of its energy is not a photopeak
SMOOTHING_FWHM_CH = 2.355  # the [1,4,6,4,1]/16 filter is a Gaussian of sd 1 channel
MAX_BLEND_SPAN = 0.20  # lines are only ever blended when within 20 % of their mean energy
WEAK_RATIO = 3.0  # a line this many times weaker than an unfound neighbour is not used
ENERGY_RATIO = 1.5  # 'neighbour': within this factor in energy
# A source's main line: the strongest yield given (1 for each source's strongest line with
# calibration_lines' yields). A map that puts every main line outside the recorded channels reads
# the peaks as weak lines of sources whose main lines the spectrum cannot show: no technician
# calibrates with sources whose main lines are off the spectrum, so such a map is not plausible.
MAIN_LINE_YIELD = 1.0 - 1e-6


@dataclass(frozen=True, slots=True)
class LineGroup:
    """One photon line, or a blend of lines a peak cannot resolve, with their yields."""

    energies_kev: tuple[float, ...]
    yields: tuple[float, ...]

    @property
    def energy_kev(self) -> float:
        """Yield-weighted mean energy (where an unresolved blend's centroid sits)."""
        total = sum(self.yields)
        return sum(e * y for e, y in zip(self.energies_kev, self.yields, strict=True)) / total

    @property
    def spread_kev(self) -> float:
        """Yield-weighted sd of the energies (0 for a single line)."""
        mean, total = self.energy_kev, sum(self.yields)
        return math.sqrt(sum(y * (e - mean) ** 2 for e, y in
                             zip(self.energies_kev, self.yields, strict=True)) / total)

    def label(self) -> str:
        """'122.1' or '122.1+136.5' keV."""
        return "+".join(f"{e:g}" for e in self.energies_kev)


@dataclass(frozen=True, slots=True)
class Assignment:
    """Found peaks (by index) matched to line groups by one candidate map, and its cost."""

    pairs: tuple[tuple[int, LineGroup], ...]
    slope_kev_per_ch: float
    offset_kev: float
    cost: float  # sum of |miss| / tolerance over the matched peaks
    missing: float  # yields (relative to the strongest line) of lines above the threshold
    # (in range or beyond the spectrum's top) but not found

    @property
    def size(self) -> int:
        """Number of calibration points."""
        return len(self.pairs)


def _anchors(lines: Sequence[tuple[float, float]]) -> list[LineGroup]:
    """Single lines and runs of neighbouring lines close enough to blend."""
    out = [LineGroup((e,), (y,)) for e, y in lines]
    for n in (2, 3):
        for i in range(len(lines) - n + 1):
            run = lines[i:i + n]
            mean = sum(e for e, _ in run) / n
            if run[-1][0] - run[0][0] <= MAX_BLEND_SPAN * mean:
                out.append(LineGroup(tuple(e for e, _ in run), tuple(y for _, y in run)))
    return out


def photopeak_fwhm_ch(peak: Peak) -> float:
    """A found peak's FWHM with the smoothing filter's width taken out."""
    return math.sqrt(max(peak.fwhm_ch**2 - SMOOTHING_FWHM_CH**2, 1.0))


@dataclass(frozen=True, slots=True)
class PolyMap:
    """A channel -> keV map keV = sum(coefficients[i] * channel**i), linear or quadratic."""

    coefficients: tuple[float, ...]

    def kev(self, channel: float) -> float:
        """Energy at a channel coordinate."""
        return sum(c * channel**i for i, c in enumerate(self.coefficients))

    def slope(self, channel: float) -> float:
        """dE/dx at a channel."""
        c = self.coefficients
        return c[1] + (2.0 * c[2] * channel if len(c) > 2 else 0.0)

    def channel(self, energy_kev: float) -> float:
        """Channel of an energy on the map's rising branch (inf beyond the top of a quadratic)."""
        c = self.coefficients
        if len(c) == 2 or c[2] == 0.0:
            return (energy_kev - c[0]) / c[1]
        disc = c[1] ** 2 - 4.0 * c[2] * (c[0] - energy_kev)
        if disc < 0:
            return math.inf
        return 2.0 * (energy_kev - c[0]) / (c[1] + math.sqrt(disc))


def _evaluate(found: Sequence[Peak], lines: Sequence[tuple[float, float]], slope: float,
              offset: float, tolerance_kev: float | None,
              channel_range: tuple[float, float]) -> Assignment | None:
    """Match every line to its nearest peak under a linear map; None if implausible."""
    return evaluate_map(found, lines, PolyMap((offset, slope)), tolerance_kev, channel_range)


def evaluate_map(found: Sequence[Peak], lines: Sequence[tuple[float, float]], cmap: PolyMap,
                 tolerance_kev: float | None,
                 channel_range: tuple[float, float]) -> Assignment | None:
    """Match every line to its nearest peak under one map; None if no matched peak is
    plausible, or if the map puts every main line (the strongest yield given: each source's
    strongest line with calibration_lines' yields) outside the recorded channels."""
    by_peak: dict[int, list[tuple[float, float]]] = {}
    strongest = max(y for _, y in lines)
    if not any(channel_range[0] <= cmap.channel(e) <= channel_range[1]
               for e, y in lines if y >= MAIN_LINE_YIELD * strongest):
        return None  # the spectrum would show none of the sources' main lines
    missing = 0.0
    for e, y in lines:
        predicted = cmap.channel(e)
        if predicted < channel_range[0]:
            continue  # under the threshold: not seen
        missing += y / strongest  # taken back below when the line is matched
        if predicted > channel_range[1]:
            continue  # beyond the spectrum: a source whose lines a map puts there is unseen
        k = min(range(len(found)), key=lambda i: abs(found[i].channel - predicted))
        reach = max(BLEND_FWHM * found[k].fwhm_ch, 3.0)
        if abs(found[k].channel - predicted) <= reach:
            by_peak.setdefault(k, []).append((e, y))
    pairs: list[tuple[int, LineGroup]] = []
    costs: list[float] = []
    for k, members in sorted(by_peak.items()):
        group = LineGroup(tuple(e for e, _ in members), tuple(y for _, y in members))
        e = group.energy_kev
        slope = cmap.slope(found[k].channel)
        tol = tolerance_kev if tolerance_kev is not None else max(3.0 * slope, 0.03 * e)
        tol += group.spread_kev
        miss = abs(cmap.kev(found[k].channel) - e)
        if miss > tol:
            continue
        width_kev = photopeak_fwhm_ch(found[k]) * slope
        if width_kev > MAX_FWHM_FRACTION * e + 2.355 * group.spread_kev:
            continue
        pairs.append((k, group))
        costs.append(miss / tol)
        missing -= sum(group.yields) / strongest
    pairs, cost, missing = _drop_weak(pairs, costs, lines, cmap, channel_range, missing,
                                      strongest)
    if not pairs:
        return None
    middle = sum(found[k].channel for k, _ in pairs) / len(pairs)
    return Assignment(tuple(pairs), cmap.slope(middle), cmap.coefficients[0], cost,
                      max(missing, 0.0))


def _drop_weak(pairs: list[tuple[int, LineGroup]], costs: list[float],
               lines: Sequence[tuple[float, float]], cmap: PolyMap,
               channel_range: tuple[float, float], missing: float, strongest: float
               ) -> tuple[list[tuple[int, LineGroup]], float, float]:
    """Drop matched groups whose lines are WEAK_RATIO times weaker than an unfound line in range
    within ENERGY_RATIO of their energy; the pairs kept, their cost and the missing yield."""
    used = {e for _, g in pairs for e in g.energies_kev}
    unfound = [(e, y) for e, y in lines if e not in used
               and channel_range[0] <= cmap.channel(e) <= channel_range[1]]
    kept, cost = [], 0.0
    for pair, c in zip(pairs, costs, strict=True):
        group = pair[1]
        e, total = group.energy_kev, sum(group.yields)
        if any(y >= WEAK_RATIO * total and 1 / ENERGY_RATIO <= u / e <= ENERGY_RATIO
               for u, y in unfound):
            missing += total / strongest
            continue
        kept.append(pair)
        cost += c
    return kept, cost, missing


def candidate_assignments(found: Sequence[Peak], lines: Sequence[tuple[float, float]],
                          max_offset_kev: float, channel_range: tuple[float, float],
                          tolerance_kev: float | None = None,
                          keep: int = 24) -> list[Assignment]:
    """Plausible peak-to-line assignments, most points (then fewest strong lines in range left
    unfound, then lowest cost) first; at most `keep`.

    `lines` are (energy_kev, yield) pairs; yields weight blends and the unfound lines; the
    channel range is where the spectrum has data.
    """
    lines = sorted((float(e), float(y)) for e, y in lines)
    anchors = _anchors(lines)
    seen: dict[tuple, Assignment] = {}
    for i, j in combinations(range(len(found)), 2):
        for a, b in combinations(anchors, 2):
            lo, hi = (a, b) if a.energy_kev < b.energy_kev else (b, a)
            if max(lo.energies_kev) >= min(hi.energies_kev):
                continue  # overlapping groups: not two different peaks
            slope = (hi.energy_kev - lo.energy_kev) / (found[j].channel - found[i].channel)
            offset = lo.energy_kev - slope * found[i].channel
            if slope <= 0 or abs(offset) > max_offset_kev:
                continue
            got = _evaluate(found, lines, slope, offset, tolerance_kev, channel_range)
            if got is None or got.size < 2:
                continue
            key = tuple((k, g.energies_kev) for k, g in got.pairs)
            if key not in seen or got.cost < seen[key].cost:
                seen[key] = got
    ranked = sorted(seen.values(), key=lambda s: (-s.size, round(s.missing, 6), s.cost))
    return ranked[:keep]
