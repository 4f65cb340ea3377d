"""Energy calibration of a spectrum: channel -> keV (linear or quadratic) from fitted photopeaks
of known energy, energy resolution at a photopeak, and energy windows per nuclide.

Peak finding and fitting live in probe_nav.calibration.peaks (re-exported here). The
calibration is a weighted least-squares polynomial E(x) = c0 + c1 x + c2 x^2 through
(centroid, energy) pairs; a centroid's sd in channels becomes an sd in keV through the local
slope (effective variance), so chi2/dof near 1 means the residuals are what the centroid
uncertainties allow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from probe_nav.calibration.energy_match import (
    Assignment,
    PolyMap,
    candidate_assignments,
    evaluate_map,
    photopeak_fwhm_ch,
)
from probe_nav.calibration.energy_verdict import (
    CONSISTENT_FWHM,
    AmbiguousCalibration,
    Key,
    Scored,
    check_unexplained,
    clearly_better,
    distinct,
    rival_message,
    unexplained,
)
from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.nuclides import nuclide
from probe_nav.calibration.peaks import Peak, PeakFit, as_spectrum, find_peaks, fit_peak
from probe_nav.drivers.frames import EnergyWindow

# A channel-0 energy beyond max(20 keV, 5 % of the top line) means peaks were matched to the wrong
# lines (ADC offsets are a few keV). 15 % (before issue 16) let a map put a source's X-rays under
# the threshold, where they are excused from being found (Ba-133's 81 keV read at 31 keV's peak).
MAX_OFFSET_KEV = 20.0
MAX_OFFSET_FRACTION = 0.05

__all__ = [
    "AmbiguousCalibration", "CalibratedWindow", "EnergyCalibration", "EnergyResolution", "Peak",
    "PeakFit", "auto_calibrate", "calibrate_energy", "energy_resolution", "find_peaks", "fit_peak",
    "window_for",
]


@dataclass(frozen=True, slots=True)
class EnergyCalibration:
    """keV = sum(coefficients[i] * channel**i), with covariance and fit statistics."""

    coefficients: tuple[float, ...]
    covariance: tuple[tuple[float, ...], ...]
    chi2_dof: float | None  # None when there are no spare degrees of freedom
    residuals_kev: tuple[float, ...]  # measured-minus-fitted energy per calibration point
    channels: tuple[float, ...] = ()
    energies_kev: tuple[float, ...] = ()
    fwhm_ch: tuple[float, ...] = ()  # fitted FWHM of each calibration peak (auto_calibrate)

    @property
    def order(self) -> int:
        """1 (linear) or 2 (quadratic)."""
        return len(self.coefficients) - 1

    @property
    def coefficients_sd(self) -> tuple[float, ...]:
        """1 sd of each coefficient."""
        return tuple(math.sqrt(max(self.covariance[i][i], 0.0))
                     for i in range(len(self.coefficients)))

    def to_kev(self, channel: float | np.ndarray) -> float | np.ndarray:
        """Energy in keV at a channel coordinate (bin i's centre is channel i)."""
        x = np.asarray(channel, dtype=float)
        out = np.polynomial.polynomial.polyval(x, self.coefficients)
        return float(out) if out.ndim == 0 else out

    def kev_per_channel(self, channel: float) -> float:
        """Slope dE/dx at a channel."""
        c = self.coefficients
        return c[1] + (2.0 * c[2] * channel if len(c) > 2 else 0.0)

    def kev_sd(self, channel: float) -> float:
        """1 sd of the calibrated energy at a channel (from the coefficient covariance)."""
        basis = np.array([channel**i for i in range(len(self.coefficients))])
        return float(math.sqrt(max(basis @ np.asarray(self.covariance) @ basis, 0.0)))

    def to_channel(self, energy_kev: float) -> float:
        """Channel coordinate of an energy (the root on the rising branch of the calibration)."""
        c = self.coefficients
        if len(c) == 2 or c[2] == 0.0:
            return (energy_kev - c[0]) / c[1]
        disc = c[1] ** 2 - 4.0 * c[2] * (c[0] - energy_kev)
        if disc < 0:
            raise AnalysisError(f"{energy_kev} keV is beyond the range of this quadratic "
                                "calibration")
        # Numerically stable root with dE/dx = sqrt(disc) > 0.
        return 2.0 * (energy_kev - c[0]) / (c[1] + math.sqrt(disc))


def calibrate_energy(peaks: Sequence[tuple[float, float, float]],
                     order: int = 1) -> EnergyCalibration:
    """Fit keV against channel through (centroid_ch, centroid_sd_ch, energy_kev) triples."""
    if order not in (1, 2):
        raise AnalysisError(f"calibration order must be 1 (linear) or 2 (quadratic), got {order}")
    points = np.asarray(peaks, dtype=float)
    if points.ndim != 2 or points.shape[1] != 3:
        raise AnalysisError("calibration points must be (channel, channel_sd, energy_kev)")
    if len(points) < order + 1:
        raise AnalysisError(f"a calibration of order {order} needs at least {order + 1} peaks, "
                            f"got {len(points)}")
    x, x_sd, e = points.T
    if not np.all(np.isfinite(points)) or np.any(x_sd < 0):
        raise AnalysisError("calibration points must be finite with sd >= 0")
    if len(np.unique(np.round(x, 6))) < order + 1 or len(np.unique(e)) < order + 1:
        raise AnalysisError(f"a calibration of order {order} needs {order + 1} distinct peaks")
    design = np.vander(x, order + 1, increasing=True)
    coef = np.linalg.lstsq(design, e, rcond=None)[0]
    floor = 1e-6 * max(np.ptp(x), 1.0)  # keep weights finite when a sd is 0
    for _ in range(3):  # effective variance: sd_E = slope * sd_x, slope from the last fit
        slope = np.polynomial.polynomial.polyval(x, np.polynomial.polynomial.polyder(coef))
        sd_e = np.abs(slope) * np.maximum(x_sd, floor)
        w = 1.0 / sd_e**2
        normal = design.T @ (design * w[:, None])
        try:
            cov = np.linalg.inv(normal)
        except np.linalg.LinAlgError:
            raise AnalysisError("calibration points are degenerate") from None
        coef = cov @ (design.T @ (w * e))
    resid = e - design @ coef
    dof = len(x) - (order + 1)
    chi2_dof = float((resid**2 * w).sum() / dof) if dof > 0 else None
    slope = np.polynomial.polynomial.polyval(x, np.polynomial.polynomial.polyder(coef))
    if np.any(slope <= 0):
        raise AnalysisError("the fitted calibration is not rising over the peaks: check that "
                            "the energies belong to the channels given")
    return EnergyCalibration(tuple(float(c) for c in coef),
                             tuple(tuple(float(v) for v in row) for row in cov),
                             chi2_dof, tuple(float(r) for r in resid),
                             tuple(float(v) for v in x), tuple(float(v) for v in e))


def auto_calibrate(spectrum: Sequence[float] | np.ndarray, energies_kev: Sequence[float],
                   order: int = 1, tolerance_kev: float | None = None,
                   yields: Sequence[float] | None = None,
                   max_offset_kev: float | None = None) -> EnergyCalibration:
    """Find peaks, match them to known line energies, fit each matched peak and calibrate.

    Pairs of found peaks and pairs of lines (or unresolved blends, weighted by `yields`) propose
    linear maps; only maps with a positive gain, a channel-0 energy within max_offset_kev
    (default max(20 keV, 5 % of the top line)) and photopeak-narrow peaks count
    (probe_nav.calibration.energy_match); with order 2 each fitted quadratic re-reads the peaks
    (a strong non-linearity moves the top line beyond a straight line's reach). The best few
    assignments are fitted and the one whose
    calibration explains its points to within a quarter FWHM with the most evidence (points,
    less photopeaks left unexplained and main-line yield left unfound) wins, but only when it is
    clearly better than the best assignment that reads the peaks differently, and, with no spare
    point, explains every photopeak: otherwise AmbiguousCalibration (two points fit any two
    lines exactly; probe_nav.calibration.energy_verdict). Give every line of the sources
    (probe_nav.calibration.sources.calibration_lines): a peak of an unlisted line is otherwise
    matched to a listed one.
    """
    y = as_spectrum(spectrum)
    energies = [float(e) for e in energies_kev]
    weights = [1.0] * len(energies) if yields is None else [float(v) for v in yields]
    if len(weights) != len(energies) or any(not w > 0 for w in weights):
        raise AnalysisError("give one yield > 0 per line energy")
    if len({round(e, 6) for e in energies}) < order + 1:
        raise AnalysisError(f"need at least {order + 1} known energies for order {order}")
    limit = max_offset_kev if max_offset_kev is not None else \
        max(MAX_OFFSET_KEV, MAX_OFFSET_FRACTION * max(energies))
    found = find_peaks(y)
    if len(found) < 2:
        raise AnalysisError(f"found {len(found)} peak(s) in the spectrum; a calibration needs "
                            "at least 2: count longer or check the source")
    nonzero = np.flatnonzero(y)
    candidates = candidate_assignments(found, list(zip(energies, weights, strict=True)), limit,
                                       (float(nonzero[0]), len(y) - 1.0), tolerance_kev)
    if not candidates:
        raise AnalysisError(
            f"the {len(found)} peaks found (channels "
            f"{', '.join(str(p.channel) for p in found)}) match at most one of the lines "
            f"{', '.join(f'{e:g}' for e in sorted(energies))} keV with a plausible gain and "
            "offset (lines closer than the resolution merge into one peak); a calibration needs "
            "two well-separated lines, e.g. Am-241 59.5 + Co-57 122.1 + Cs-137 661.7 keV")
    failures: list[str] = []
    scored = _score(y, found, candidates, order, limit, failures)
    if order == 2:  # the candidates are linear maps: let each quadratic pick up the peaks it fits
        lines = list(zip(energies, weights, strict=True))
        refined = [evaluate_map(found, lines, PolyMap(cal.coefficients), tolerance_kev,
                                (float(nonzero[0]), len(y) - 1.0)) for _, cal, _ in scored]
        known = {_key(c) for _, _, c in scored}
        scored += _score(y, found, [c for c in dict.fromkeys(refined)
                                    if c is not None and _key(c) not in known],
                         order, limit, failures)
    if not scored:
        raise AnalysisError("too few of the matched peaks could be fitted: "
                            + "; ".join(dict.fromkeys(failures)))
    scored.sort(key=lambda s: s[0], reverse=True)
    best = scored[0]
    for rival in scored[1:]:
        if distinct(best[1], rival[1], found):
            if not clearly_better(best[0], rival[0], order):
                raise AmbiguousCalibration(rival_message(best[1], rival[1], len(found), order))
            break  # the rivals are sorted: the first distinct one is the strongest
    if len(best[1].channels) == order + 1:
        check_unexplained(best[1], best[2], found, float(nonzero[0]))
    return best[1]


def _score(y: np.ndarray, found: Sequence[Peak], candidates: Sequence[Assignment], order: int,
           limit_kev: float, failures: list[str]) -> list[Scored]:
    """Fit each candidate assignment and score it (_consistency); channel-0 energies beyond
    limit_kev are dropped."""
    scored: list[Scored] = []
    fits: dict[int, PeakFit | AnalysisError] = {}  # each found peak is fitted once
    first = float(np.flatnonzero(y)[0])
    for candidate in candidates:
        cal = _fit_assignment(y, found, candidate, order, failures, fits)
        if cal is None or abs(cal.coefficients[0]) > limit_kev:
            continue
        odd = unexplained(cal, candidate, found, first)
        scored.append((_consistency(cal, candidate, len(odd)), cal, candidate))
    return scored


def _key(candidate: Assignment) -> tuple[tuple[int, tuple[float, ...]], ...]:
    """Which peak is read as which line (or blend)."""
    return tuple((k, g.energies_kev) for k, g in candidate.pairs)


def _fit_assignment(y: np.ndarray, found: Sequence[Peak], candidate: Assignment, order: int,
                    failures: list[str], fits: dict[int, PeakFit | AnalysisError]
                    ) -> EnergyCalibration | None:
    """Fit every peak of an assignment and calibrate (None if too few fits succeed)."""
    points, widths = [], []
    for k, group in candidate.pairs:
        if k not in fits:
            try:
                fits[k] = _fit_found(y, found[k])
            except AnalysisError as exc:
                fits[k] = exc
        fit = fits[k]
        if isinstance(fit, AnalysisError):
            failures.append(f"{group.label()} keV: {fit}")
            continue
        blend_sd_ch = group.spread_kev / candidate.slope_kev_per_ch
        points.append((fit.centroid_ch, math.hypot(fit.centroid_sd_ch, blend_sd_ch),
                       group.energy_kev))
        widths.append(fit.fwhm_ch)
    if len(points) < order + 1:
        return None
    try:
        cal = calibrate_energy(points, order)
    except AnalysisError as exc:
        failures.append(str(exc))
        return None
    return replace(cal, fwhm_ch=tuple(widths))


def _fit_found(y: np.ndarray, peak: Peak) -> PeakFit:
    """Fit a found peak from its own width guess, then (if that fails) from the spectrum's."""
    try:
        return fit_peak(y, peak.channel, photopeak_fwhm_ch(peak))
    except AnalysisError:
        return fit_peak(y, peak.channel, None)


def _consistency(cal: EnergyCalibration, candidate: Assignment, n_unexplained: int) -> Key:
    """Sort key: all residuals within a quarter FWHM; the evidence: the number of points less
    the photopeaks left unexplained and the yield left unfound (in main lines); -sum
    (resid/FWHM)^2; the number of points."""
    slope = candidate.slope_kev_per_ch
    ratios = [abs(r) / max(w * slope, 1e-9) for r, w in
              zip(cal.residuals_kev, cal.fwhm_ch, strict=True)]
    return (max(ratios) <= CONSISTENT_FWHM,
            round(len(ratios) - n_unexplained - candidate.missing, 6),
            -sum(q * q for q in ratios), len(ratios))


@dataclass(frozen=True, slots=True)
class EnergyResolution:
    """Photopeak FWHM in keV and as % of the peak energy, with 1 sd, and the fit behind it."""

    energy_kev: float  # the fitted peak's energy
    fwhm_kev: float
    fwhm_sd_kev: float
    fwhm_pct: float
    fwhm_pct_sd: float
    peak: PeakFit


def energy_resolution(spectrum: Sequence[float] | np.ndarray, calibration: EnergyCalibration,
                      energy_kev: float) -> EnergyResolution:
    """FWHM of the photopeak near energy_kev, in keV and in % of its energy."""
    y = as_spectrum(spectrum)
    channel = calibration.to_channel(energy_kev)
    if not 0 <= channel < len(y):
        raise AnalysisError(f"{energy_kev} keV falls at channel {channel:.0f}, outside the "
                            f"spectrum's {len(y)} channels")
    slope = calibration.kev_per_channel(channel)
    guess = None
    near = [p for p in find_peaks(y) if abs(p.channel - channel) <= max(3.0, 0.05 * channel)]
    if near:
        guess = min(near, key=lambda p: abs(p.channel - channel)).fwhm_ch
    fit = fit_peak(y, channel, guess)
    if abs(calibration.to_kev(fit.centroid_ch) - energy_kev) > max(2.0 * fit.fwhm_ch * slope,
                                                                   0.05 * energy_kev):
        raise AnalysisError(f"no photopeak at {energy_kev} keV: the nearest fitted peak is at "
                            f"{calibration.to_kev(fit.centroid_ch):.1f} keV")
    e_fit = float(calibration.to_kev(fit.centroid_ch))
    local = calibration.kev_per_channel(fit.centroid_ch)
    fwhm_kev = fit.fwhm_ch * local
    fwhm_sd_kev = fit.fwhm_sd_ch * local
    return EnergyResolution(e_fit, fwhm_kev, fwhm_sd_kev, 100.0 * fwhm_kev / e_fit,
                            100.0 * fwhm_sd_kev / e_fit, fit)


@dataclass(frozen=True, slots=True)
class CalibratedWindow:
    """An energy window in keV and, when a calibration is known, in channels [lo, hi)."""

    lo_kev: float
    hi_kev: float
    name: str
    lo_channel: int | None = None
    hi_channel: int | None = None

    def as_energy_window(self) -> EnergyWindow:
        """The window as the drivers' EnergyWindow."""
        return EnergyWindow(self.lo_kev, self.hi_kev, self.name)


def window_for(nuclide_name: str, calibration: EnergyCalibration | None = None,
               fwhm_pct: float | None = None, fwhm_multiple: float = 1.0) -> CalibratedWindow:
    """The counting window for a nuclide.

    Without fwhm_pct: the nuclide's usual clinical window (e.g. Tc-99m 126-155 keV). With a
    measured resolution fwhm_pct (at the main line): main line +- fwhm_multiple FWHM. With a
    calibration the channel bounds are filled in (channels whose centres lie in the window).
    """
    nuc = nuclide(nuclide_name)
    if fwhm_pct is None:
        lo, hi = nuc.window.lo_kev, nuc.window.hi_kev
    else:
        if not (0 < fwhm_pct < 100 and fwhm_multiple > 0):
            raise AnalysisError(f"need 0 < fwhm_pct < 100 and fwhm_multiple > 0, got {fwhm_pct}, "
                                f"{fwhm_multiple}")
        e = nuc.main_line.energy_kev
        half = fwhm_multiple * fwhm_pct / 100.0 * e
        lo, hi = e - half, e + half
    if calibration is None:
        return CalibratedWindow(lo, hi, nuc.name)
    return CalibratedWindow(lo, hi, nuc.name, math.ceil(calibration.to_channel(lo)),
                            math.ceil(calibration.to_channel(hi)))
