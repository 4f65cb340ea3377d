"""The retention models and their maximum-likelihood fit (the numbers behind dosimetry.fit).

Models, t in hours after administration, rate constants k = ln 2 / T_eff per hour:
    mono  m(t) = A0 exp(-k t)                                  theta = (ln A0, k)
    bi    m(t) = A0 [f exp(-k1 t) + (1 - f) exp(-k2 t)]        theta = (ln A0, k1, k2, f)
Every effective rate constant is at least the physical one (lambda = ln 2 / T_phys: biological
clearance >= 0), k1 > k2 (component 1 is the fast one) and 0 < f < 1. The optimiser works in
unconstrained logs, p = (ln A0, ln(k - lambda)) and p = (ln A0, ln(k2 - lambda), ln(k1 - k2),
logit f), so positivity and order hold by construction.

Estimator. Each point gives a net rate y = N/L - B with variance V(m) = (m + B)/L + sB^2 under the
model m (Poisson counts in live time L, background B known to sB). Writing c = B + sB^2 L,
V = (m + c)/L, so the quasi-likelihood of that variance function is
    Q = sum L [(y + c) ln(m + c) - m],
and with sB = 0 it is exactly the Poisson log-likelihood of the gross counts N = L (y + B). Its
maximum solves sum (y - m)/V(m) dm/dtheta = 0: weighted least squares with the variances taken
from the MODEL and iteratively reweighted (Fisher scoring) - the two options of the design are the
same estimator here. Weights from the data (1/N, Neyman's chi2) would give the points that
fluctuated low more weight and bias the curve low; the model's weights do not. The
background's uncertainty enters through c, which Poisson ML on gross counts alone cannot express.

Uncertainty. The covariance is the inverse Fisher information J^T V^-1 J at the optimum, in the
natural theta (not the optimiser's logs, so a fit near k = lambda still gets a finite sd), NOT
scaled by chi2/dof: the counting variances are known, and with 1-6 degrees of freedom the scale
factor is itself so noisy that +-1 sd intervals would cover like a t-distribution with that many
dof. Measured over 500 Poisson trials of a mono truth (tests/dosimetry/test_fit_acceptance.py,
3e4 counts at 4 h): the unscaled sd of T_eff covers truth in 70.0 % (5 points) and 67.2 %
(8 points); scaled by chi2/dof 60.6 % and 63.8 %; by max(1, chi2/dof) 74.2 % and 71.2 %.
Excess scatter (a geometry not reproduced) shows as chi2/dof > 1 and a small chi2_p, which the
fit reports and the command line warns of. Derived figures (half-lives, TIAC, retained
fractions, release time) get the delta method.

Numerics: the optimiser's logs make some optima lie at an edge (k = lambda exactly: no biological
clearance); a parameter past _EDGE is held there while the gradient or step points outwards,
steps are limited to MAX_LOG_STEP e-folds, and a bi-exponential start that has not beaten the
mono fit after GIVE_UP_AFTER iterations is dropped (it is heading for a degenerate edge).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

LN2 = math.log(2.0)
# Fisher scoring converges in < 20 iterations on a series that determines its parameters; a
# bi-exponential fit of data without two resolvable components drifts towards a degenerate edge
# (f -> 0, k1 -> inf) instead, and stops here.
MAX_ITERATIONS = 50
# A mono fit of data that are not mono-exponential (a misfit much larger than the noise)
# converges linearly under Fisher scoring (the expected information is not the Hessian then),
# so the one mono fit gets more room; it is cheap.
MAX_ITERATIONS_MONO = 1000
GIVE_UP_AFTER = 8
MAX_LOG_STEP = 3.0  # largest change of any optimiser parameter (a log) in one step
# Stop when the Newton decrement g^T F^-1 g (twice the log-likelihood still to gain) is below
# this (times the deviance when that is > 1): the parameters are then within ~1e-6 of their sd
# of the optimum.
DECREMENT_TOL = 1e-12
_P_LIMIT = 50.0  # clamp of |ln(k - lambda)|, |ln(k1 - k2)|, |logit f| (exp stays finite)
# Beyond this the parameter is at its edge: k - lambda or k1 - k2 below e^-30 ~ 1e-13 per hour
# (k = lambda: no biological clearance; k1 = k2: one component), or f within 1e-13 of 0 or 1.
# Held there while the gradient or step points outwards; for f and k1 - k2 it is degenerate.
_EDGE = 30.0


@dataclass(frozen=True)
class Data:
    """A series as arrays: net rate y (cps) and the variance offset c = B + sB^2 L of each point."""

    t_h: np.ndarray
    y_cps: np.ndarray
    live_s: np.ndarray
    c_cps: np.ndarray

    def variance(self, model_cps: np.ndarray) -> np.ndarray:
        """The variance of each net rate if the model is true: (m + c)/L, cps^2."""
        return (model_cps + self.c_cps) / self.live_s


@dataclass(frozen=True)
class Optimum:
    """A converged fit: natural parameters theta, its covariance, the model at the points."""

    theta: np.ndarray
    cov: np.ndarray
    model_cps: np.ndarray
    deviance: float  # 2 (Q_saturated - Q): the -2 ln L of AICc up to a constant of the data
    at_limit: bool  # ln(k1 - k2) or logit f at _EDGE: the bi-exponential fit degenerates


def model(theta: np.ndarray, t_h: np.ndarray) -> np.ndarray:
    """The fitted net rate (cps) at times t_h for mono (2 parameters) or bi (4)."""
    a0 = math.exp(theta[0])
    if len(theta) == 2:
        return a0 * np.exp(-theta[1] * t_h)
    _, k1, k2, f = theta
    return a0 * (f * np.exp(-k1 * t_h) + (1.0 - f) * np.exp(-k2 * t_h))


def jacobian(theta: np.ndarray, t_h: np.ndarray) -> np.ndarray:
    """d model / d theta, shape (len(t_h), len(theta))."""
    m = model(theta, t_h)
    a0 = math.exp(theta[0])
    if len(theta) == 2:
        return np.column_stack([m, -t_h * m])
    _, k1, k2, f = theta
    e1, e2 = np.exp(-k1 * t_h), np.exp(-k2 * t_h)
    return np.column_stack([m, -a0 * f * t_h * e1, -a0 * (1.0 - f) * t_h * e2, a0 * (e1 - e2)])


def theta_of(p: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Natural parameters from the optimiser's, and d theta / d p."""
    if len(p) == 2:
        du = math.exp(p[1])
        return np.array([p[0], lam + du]), np.diag([1.0, du])
    a, u2, u1, v = p
    d2, d1 = math.exp(u2), math.exp(u1)
    f = 1.0 / (1.0 + math.exp(-v))
    theta = np.array([a, lam + d2 + d1, lam + d2, f])
    dtheta = np.array([[1.0, 0.0, 0.0, 0.0],
                       [0.0, d2, d1, 0.0],
                       [0.0, d2, 0.0, 0.0],
                       [0.0, 0.0, 0.0, f * (1.0 - f)]])
    return theta, dtheta


def p_of(theta: np.ndarray, lam: float) -> np.ndarray:
    """The optimiser's parameters of natural ones (rate constants floored just above lambda)."""
    floor = 1e-9 * lam + 1e-300
    if len(theta) == 2:
        return np.array([theta[0], math.log(max(theta[1] - lam, floor))])
    a, k1, k2, f = theta
    f = min(max(f, 1e-6), 1 - 1e-6)
    return np.array([a, math.log(max(k2 - lam, floor)), math.log(max(k1 - k2, floor)),
                     math.log(f / (1.0 - f))])


def quasi_loglik(m: np.ndarray, data: Data) -> float:
    """Q = sum L [(y + c) ln(m + c) - m] (module docstring); -inf for a model that is not > 0."""
    if not np.all(np.isfinite(m)) or np.any(m <= 0):
        return -math.inf
    yc = data.y_cps + data.c_cps  # = N/L + sB^2 L >= 0
    mc = m + data.c_cps
    with np.errstate(divide="ignore"):
        terms = np.where(yc > 0, yc * np.log(mc), 0.0) - m
    return float(np.sum(data.live_s * terms))


def gain(m_new: np.ndarray, m_old: np.ndarray, data: Data) -> float:
    """Q(m_new) - Q(m_old) without the rounding of two large sums (log1p of the ratio):
    -inf when m_new is not a valid model."""
    if not np.all(np.isfinite(m_new)) or np.any(m_new <= 0):
        return -math.inf
    yc = data.y_cps + data.c_cps
    ratio = (m_new - m_old) / (m_old + data.c_cps)
    if np.all(np.abs(ratio) < 0.5):  # the usual small step: log1p keeps its precision
        log_ratio = np.log1p(ratio)
    else:
        with np.errstate(divide="ignore"):  # m_new << m_old: log -> -inf, the step is refused
            log_ratio = np.log((m_new + data.c_cps) / (m_old + data.c_cps))
    terms = np.where(yc > 0, yc * log_ratio, 0.0) - (m_new - m_old)
    return float(np.sum(data.live_s * terms))


def deviance(m: np.ndarray, data: Data) -> float:
    """2 (Q_saturated - Q): for sB = 0 the Poisson deviance of the gross counts."""
    yc = data.y_cps + data.c_cps
    mc = m + data.c_cps
    with np.errstate(divide="ignore", invalid="ignore"):
        log_term = np.where(yc > 0, yc * np.log(np.where(yc > 0, yc, 1.0) / mc), 0.0)
    return float(2.0 * np.sum(data.live_s * (log_term - (data.y_cps - m))))


def _bounds(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The optimiser's clamp: |ln A0| <= 600 (exp stays finite), the others within +-_P_LIMIT."""
    limit = np.full(n, _P_LIMIT)
    limit[0] = 600.0
    return -limit, limit


def _scoring_system(p: np.ndarray, theta: np.ndarray, dtheta: np.ndarray, m: np.ndarray,
                    data: Data) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]:
    """(free, Fisher matrix, gradient, scale, Newton decrement) of the free parameters at p, the
    matrix and gradient scaled to a unit diagonal. A parameter at its edge whose gradient or
    Newton step points outwards is held there (an optimum on the boundary, e.g. k = lambda: no
    biological clearance) and the rest solved again: the decrement is that of the free ones."""
    weights = 1.0 / data.variance(m)
    jp = jacobian(theta, data.t_h) @ dtheta
    grad = jp.T @ (weights * (data.y_cps - m))
    fisher_all = jp.T @ (weights[:, None] * jp)
    _, hi = _bounds(len(p))
    edge = np.abs(p) >= np.minimum(hi, _EDGE) - 1e-9
    edge[0] = abs(p[0]) >= hi[0] - 1e-9  # ln A0 has no edge short of its clamp
    free = np.ones(len(p), dtype=bool)
    while True:
        fisher = fisher_all[np.ix_(free, free)]
        scale = np.sqrt(np.maximum(np.diag(fisher), 1e-300))
        fisher_s = fisher / np.outer(scale, scale)  # well-conditioned solves
        grad_s = grad[free] / scale
        try:
            newton_s = np.linalg.solve(fisher_s, grad_s)
        except np.linalg.LinAlgError:
            return free, fisher_s, grad_s, scale, math.inf
        step = np.zeros(len(p))
        with np.errstate(over="ignore"):  # only its signs matter
            step[free] = newton_s / scale
        outwards = free & edge & ((np.sign(step) == np.sign(p)) | (np.sign(grad) == np.sign(p)))
        if not np.any(outwards):
            return free, fisher_s, grad_s, scale, float(grad_s @ newton_s)
        free &= ~outwards


def maximise(p0: np.ndarray, data: Data, lam: float, to_beat: float = math.inf,
             max_iterations: int = MAX_ITERATIONS) -> Optimum | None:
    """Fisher scoring with Levenberg-Marquardt damping from p0; None if it does not converge, or
    if after GIVE_UP_AFTER iterations its deviance is not below `to_beat` (the mono fit's, for a
    bi-exponential start heading for a degenerate edge: it could never be chosen anyway)."""
    p = p0.astype(float)
    lo, hi = _bounds(len(p))
    theta, dtheta = theta_of(p, lam)
    m = model(theta, data.t_h)
    if not math.isfinite(quasi_loglik(m, data)):
        return None
    damping = 1e-3
    for iteration in range(max_iterations):
        if iteration == GIVE_UP_AFTER and deviance(m, data) > to_beat - 1e-3:
            return None
        free, fisher_s, grad_s, scale, decrement = _scoring_system(p, theta, dtheta, m, data)
        # a misfit of deviance D leaves the gradient known to ~D x rounding only: converged
        # when what is left is that small a part of D (a noise-free fit: D ~ 0, absolute)
        tolerance = DECREMENT_TOL * max(1.0, deviance(m, data))
        if decrement < tolerance:
            return _optimum(p, data, lam)
        n_free = len(grad_s)
        for _attempt in range(30):
            try:
                step_free = np.linalg.solve(fisher_s + damping * np.eye(n_free), grad_s) / scale
            except np.linalg.LinAlgError:
                damping *= 10.0
                continue
            step = np.zeros_like(p)
            step[free] = step_free
            # a trust region in the logs: a linearised step of e-folds overshoots into flat
            # ground (k - lambda = e^-50) where no later step gains anything
            step *= min(1.0, MAX_LOG_STEP / max(float(np.max(np.abs(step))), 1e-300))
            trial = np.clip(p + step, lo, hi)
            t_theta, t_dtheta = theta_of(trial, lam)
            t_m = model(t_theta, data.t_h)
            if gain(t_m, m, data) > 0:
                p, theta, dtheta, m = trial, t_theta, t_dtheta, t_m
                damping = max(damping / 10.0, 1e-12)
                break
            damping *= 10.0
        else:
            # no step gains: converged as far as floating point allows when the gradient is tiny
            return _optimum(p, data, lam) if decrement < 1e6 * tolerance else None
    return None


def _optimum(p: np.ndarray, data: Data, lam: float) -> Optimum:
    """The Optimum at p: covariance = inverse Fisher information in theta (NaN if singular)."""
    theta, _ = theta_of(p, lam)
    m = model(theta, data.t_h)
    j = jacobian(theta, data.t_h)
    fisher = j.T @ (j / data.variance(m)[:, None])
    try:
        cov = np.linalg.inv(fisher)
        if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        cov = np.full_like(fisher, np.nan)
    # ln(k1 - k2) or logit f at the clamp: components merge or one vanishes (ln(k2 - lambda) at
    # its floor is not degenerate: the slow component is then cleared by decay alone)
    at_limit = bool(np.any(np.abs(p[2:]) >= _EDGE - 1e-9)) if len(p) == 4 else False
    return Optimum(theta, cov, m, deviance(m, data), at_limit)


def loglinear_start(t_h: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float] | None:
    """(ln A, k) of a weighted straight line through ln y (points with y > 0); None if < 2."""
    keep = y > 0
    if np.count_nonzero(keep) < 2:
        return None
    t, ly, ww = t_h[keep], np.log(y[keep]), w[keep] * y[keep] ** 2  # var(ln y) = var(y) / y^2
    tm = np.sum(ww * t) / np.sum(ww)
    lm = np.sum(ww * ly) / np.sum(ww)
    sxx = np.sum(ww * (t - tm) ** 2)
    if sxx <= 0:
        return None
    slope = np.sum(ww * (t - tm) * (ly - lm)) / sxx
    return float(lm - slope * tm), float(-slope)


def fit_mono(data: Data, lam: float) -> Optimum | None:
    """The mono-exponential maximum-likelihood fit."""
    w = 1.0 / np.maximum(data.variance(np.maximum(data.y_cps, 0.0)), 1e-300)
    start = loglinear_start(data.t_h, data.y_cps, w)
    if start is None:
        return None
    ln_a, k = start
    return maximise(p_of(np.array([ln_a, max(k, lam * 1.001)]), lam), data, lam,
                    max_iterations=MAX_ITERATIONS_MONO)


def bi_starts(data: Data, lam: float, mono: Optimum) -> list[np.ndarray]:
    """Starting points for the bi-exponential fit: curve peeling (a slow line through the later
    half, a fast one through what the early points have above it) and a small grid around the
    mono fit."""
    t, y = data.t_h, data.y_cps
    w = 1.0 / np.maximum(data.variance(np.maximum(y, 0.0)), 1e-300)
    k_mono = float(mono.theta[1])
    starts = []
    half = len(t) // 2
    tail = loglinear_start(t[half:], y[half:], w[half:])
    if tail is not None:
        ln_as, ks = tail[0], max(tail[1], lam * 1.001)
        rest = y[:half + 1] - math.exp(ln_as) * np.exp(-ks * t[:half + 1])
        head = loglinear_start(t[:half + 1], rest, w[:half + 1])
        if head is not None and head[1] > ks:
            a_f, a_s = math.exp(head[0]), math.exp(ln_as)
            starts.append(np.array([math.log(a_f + a_s), head[1], ks, a_f / (a_f + a_s)]))
        starts.append(np.array([mono.theta[0] + 0.3, 5.0 * ks, ks, 0.4]))
    for ratio in (4.0, 20.0):
        for f in (0.3, 0.7):
            k2 = max(k_mono * 0.7, lam * 1.001)
            shape = f * np.exp(-ratio * k2 * t) + (1 - f) * np.exp(-k2 * t)
            a0 = np.sum(w * y * shape) / np.sum(w * shape**2)
            if a0 > 0:
                starts.append(np.array([math.log(a0), ratio * k2, k2, f]))
    return [p_of(s, lam) for s in starts]


def fit_bi(data: Data, lam: float, mono: Optimum) -> tuple[Optimum | None, str]:
    """The best bi-exponential fit over bi_starts, or None and why not."""
    best: Optimum | None = None
    for p0 in bi_starts(data, lam, mono):
        found = maximise(p0, data, lam, to_beat=mono.deviance)
        if found is not None and (best is None or found.deviance < best.deviance):
            best = found
    if best is None:
        return None, ("bi-exponential fit did not converge to a better fit than mono (two "
                      "components not resolved by these points)")
    if best.at_limit or not _resolved(best):
        return None, ("bi-exponential fit degenerates: fraction or half-lives not determined by "
                      "these points (sd > value)")
    return best, ""


def _resolved(opt: Optimum) -> bool:
    """Both components determined: finite covariance, sd of k1, k2 below their values and sd of
    f below f and 1 - f (a fast component that is gone before the first point is not)."""
    sd = np.sqrt(np.diag(opt.cov))
    if not np.all(np.isfinite(sd)):
        return False
    _, k1, k2, f = opt.theta
    return bool(sd[1] < k1 and sd[2] < k2 and sd[3] < min(f, 1.0 - f))
