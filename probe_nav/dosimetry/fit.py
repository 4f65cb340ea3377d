"""Mono- and bi-exponential retention fits of a series, chosen by AICc, with effective and
biological half-lives, retained fractions and the time-integrated activity coefficient (TIAC),
each with a 1 sd from the covariance (delta method). The estimator and why: fit_models.py.

Retained fraction and TIAC are relative to the fitted rate at t = 0 (the administered activity:
the whole body holds all of it at administration). TIAC = integral of the retained fraction over
0..inf in hours (f T1/ln 2 + (1 - f) T2/ln 2); for a bi-exponential fit t_eff_h is the equivalent
mono-exponential half-life TIAC ln 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import chi2 as chi2_dist

from probe_nav.calibration.nuclides import nuclide as nuclide_named
from probe_nav.dosimetry import fit_models as fm
from probe_nav.dosimetry.series import RetentionPoint, SeriesError, check_series

SCATTER_P = 0.01  # chi2_p below this: more scatter than counting statistics (sds understated)
EXTRAPOLATION_FLAG = 0.2  # flag a TIAC more than this share of which lies outside the data
_K = {"mono": 2, "bi": 4}


@dataclass(frozen=True)
class RetentionFit:
    """One fitted model. `theta` (ln A0, k[, k2, f]; k per hour, component 1 the fast one) and
    its covariance `cov` carry everything; the figures are derived from them once."""

    model: str
    theta: tuple[float, ...]
    cov: tuple[tuple[float, ...], ...]
    t_phys_h: float
    t_h: tuple[float, ...]  # the measured times
    a0_cps: float
    a0_sd_cps: float
    t_eff_h: float
    t_eff_sd_h: float
    tiac_h: float
    tiac_sd_h: float
    extrapolated_fraction: float
    aicc: float
    chi2_dof: float
    chi2_p: float  # P(chi2 >= observed | model and counting statistics): small = excess scatter
    residuals: tuple[float, ...]  # standardised: (y - m) / sqrt(V(m)), per point
    t_bio_h: float  # mono: biological half-life (inf: no biological clearance)
    t_bio_sd_h: float
    t_eff_fast_h: float | None = None
    t_eff_fast_sd_h: float | None = None
    t_eff_slow_h: float | None = None
    t_eff_slow_sd_h: float | None = None
    t_bio_fast_h: float | None = None
    t_bio_slow_h: float | None = None
    fraction_fast: float | None = None
    fraction_fast_sd: float | None = None

    @property
    def extrapolation_flag(self) -> bool:
        """True when more than EXTRAPOLATION_FLAG of the TIAC lies outside the measured times."""
        return self.extrapolated_fraction > EXTRAPOLATION_FLAG

    def _theta(self) -> np.ndarray:
        return np.array(self.theta)

    def _cov(self) -> np.ndarray:
        return np.array(self.cov)

    def rate_cps(self, t_h: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """The fitted net rate (cps) at t_h hours after administration."""
        return fm.model(self._theta(), np.atleast_1d(np.asarray(t_h, dtype=float)))

    def rate_gradient(self, t_h: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """d rate / d theta at t_h, shape (len(t_h), len(theta)) (for the delta method)."""
        return fm.jacobian(self._theta(), np.atleast_1d(np.asarray(t_h, dtype=float)))

    def sd_of(self, gradient: np.ndarray) -> np.ndarray:
        """1 sd of figures with these gradients (rows) by the delta method."""
        g = np.atleast_2d(gradient)
        return np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", g, self._cov(), g), 0.0))

    def retained_fraction(self, t_h: float | Sequence[float] | np.ndarray,
                          ) -> tuple[np.ndarray, np.ndarray]:
        """(fraction of the administered activity retained at t_h, its 1 sd)."""
        t = np.atleast_1d(np.asarray(t_h, dtype=float))
        theta = self._theta()
        a0 = math.exp(theta[0])
        value = fm.model(theta, t) / a0
        gradient = fm.jacobian(theta, t) / a0
        gradient[:, 0] = 0.0  # the ratio does not depend on A0
        return value, self.sd_of(gradient)

    def as_dict(self) -> dict[str, Any]:
        """Every figure of the fit, JSON-ready (non-finite numbers as null)."""
        keys: tuple[str, ...] = (
            "model", "a0_cps", "a0_sd_cps", "t_eff_h", "t_eff_sd_h", "t_bio_h", "t_bio_sd_h",
            "tiac_h", "tiac_sd_h", "extrapolated_fraction", "extrapolation_flag", "aicc",
            "chi2_dof", "chi2_p", "residuals")
        if self.model == "bi":
            keys += ("t_eff_fast_h", "t_eff_fast_sd_h", "t_eff_slow_h", "t_eff_slow_sd_h",
                     "t_bio_fast_h", "t_bio_slow_h", "fraction_fast", "fraction_fast_sd")
        return {key: json_number(getattr(self, key)) for key in keys}


@dataclass(frozen=True)
class RetentionAnalysis:
    """Both fits of a series, the one AICc chooses, and why bi is missing when it is."""

    nuclide: str
    mono: RetentionFit
    bi: RetentionFit | None
    bi_note: str = ""
    t_h: tuple[float, ...] = field(default=())

    @property
    def chosen(self) -> RetentionFit:
        """The fit with the lower AICc (mono on a tie or without a bi fit)."""
        if self.bi is not None and self.bi.aicc < self.mono.aicc:
            return self.bi
        return self.mono

    @property
    def aicc(self) -> dict[str, float]:
        """AICc of each model (bi: inf when not fitted or with too few points for AICc)."""
        return {"mono": self.mono.aicc, "bi": math.inf if self.bi is None else self.bi.aicc}

    def as_dict(self, at_h: Sequence[float] | None = None) -> dict[str, Any]:
        """The JSON of `probe-nav dosimetry fit --json`: the chosen fit's figures at the top,
        retained fractions at `at_h` (default: the measured times), both fits in full."""
        chosen = self.chosen
        times = list(self.t_h if at_h is None else at_h)
        value, sd = chosen.retained_fraction(times)
        out: dict[str, Any] = {
            "nuclide": self.nuclide, "model": chosen.model,
            "t_eff_h": json_number(chosen.t_eff_h), "t_eff_sd_h": json_number(chosen.t_eff_sd_h),
            "tiac_h": json_number(chosen.tiac_h), "tiac_sd_h": json_number(chosen.tiac_sd_h),
            "t_phys_h": chosen.t_phys_h,
            "fractions": [{"t_h": t, "fraction": json_number(v), "sd": json_number(s)}
                          for t, v, s in zip(times, value.tolist(), sd.tolist(), strict=True)],
            "aicc": {name: json_number(v) for name, v in self.aicc.items()},
            "extrapolated_fraction": json_number(chosen.extrapolated_fraction),
            "extrapolation_flag": chosen.extrapolation_flag,
        }
        if chosen.model == "bi":
            for key in ("t_eff_fast_h", "t_eff_fast_sd_h", "t_eff_slow_h", "t_eff_slow_sd_h",
                        "fraction_fast", "fraction_fast_sd"):
                out[key] = json_number(getattr(chosen, key))
        out["mono"] = self.mono.as_dict()
        out["bi"] = None if self.bi is None else self.bi.as_dict()
        out["bi_note"] = self.bi_note
        return out


def json_number(value: Any) -> Any:
    """A float for JSON: non-finite -> None (JSON has no inf/NaN); tuples -> lists."""
    if isinstance(value, (tuple, list)):
        return [json_number(v) for v in value]
    if isinstance(value, float):  # np.float64 too
        return float(value) if math.isfinite(value) else None
    return value


def fit_series(points: Sequence[RetentionPoint], nuclide: str) -> RetentionAnalysis:
    """Fit mono and (with >= 5 points) bi-exponential retention to a checked series of `nuclide`
    (its physical half-life bounds every effective one). SeriesError if it cannot be fitted;
    an unknown nuclide raises calibration.nuclides.UnknownNuclide (a ValueError)."""
    check_series(points)
    known = nuclide_named(nuclide)
    t_phys_h = known.half_life_s / 3600.0
    lam = fm.LN2 / t_phys_h
    data = _data(points)
    if np.count_nonzero(data.y_cps > 0) < 2:
        raise SeriesError("fewer than 2 points have a net rate above background: no decay to "
                          "fit")
    mono_opt = fm.fit_mono(data, lam)
    if mono_opt is None:
        raise SeriesError("the mono-exponential fit did not converge (net rates too close to "
                          "background to show a decay?)")
    mono = _fit("mono", mono_opt, data, t_phys_h)
    bi: RetentionFit | None = None
    if len(points) < 5:
        note = f"bi-exponential needs at least 5 points, got {len(points)}"
    else:
        bi_opt, note = fm.fit_bi(data, lam, mono_opt)
        if bi_opt is not None:
            bi = _fit("bi", bi_opt, data, t_phys_h)
            if not math.isfinite(bi.aicc):
                note = (f"AICc undefined for 4 parameters and {len(points)} points "
                        "(n - k - 1 = 0): bi is reported but cannot be chosen")
    return RetentionAnalysis(known.name, mono, bi, note, tuple(float(p.time_h) for p in points))


def _data(points: Sequence[RetentionPoint]) -> fm.Data:
    """The arrays of a series: net rates and the variance offsets c = B + sB^2 L."""
    live = np.array([p.live_s for p in points], dtype=float)
    background = np.array([p.background_cps for p in points], dtype=float)
    background_sd = np.array([p.background_sd_cps for p in points], dtype=float)
    counts = np.array([float(p.counts) for p in points])
    return fm.Data(t_h=np.array([p.time_h for p in points], dtype=float),
                   y_cps=counts / live - background, live_s=live,
                   c_cps=background + background_sd**2 * live)


def aicc(deviance: float, k: int, n: int) -> float:
    """AICc = -2 ln L + 2k + 2k(k+1)/(n-k-1), with the deviance for -2 ln L (the same constant
    of the data drops out of every comparison); inf when n <= k + 1."""
    if n - k - 1 <= 0:
        return math.inf
    return deviance + 2 * k + 2 * k * (k + 1) / (n - k - 1)


def _fit(name: str, opt: fm.Optimum, data: fm.Data, t_phys_h: float) -> RetentionFit:
    """Every figure of one optimum."""
    theta, cov = opt.theta, opt.cov
    n, k = len(data.t_h), _K[name]
    lam = fm.LN2 / t_phys_h
    pearson = (data.y_cps - opt.model_cps) / np.sqrt(data.variance(opt.model_cps))
    tiac, tiac_grad = _tiac(theta)
    a0 = math.exp(theta[0])

    def sd(gradient: Sequence[float]) -> float:
        g = np.asarray(gradient, dtype=float)
        return float(math.sqrt(max(float(g @ cov @ g), 0.0)))

    figures: dict[str, Any] = {}
    if name == "mono":
        kk = theta[1]
        t_eff, t_eff_sd = fm.LN2 / kk, sd([0.0, -fm.LN2 / kk**2])
        t_bio, t_bio_sd = _bio(kk, lam, sd([0.0, 1.0]))
    else:
        _, k1, k2, f = theta
        t_eff, t_eff_sd = fm.LN2 * tiac, fm.LN2 * sd(tiac_grad)
        t_bio, t_bio_sd = math.nan, math.nan
        figures = {"t_eff_fast_h": fm.LN2 / k1, "t_eff_fast_sd_h": sd([0, -fm.LN2 / k1**2, 0, 0]),
                   "t_eff_slow_h": fm.LN2 / k2, "t_eff_slow_sd_h": sd([0, 0, -fm.LN2 / k2**2, 0]),
                   "t_bio_fast_h": _bio(k1, lam, 0.0)[0], "t_bio_slow_h": _bio(k2, lam, 0.0)[0],
                   "fraction_fast": float(f), "fraction_fast_sd": sd([0, 0, 0, 1.0])}
    return RetentionFit(
        model=name, theta=tuple(float(v) for v in theta),
        cov=tuple(tuple(float(v) for v in row) for row in cov), t_phys_h=t_phys_h,
        t_h=tuple(data.t_h.tolist()), a0_cps=a0, a0_sd_cps=a0 * sd([1.0] + [0.0] * (k - 1)),
        t_eff_h=t_eff, t_eff_sd_h=t_eff_sd, tiac_h=tiac, tiac_sd_h=sd(tiac_grad),
        extrapolated_fraction=_extrapolated(theta, data.t_h, tiac),
        aicc=aicc(opt.deviance, k, n), chi2_dof=float(np.sum(pearson**2)) / (n - k),
        chi2_p=float(chi2_dist.sf(np.sum(pearson**2), n - k)),
        residuals=tuple(pearson.tolist()), t_bio_h=t_bio, t_bio_sd_h=t_bio_sd, **figures)


def _tiac(theta: np.ndarray) -> tuple[float, list[float]]:
    """TIAC (h) = integral of the retained fraction, and its gradient in theta."""
    if len(theta) == 2:
        return 1.0 / theta[1], [0.0, -1.0 / theta[1] ** 2]
    _, k1, k2, f = theta
    return (f / k1 + (1 - f) / k2,
            [0.0, -f / k1**2, -(1 - f) / k2**2, 1.0 / k1 - 1.0 / k2])


def _bio(k: float, lam: float, k_sd: float) -> tuple[float, float]:
    """Biological half-life ln 2/(k - lambda) and its sd (inf, inf: no biological clearance,
    which is where a fit that wants T_eff > T_phys stops: k - lambda ~ 1e-13 lambda)."""
    k_bio = k - lam
    if k_bio <= 1e-9 * lam:
        return math.inf, math.inf
    return fm.LN2 / k_bio, fm.LN2 / k_bio**2 * k_sd


def _extrapolated(theta: np.ndarray, t_h: np.ndarray, tiac: float) -> float:
    """Share of the TIAC before the first and after the last measured time."""
    t0, t1 = float(t_h[0]), float(t_h[-1])
    if len(theta) == 2:
        parts = [(1.0, theta[1])]
    else:
        parts = [(theta[3], theta[1]), (1.0 - theta[3], theta[2])]
    inside = sum(w / k * (math.exp(-k * t0) - math.exp(-k * t1)) for w, k in parts)
    return float(1.0 - inside / tiac)
