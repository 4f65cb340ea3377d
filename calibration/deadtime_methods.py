"""Measuring a counter's dead time: the two-source method and the decaying-source method, for
a non-paralysable or a paralysable counter (probe_nav.calibration.deadtime has the models).

Rates here are observed rates: counts over the clock (real) counting time, not over a live time
the device may report (that would already be dead-time corrected). Poisson sd of a rate m counted
for t seconds is sqrt(m / t).

- Two sources: count source 1, both, source 2 (and background b). True rates add, so
  n(m1) + n(m2) = n(m12) + n(mb); tau is the root of that equation (closed form for the
  non-paralysable model, Knoll eq. 4-32; solved numerically here for both models so that the
  two share one code path). Its sd comes from the four rate sds through the numerical gradient.
- Decaying source: the true rate falls as n0 exp(-lambda t); fitting m(t) = f(n0 e^-lambda t; tau)
  by Poisson-weighted least squares gives n0 and tau with their covariance. The same fit with
  known relative activities is the NEMA count-rate curve (fit_count_rate_curve).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from probe_nav.calibration.deadtime import CounterKind, DeadTimeModel
from probe_nav.calibration.errors import AnalysisError


@dataclass(frozen=True, slots=True)
class DeadTimeEstimate:
    """A dead time with its 1 sd under a stated counter model."""

    tau_s: float
    tau_sd_s: float
    model: CounterKind
    method: str
    true_scale_cps: float | None = None  # n0 (decaying source) or n1 + n2 (two sources)
    true_scale_sd_cps: float | None = None
    chi2_dof: float | None = None

    @property
    def counter(self) -> DeadTimeModel:
        """The estimate as a DeadTimeModel for correcting rates."""
        return DeadTimeModel(self.model, self.tau_s)


def _check_model(model: str) -> CounterKind:
    if model not in ("nonparalysable", "paralysable"):
        raise AnalysisError(f"counter model must be 'nonparalysable' or 'paralysable', got "
                            f"{model!r}")
    return model  # type: ignore[return-value]


def _true(m: float, tau: float, model: CounterKind) -> float:
    if model == "nonparalysable":
        return m / (1.0 - m * tau)
    from scipy.special import lambertw

    return float(-lambertw(-m * tau, 0).real / tau)


def _two_source_tau(m1: float, m2: float, m12: float, mb: float, model: CounterKind) -> float:
    def excess(tau: float) -> float:
        if tau == 0.0:
            return m1 + m2 - m12 - mb
        return _true(m1, tau, model) + _true(m2, tau, model) - _true(m12, tau, model) \
            - _true(mb, tau, model)

    if excess(0.0) <= 0.0:
        raise AnalysisError(f"no measurable dead-time loss: the combined rate {m12:.6g} cps is not "
                            f"below the sum of the single rates ({m1 + m2 - mb:.6g} cps net of "
                            "background); use stronger sources or count longer")
    top_rate = max(m1, m2, m12)
    limit = 1.0 / top_rate if model == "nonparalysable" else 1.0 / (math.e * top_rate)
    hi = limit * (1.0 - 1e-12)
    if excess(hi) > 0.0:
        raise AnalysisError(f"the rates fit no {model} counter: the loss is too large for the "
                            "model (try the other model)")
    return float(optimize.brentq(excess, 0.0, hi, xtol=1e-15, rtol=1e-12))


def two_source(r1_cps: float, r2_cps: float, r12_cps: float, rb_cps: float, t1_s: float,
               t2_s: float, t12_s: float, tb_s: float,
               model: CounterKind = "nonparalysable") -> DeadTimeEstimate:
    """Dead time from observed rates of source 1, source 2, both together, and background."""
    kind = _check_model(model)
    rates = np.array([r1_cps, r2_cps, r12_cps, rb_cps], dtype=float)
    times = np.array([t1_s, t2_s, t12_s, tb_s], dtype=float)
    if not np.all(np.isfinite(rates)) or np.any(rates < 0) or np.any(rates[:3] <= 0):
        raise AnalysisError("the three source rates must be > 0 cps and the background >= 0")
    if not np.all(np.isfinite(times)) or np.any(times <= 0):
        raise AnalysisError("every counting time must be > 0 s")
    tau = _two_source_tau(*rates, kind)
    variances = np.maximum(rates, 1.0 / times) / times
    grad = np.zeros(4)
    for i in range(4):
        h = 1e-3 * math.sqrt(variances[i])
        up, down = rates.copy(), rates.copy()
        up[i] += h
        down[i] = max(down[i] - h, 0.0)
        grad[i] = (_two_source_tau(*up, kind) - _two_source_tau(*down, kind)) / (up[i] - down[i])
    tau_sd = float(math.sqrt((grad**2 * variances).sum()))
    n_sum = _true(r1_cps, tau, kind) + _true(r2_cps, tau, kind) - 2 * _true(rb_cps, tau, kind)
    return DeadTimeEstimate(tau, tau_sd, kind, "two-source", n_sum, None, None)


@dataclass(frozen=True, slots=True)
class RateCurveFit:
    """m = f(a x; tau) fitted to observed rates m at relative activities x."""

    scale_cps: float  # a: true rate at relative activity 1
    scale_sd_cps: float
    tau_s: float
    tau_sd_s: float
    covariance: tuple[tuple[float, float], tuple[float, float]]
    chi2_dof: float | None
    model: CounterKind


def _observed(n: np.ndarray, tau: float, model: CounterKind) -> np.ndarray:
    return n / (1.0 + n * tau) if model == "nonparalysable" else n * np.exp(-n * tau)


def fit_count_rate_curve(relative_activity: Sequence[float] | np.ndarray,
                         observed_cps: Sequence[float] | np.ndarray,
                         count_s: Sequence[float] | np.ndarray | float,
                         model: CounterKind = "nonparalysable") -> RateCurveFit:
    """Fit the true rate per unit activity and tau to observed rates at known relative
    activities (Poisson weights sqrt(m / t))."""
    kind = _check_model(model)
    x = np.asarray(relative_activity, dtype=float)
    m = np.asarray(observed_cps, dtype=float)
    t = np.broadcast_to(np.asarray(count_s, dtype=float), m.shape)
    if x.shape != m.shape or x.ndim != 1:
        raise AnalysisError("relative activities and rates must be equal-length lists")
    if len(m) < 3:
        raise AnalysisError(f"a count-rate curve needs at least 3 points, got {len(m)}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(m)) and np.all(np.isfinite(t))):
        raise AnalysisError("activities, rates and counting times must be finite")
    if np.any(x <= 0) or np.any(m <= 0) or np.any(t <= 0):
        raise AnalysisError("activities, rates and counting times must be > 0")
    if np.ptp(x) <= 0.05 * x.max():
        raise AnalysisError("the activities barely change: a count-rate curve needs a range")
    sd = np.sqrt(np.maximum(m, 1.0 / t) / t)
    low = np.argsort(x)[: max(2, len(x) // 4)]
    scale0 = float(np.median(m[low] / x[low]))
    top = int(np.argmax(x))
    n_top = scale0 * x[top]
    tau0 = max((1.0 / m[top] - 1.0 / n_top) if m[top] < n_top else 0.0, 1e-9 / max(m.max(), 1.0))
    if kind == "paralysable":
        tau0 = max(math.log(max(n_top / m[top], 1.0 + 1e-9)) / n_top, tau0 * 0.5)
    scale_unit, tau_unit = scale0, 1.0 / max(scale0 * x.max(), 1.0)

    def f(xx: np.ndarray, a: float, b: float) -> np.ndarray:
        return _observed(a * scale_unit * xx, b * tau_unit, kind)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", optimize.OptimizeWarning)
            popt, pcov = optimize.curve_fit(f, x, m, p0=[1.0, tau0 / tau_unit], sigma=sd,
                                            absolute_sigma=True, bounds=([0, 0], [np.inf, np.inf]),
                                            maxfev=10000)
    except (RuntimeError, optimize.OptimizeWarning, ValueError) as exc:
        raise AnalysisError(f"the count-rate curve fit did not converge ({exc})") from None
    scales = np.array([scale_unit, tau_unit])
    cov = pcov * np.outer(scales, scales)
    a, tau = popt * scales
    a_sd, tau_sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    if not (np.isfinite(tau_sd) and np.isfinite(a_sd)):
        raise AnalysisError("the count-rate curve does not determine the dead time")
    if tau <= 2.0 * tau_sd:
        raise AnalysisError(f"the dead time is not measurable from these rates (tau = {tau:.3g} "
                            f"+- {tau_sd:.2g} s): reach higher rates")
    resid = (m - f(x, *popt)) / sd
    dof = len(m) - 2
    return RateCurveFit(float(a), float(a_sd), float(tau), float(tau_sd),
                        ((float(cov[0, 0]), float(cov[0, 1])), (float(cov[1, 0]),
                                                                float(cov[1, 1]))),
                        float((resid**2).sum() / dof) if dof > 0 else None, kind)


def decaying_source(t_s: Sequence[float] | np.ndarray, observed_cps: Sequence[float] | np.ndarray,
                    live_s: Sequence[float] | np.ndarray | float, half_life_s: float,
                    model: CounterKind = "nonparalysable") -> DeadTimeEstimate:
    """Dead time from the observed rate of one decaying source counted repeatedly.

    t_s: mid-time of each count; live_s: each count's clock duration (short compared with the
    half-life); half_life_s: the source's half-life.
    """
    if not (half_life_s > 0 and math.isfinite(half_life_s)):
        raise AnalysisError(f"half-life must be > 0 s, got {half_life_s}")
    t = np.asarray(t_s, dtype=float)
    relative = np.exp2(-(t - (t.min() if t.size else 0.0)) / half_life_s)
    fit = fit_count_rate_curve(relative, observed_cps, live_s, model)
    return DeadTimeEstimate(fit.tau_s, fit.tau_sd_s, fit.model, "decaying-source",
                            fit.scale_cps, fit.scale_sd_cps, fit.chi2_dof)
