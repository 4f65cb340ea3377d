"""Energy calibration of a spectrum: channel -> keV (linear or quadratic) from fitted photopeaks
of known energy, energy resolution at a photopeak, and energy windows per nuclide.

Peak finding and fitting live in calibration.peaks (re-exported here). The calibration is a
weighted least-squares polynomial E(x) = c0 + c1 x + c2 x^2 through (centroid, energy) pairs; a
centroid's sd in channels becomes an sd in keV through the local slope (effective variance), so
chi2/dof near 1 means the residuals are what the centroid uncertainties allow.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np

from calibration.errors import AnalysisError
from calibration.nuclides import nuclide
from calibration.peaks import Peak, PeakFit, as_spectrum, find_peaks, fit_peak
from drivers.frames import EnergyWindow

__all__ = [
    "CalibratedWindow", "EnergyCalibration", "EnergyResolution", "Peak", "PeakFit",
    "auto_calibrate", "calibrate_energy", "energy_resolution", "find_peaks", "fit_peak",
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
                   order: int = 1, tolerance_kev: float | None = None) -> EnergyCalibration:
    """Find peaks, match them to known line energies, fit each matched peak and calibrate.

    Every pair of found peaks and pair of energies proposes a linear map; the map that puts the
    most energies within tolerance of a found peak (then the smallest mismatch) wins.
    """
    y = as_spectrum(spectrum)
    energies = sorted(float(e) for e in energies_kev)
    if len(energies) < order + 1:
        raise AnalysisError(f"need at least {order + 1} known energies for order {order}")
    found = find_peaks(y)
    if len(found) < 2:
        raise AnalysisError(f"found {len(found)} peak(s) in the spectrum; a calibration needs "
                            "at least 2: count longer or check the source")
    chans = np.array([p.channel for p in found], dtype=float)
    best: tuple[int, float, list[tuple[int, float]]] | None = None
    for (i, j), (a, b) in ((ij, ab) for ij in combinations(range(len(chans)), 2)
                           for ab in combinations(energies, 2)):
        slope = (b - a) / (chans[j] - chans[i])
        if slope <= 0:
            continue
        offset = a - slope * chans[i]
        matches, cost = [], 0.0
        for e in energies:
            tol = tolerance_kev if tolerance_kev is not None else max(3.0 * slope, 0.03 * e)
            k = int(np.argmin(np.abs(offset + slope * chans - e)))
            miss = abs(offset + slope * chans[k] - e)
            if miss <= tol:
                matches.append((k, e))
                cost += miss
        if len({k for k, _ in matches}) < len(matches):
            continue
        if best is None or (len(matches), -cost) > (best[0], -best[1]):
            best = (len(matches), cost, matches)
    if best is None or best[0] < order + 1:
        raise AnalysisError("could not match the spectrum's peaks to the given energies")
    points, failures = [], []
    for k, e in best[2]:
        try:
            fit = fit_peak(y, found[k].channel, found[k].fwhm_ch)
        except AnalysisError as exc:
            failures.append(f"{e:g} keV: {exc}")
            continue
        points.append((fit.centroid_ch, fit.centroid_sd_ch, e))
    if len(points) < order + 1:
        raise AnalysisError("too few peaks could be fitted: " + "; ".join(failures))
    return calibrate_energy(points, order)


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
