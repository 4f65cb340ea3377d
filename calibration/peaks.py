"""Photopeaks in a pulse-height spectrum: finding them and fitting a Gaussian on a linear
background by Poisson maximum likelihood (scipy), unbiased at low counts.

Channel coordinates: the counts of bin i sit at x = i (the bin centre), so a centroid of 140.0
means the middle of bin 140. Widths are FWHM in channels. Every fit either returns numbers with
their 1 sd or raises AnalysisError saying why (no peak, too few counts, fit did not converge).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize, signal
from scipy.special import xlogy

from probe_nav.calibration.errors import AnalysisError

SIGMA_PER_FWHM = 1.0 / (2.0 * math.sqrt(2.0 * math.log(2.0)))
MIN_NET_SIGNIFICANCE = 5.0  # a fitted peak's area must exceed this many sd
MIN_FIT_CHANNELS = 7
SMOOTH_VARIANCE = 70.0 / 256.0  # variance factor of the [1, 4, 6, 4, 1] / 16 filter
# The fit region follows the fitted width; a Gaussian peak reproduces its FWHM and centroid to
# within SETTLED_FWHM of the FWHM (or their 1 sd, at low counts) from one pass to the next (pass
# 2 on), a Compton edge or a broad hump keeps shrinking or growing with its region (a Cs-137
# edge: FWHM 72 -> 59 -> 49 -> 43 -> 40 channels, sd ~1) and is refused; a low-count peak may
# instead flip between two integer regions (8.4 -> 7.5 -> 8.5 -> 7.5), which is accepted.
SETTLED_FWHM = 0.03
MAX_PASSES = 4


@dataclass(frozen=True, slots=True)
class Peak:
    """A candidate peak: channel of its maximum, height above the local baseline, rough FWHM."""

    channel: int
    height: float
    prominence: float
    fwhm_ch: float
    significance: float  # prominence over the Poisson sd of a smoothed baseline channel


@dataclass(frozen=True, slots=True)
class PeakFit:
    """A Gaussian photopeak on a linear background fitted in channels lo_ch..hi_ch (inclusive)."""

    centroid_ch: float
    centroid_sd_ch: float
    fwhm_ch: float
    fwhm_sd_ch: float
    area: float  # net counts in the Gaussian
    area_sd: float
    background_counts: float  # under the peak, within +-1.5 FWHM
    chi2_dof: float
    lo_ch: int
    hi_ch: int

    @property
    def sigma_ch(self) -> float:
        """Gaussian sd in channels."""
        return self.fwhm_ch * SIGMA_PER_FWHM


def as_spectrum(spectrum: Sequence[float] | np.ndarray) -> np.ndarray:
    """A 1-D float array of non-negative counts; AnalysisError for anything else."""
    y = np.asarray(spectrum, dtype=float)
    if y.ndim != 1 or len(y) < MIN_FIT_CHANNELS:
        raise AnalysisError(f"a spectrum must be a list of at least {MIN_FIT_CHANNELS} channel "
                            "counts")
    if not np.all(np.isfinite(y)) or np.any(y < 0):
        raise AnalysisError("a spectrum's counts must be finite and >= 0")
    return y


def _smooth(y: np.ndarray) -> np.ndarray:
    """[1, 4, 6, 4, 1] / 16 filter, edges padded with the edge value (not zeros, which would
    make the spectrum's ends look like deep valleys)."""
    return np.convolve(np.pad(y, 2, mode="edge"), np.array([1, 4, 6, 4, 1]) / 16.0, "valid")


def find_peaks(spectrum: Sequence[float] | np.ndarray, min_significance: float = 10.0,
               min_fwhm_ch: float = 1.5) -> list[Peak]:
    """Peaks that stand out of the Poisson noise, in channel order.

    The spectrum is smoothed with a 5-channel binomial filter; a maximum counts when its
    prominence exceeds min_significance Poisson sd of a smoothed channel of the baseline it
    stands on (also Compton edges and backscatter bumps can pass: match peaks to energies).
    """
    y = as_spectrum(spectrum)
    smooth = _smooth(y)
    idx, props = signal.find_peaks(smooth, prominence=0.0, width=min_fwhm_ch / 2.0)
    if len(idx) == 0:
        return []
    widths = signal.peak_widths(smooth, idx, rel_height=0.5)[0]
    peaks = []
    for i, channel in enumerate(idx):
        prominence = float(props["prominences"][i])
        base = max(float(smooth[channel]) - prominence, 0.0)
        # Poisson sd of one smoothed channel on that baseline (the filter's sum of squared
        # weights is 70/256): pure noise rarely makes a bump of more than ~7 of these.
        significance = prominence / math.sqrt(max(base, 1.0) * SMOOTH_VARIANCE)
        if significance >= min_significance and widths[i] >= min_fwhm_ch:
            peaks.append(Peak(int(channel), float(smooth[channel]), prominence,
                              float(widths[i]), significance))
    return peaks


def _gauss(x: np.ndarray, area: float, centre: float, sigma: float) -> np.ndarray:
    return area / (sigma * math.sqrt(2 * math.pi)) * np.exp(-0.5 * ((x - centre) / sigma) ** 2)


def _initial_fwhm(y: np.ndarray, centre: int) -> float:
    smooth = _smooth(y)
    lo, hi = max(centre - 3, 0), min(centre + 4, len(y))
    top = lo + int(np.argmax(smooth[lo:hi]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PeakPropertyWarning when there is no peak: width 0
        width = signal.peak_widths(smooth, [top], rel_height=0.5)[0][0]
    return float(width) if width >= 1.0 else 3.0


def fit_peak(spectrum: Sequence[float] | np.ndarray, centre_channel: float,
             width_channels: float | None = None, region_fwhm: float = 1.5) -> PeakFit:
    """Fit the photopeak near centre_channel: Gaussian + linear background, Poisson likelihood.

    width_channels is a guess of the FWHM (estimated from the spectrum when None); the fit uses
    channels within region_fwhm FWHM either side of the centre, refitted on the result's centre
    and width (at least two passes) until it settles (AnalysisError if its width still runs one
    way after MAX_PASSES).
    """
    y = as_spectrum(spectrum)
    n = len(y)
    if not (0 <= centre_channel < n):
        raise AnalysisError(f"peak channel {centre_channel} is outside the spectrum (0..{n - 1})")
    fwhm = float(width_channels) if width_channels else _initial_fwhm(y, round(centre_channel))
    if not (fwhm > 0 and math.isfinite(fwhm)):
        raise AnalysisError(f"peak width guess must be > 0 channels, got {width_channels}")
    centre = float(centre_channel)
    neighbours = [p for p in find_peaks(y) if abs(p.channel - centre) > 0.75 * fwhm]
    widths = [fwhm]
    for _ in range(MAX_PASSES):
        result = _fit_once(y, centre, fwhm, region_fwhm, neighbours)
        settled = (abs(result.fwhm_ch - fwhm) <= max(SETTLED_FWHM * fwhm, result.fwhm_sd_ch)
                   and abs(result.centroid_ch - centre)
                   <= max(SETTLED_FWHM * fwhm, result.centroid_sd_ch))
        centre, fwhm = result.centroid_ch, result.fwhm_ch
        widths.append(fwhm)
        if settled and len(widths) > 2:
            return result
    steps = np.diff(widths[1:])
    if not (np.all(steps > 0) or np.all(steps < 0)):
        return result  # flipping between integer regions (low counts): not a runaway
    raise AnalysisError(f"the peak fit near channel {centre:.1f} does not settle: its FWHM went "
                        f"{' -> '.join(f'{w:.1f}' for w in widths)} channels as the fit region "
                        "followed it (not a single Gaussian peak: a Compton edge or a blend?)")


def _fit_region(y: np.ndarray, centre: float, fwhm: float, region_fwhm: float,
                neighbours: Sequence[Peak]) -> tuple[int, int]:
    """Channels lo..hi (inclusive) to fit: +-region_fwhm FWHM, kept off edges and neighbours."""
    n = len(y)
    half = max(region_fwhm * fwhm, MIN_FIT_CHANNELS / 2.0)
    # The data start above the discriminator: channels below the first one with counts (and
    # that partly cut one) are not spectrum, so the region stops there like at an edge.
    nonzero = np.flatnonzero(y)
    first = int(nonzero[0]) + 1 if len(nonzero) and nonzero[0] > 0 else 0
    lo, hi = max(math.floor(centre - half), first), min(math.ceil(centre + half), n - 1)
    # A peak near an edge keeps its full width on the open side.
    if centre - half < first:
        hi = min(max(hi, math.ceil(centre + half + (first - (centre - half)))), n - 1)
    if centre + half > n - 1:
        lo = max(min(lo, math.floor(centre - half - (centre + half - (n - 1)))), first)
    lo_edge, hi_edge = lo, hi
    # Stop short of a neighbouring peak's flank (2.5 sd of it), keeping 0.5 FWHM of our own.
    for p in neighbours:
        edge = 2.5 * p.fwhm_ch * SIGMA_PER_FWHM
        if p.channel > centre:
            hi = min(hi, max(math.floor(p.channel - edge), math.ceil(centre + 0.5 * fwhm)))
        else:
            lo = max(lo, min(math.ceil(p.channel + edge), math.floor(centre - 0.5 * fwhm)))
    if hi - lo + 1 < MIN_FIT_CHANNELS:
        if (lo, hi) != (lo_edge, hi_edge):
            raise AnalysisError(f"peak at channel {centre:.1f} is too close to a neighbouring "
                                "peak to fit alone")
        raise AnalysisError(f"peak at channel {centre:.1f} is too close to the spectrum's edge "
                            "to fit")
    return lo, hi


def _fit_once(y: np.ndarray, centre: float, fwhm: float, region_fwhm: float,
              neighbours: Sequence[Peak] = ()) -> PeakFit:
    lo, hi = _fit_region(y, centre, fwhm, region_fwhm, neighbours)
    x = np.arange(lo, hi + 1, dtype=float)
    yy = y[lo:hi + 1]
    if yy.sum() < 25:
        raise AnalysisError(f"too few counts ({yy.sum():.0f}) around channel {centre:.1f} to fit "
                            "a peak; count longer")
    fit = _PoissonFit(x, yy)
    theta, cov = fit.solve(centre, fwhm * SIGMA_PER_FWHM)
    area, c, sigma, b_lo, b_hi = theta
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    if area <= MIN_NET_SIGNIFICANCE * sd[0]:
        raise AnalysisError(f"no significant peak near channel {centre:.1f}: net area "
                            f"{area:.0f} +- {sd[0]:.0f} counts")
    if not (lo < c < hi):
        raise AnalysisError(f"the fitted peak near channel {centre:.1f} ran off its fit region")
    fwhm_fit = sigma / SIGMA_PER_FWHM
    b_centre = b_lo + (b_hi - b_lo) * (c - lo) / (hi - lo)
    return PeakFit(
        centroid_ch=float(c), centroid_sd_ch=float(sd[1]),
        fwhm_ch=float(fwhm_fit), fwhm_sd_ch=float(sd[2] / SIGMA_PER_FWHM),
        area=float(area), area_sd=float(sd[0]),
        background_counts=float(b_centre * 3.0 * fwhm_fit),
        chi2_dof=fit.deviance(theta) / max(len(x) - 5, 1), lo_ch=lo, hi_ch=hi)


class _PoissonFit:
    """Gaussian on a linear background fitted to Poisson counts by maximum likelihood.

    Least squares with sqrt(y) weights is biased low at low counts (a channel that fluctuates
    down gets a smaller sd and pulls harder: -7 % in area and FWHM at 150 counts). Maximising
    the Poisson likelihood is the same as minimising the deviance 2 sum(y ln(y/mu) - (y - mu)),
    done here as least squares on the deviance residuals; the sds come from the inverse Fisher
    information J^T diag(1/mu) J at the optimum. Parameters: area, centre, sigma and the
    background at both ends of the region (>= 0, so that mu > 0 everywhere).
    """

    def __init__(self, x: np.ndarray, y: np.ndarray) -> None:
        self.x, self.y = x, y
        self.t = (x - x[0]) / (x[-1] - x[0])  # 0 at lo, 1 at hi

    def mu(self, theta: np.ndarray) -> np.ndarray:
        """Expected counts per channel."""
        area, c, sigma, b_lo, b_hi = theta
        return _gauss(self.x, area, c, sigma) + b_lo + (b_hi - b_lo) * self.t

    def jac_mu(self, theta: np.ndarray) -> np.ndarray:
        """d mu / d theta, one row per channel."""
        area, c, sigma, _, _ = theta
        u = (self.x - c) / sigma
        shape = _gauss(self.x, 1.0, c, sigma)
        g = area * shape
        return np.column_stack([shape, g * u / sigma, g * (u * u - 1.0) / sigma,
                                1.0 - self.t, self.t])

    def _residuals(self, theta: np.ndarray) -> np.ndarray:
        mu = np.maximum(self.mu(theta), 1e-300)
        dev = np.maximum(2.0 * (xlogy(self.y, self.y / mu) - (self.y - mu)), 0.0)
        return np.sign(self.y - mu) * np.sqrt(dev)

    def _jac(self, theta: np.ndarray) -> np.ndarray:
        mu = np.maximum(self.mu(theta), 1e-300)
        r = self._residuals(theta)
        small = np.abs(r) < 1e-8  # r ~ (y - mu) / sqrt(mu) there
        safe_r = np.where(small, 1.0, r)
        dr_dmu = np.where(small, -1.0 / np.sqrt(mu), (1.0 - self.y / mu) / safe_r)
        return dr_dmu[:, None] * self.jac_mu(theta)

    def deviance(self, theta: np.ndarray) -> float:
        """Poisson deviance (likelihood-ratio chi-square) at theta."""
        return float(np.sum(self._residuals(theta) ** 2))

    def solve(self, centre: float, sigma0: float) -> tuple[np.ndarray, np.ndarray]:
        """Maximum-likelihood parameters and their covariance; AnalysisError if it fails."""
        x, y = self.x, self.y
        lo, hi = float(x[0]), float(x[-1])
        edge = max(2, len(x) // 6)
        b_lo0, b_hi0 = max(float(y[:edge].mean()), 0.1), max(float(y[-edge:].mean()), 0.1)
        area0 = max(float((y - b_lo0 - (b_hi0 - b_lo0) * self.t).sum()), 1.0)
        c0 = min(max(centre, lo + 0.01), hi - 0.01)
        s0 = min(max(sigma0, 0.25), 0.99 * (hi - lo))
        bounds = ([0.0, lo, 0.2, 0.0, 0.0], [np.inf, hi, hi - lo, np.inf, np.inf])
        try:
            res = optimize.least_squares(self._residuals, [area0, c0, s0, b_lo0, b_hi0],
                                         jac=self._jac, bounds=bounds, x_scale="jac",
                                         method="trf", max_nfev=2000)
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise AnalysisError(f"the peak fit near channel {centre:.1f} did not converge "
                                f"({exc})") from None
        if res.status <= 0 or not np.all(np.isfinite(res.x)):
            raise AnalysisError(f"the peak fit near channel {centre:.1f} did not converge "
                                f"({res.message})")
        j = self.jac_mu(res.x)
        info = j.T @ (j / np.maximum(self.mu(res.x), 1e-300)[:, None])
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            cov = np.full_like(info, np.inf)
        if not np.all(np.isfinite(np.diag(cov)[:3])) or np.any(np.diag(cov)[:3] < 0):
            raise AnalysisError(f"the peak fit near channel {centre:.1f} is degenerate "
                                "(no peak?)")
        return res.x, cov
