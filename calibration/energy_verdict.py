"""Whether the best peak-to-line assignment of an energy calibration can be trusted: refused
(AmbiguousCalibration) when a rival assignment that reads the peaks differently explains them
about as well, or when a calibration with no spare point leaves a photopeak unexplained.

Two points fit any two lines exactly, so a map proves itself only by the points beyond order + 1
that it also explains, and by the strong lines it does not leave unfound; a guess between maps
that do equally well is the wrong number shown as right that QC exists to prevent.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from probe_nav.calibration.energy_match import Assignment, photopeak_fwhm_ch
from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.peaks import Peak

if TYPE_CHECKING:
    from probe_nav.calibration.energy import EnergyCalibration

# A calibration whose points stray more than a quarter FWHM from it is inconsistent; two
# calibrations that differ by less at every found peak are the same reading of the spectrum.
CONSISTENT_FWHM = 0.25
# Evidence for an assignment: its points, less the photopeaks it leaves unexplained, less the
# yield it leaves unfound in units of a source's main line (the peak a source cannot fail to
# show). The best must lead its rival by a whole point's worth of it.
SCORE_MARGIN = 1.0
# An unexplained peak is a photopeak when its FWHM is within this factor of the photopeak FWHM
# the calibration's own peaks give at its energy (the found peaks' widths are rough: +-30 %).
UNEXPLAINED_WIDTH = 1.5
# ... and counts when at least half as significant as the weakest peak the calibration uses.
UNEXPLAINED_SIGNIFICANCE = 0.5

ELECTRON_REST_KEV = 510.99895
# A found peak within this share of the energy of a matched line's Compton edge or backscatter
# peak is that (the smoothed edge is found a little below the edge itself), if it is less
# significant than the line's own peak: scatter takes a share of the line's photons.
COMPTON_FEATURE = 0.15

# Sort key: (all points within CONSISTENT_FWHM, evidence = points - unexplained photopeaks -
# unfound yield, -sum (resid/FWHM)^2, points); the calibration; the assignment.
Key = tuple[bool, float, float, int]
Scored = tuple[Key, "EnergyCalibration", Assignment]


class AmbiguousCalibration(AnalysisError):
    """Two different peak-to-line assignments explain the spectrum about equally well: any
    calibration picked would be a guess, so none is given."""


def distinct(a: EnergyCalibration, b: EnergyCalibration, found: Sequence[Peak]) -> bool:
    """Whether two calibrations disagree on some found peak's energy by more than
    CONSISTENT_FWHM of its width (a map sharing its points with minor changes is the same map)."""
    for p in found:
        slope = a.kev_per_channel(p.channel)
        width_kev = photopeak_fwhm_ch(p) * slope
        if abs(float(a.to_kev(p.channel)) - float(b.to_kev(p.channel))) > \
                max(CONSISTENT_FWHM * width_kev, 0.5 * slope):
            return True
    return False


def clearly_better(best: Key, rival: Key, order: int) -> bool:
    """The best assignment (by its sort key) is clearly better than a distinct rival when the
    rival's points stray (and the best's do not), or when its evidence (points, less photopeaks
    left unexplained, less main-line yield left unfound) leads by SCORE_MARGIN."""
    (ok_a, score_a, _, _), (ok_b, score_b, _, _) = best, rival
    if ok_a != ok_b:
        return ok_a
    return score_a - score_b >= SCORE_MARGIN - 1e-9


def unexplained(cal: EnergyCalibration, assignment: Assignment, found: Sequence[Peak],
                first_channel: float) -> list[int]:
    """Found peaks a calibration leaves unexplained that look like photopeaks: at least
    UNEXPLAINED_SIGNIFICANCE as significant as its weakest matched peak, clear of the threshold
    edge, their width within UNEXPLAINED_WIDTH
    of a photopeak's at their energy (the matched peaks' FWHM scaled as sqrt(E)), and not the
    Compton edge or backscatter peak of a matched line (which takes a share of that line's
    counts, so is less significant than the line's own peak)."""
    used = {k for k, _ in assignment.pairs}
    if not cal.fwhm_ch or min(cal.energies_kev) <= 0:
        return []
    width_per_sqrt_kev = float(np.mean([w * cal.kev_per_channel(c) / math.sqrt(e) for w, c, e in
                                        zip(cal.fwhm_ch, cal.channels, cal.energies_kev,
                                            strict=True)]))
    features = [(f, found[k].significance) for k, g in assignment.pairs
                for e in g.energies_kev for f in _compton(e)]
    weakest = UNEXPLAINED_SIGNIFICANCE * min(found[k].significance for k in used)
    odd = []
    for k, p in enumerate(found):
        e = float(cal.to_kev(p.channel))
        if k in used or e <= 0 or p.significance < weakest or \
                p.channel - first_channel < p.fwhm_ch:
            continue
        ratio = photopeak_fwhm_ch(p) * cal.kev_per_channel(p.channel) / (
            width_per_sqrt_kev * math.sqrt(e))
        if not 1 / UNEXPLAINED_WIDTH <= ratio <= UNEXPLAINED_WIDTH:
            continue
        if any(abs(e - f) <= COMPTON_FEATURE * f and p.significance < parent
               for f, parent in features):
            continue
        odd.append(k)
    return odd


def _compton(energy_kev: float) -> tuple[float, float]:
    """Compton edge E 2a/(1+2a) and backscatter peak E/(1+2a) of a line, a = E/511 keV."""
    a = energy_kev / ELECTRON_REST_KEV
    return energy_kev * 2 * a / (1 + 2 * a), energy_kev / (1 + 2 * a)


def check_unexplained(cal: EnergyCalibration, assignment: Assignment, found: Sequence[Peak],
                      first_channel: float) -> None:
    """AmbiguousCalibration when a calibration with no spare point (any order + 1 peaks fit
    any order + 1 lines exactly) leaves a photopeak unexplained (`unexplained`): a line the
    sources given do not list, and the one it was taken for may be it (Ba-133's 302.9 keV for
    356.0 keV)."""
    odd = unexplained(cal, assignment, found, first_channel)
    if odd:
        where = ", ".join(f"channel {found[k].channel} ({float(cal.to_kev(found[k].channel)):.0f}"
                          " keV)" for k in odd)
        raise AmbiguousCalibration(
            f"unverified: the calibration rests on {len(cal.channels)} peaks only (matched to "
            f"{', '.join(f'{e:g}' for e in cal.energies_kev)} keV) and the photopeak(s) at "
            f"{where} match no line of the sources given, so a line may have been taken for "
            "another; no calibration stored: give all the sources in front of the probe "
            "(--nuclide) rather than --lines, or add a source with well-separated lines")


def rival_message(a: EnergyCalibration, b: EnergyCalibration, n_found: int,
                  order: int) -> str:
    """One line naming a peak the two calibrations read differently, and what to do."""
    channel, energy_b = max(zip(b.channels, b.energies_kev, strict=True),
                            key=lambda ce: abs(float(a.to_kev(ce[0])) - ce[1]))
    energy_a = float(a.to_kev(channel))
    return (f"ambiguous: the peak at channel {channel:.0f} could be {energy_a:.1f} keV "
            f"(gain {a.coefficients[1]:.4g} keV/channel, {len(a.channels)} peaks matched) or "
            f"{energy_b:g} keV (gain {b.coefficients[1]:.4g} keV/channel, {len(b.channels)} peaks "
            f"matched) among the {n_found} peaks found; no calibration stored: give all the "
            "sources in front of the probe (--nuclide), or add a source with well-separated "
            "lines, e.g. Am-241 + Cs-137" + (" (or --order 2 if the gain is not linear)"
                                             if order == 1 else ""))
