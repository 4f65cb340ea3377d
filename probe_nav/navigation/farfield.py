"""The far field: what a source outside the sweep (an injection site) adds to every frame, as a
smooth nuisance rate.

Beside an injection site of tens of MBq, 60-80 mm from the swept square, the probe counts a few
to tens of cps from it: its primary photons through the probe's side, and (5-10 times more in the
window) photons scattered in the tissue under the probe. The point-source model has no scatter,
so the spot search explained this with a large deep spot under the edge of the sweep. Its rate
is smooth in the pose, growing towards the site and as the probe tilts towards it, so it is
modelled as

    g_f = exp(theta . phi_f),  phi_f = (1, dx_f / L, dy_f / L, T ux_f, T uy_f)

with (dx, dy) the tip's offset from the sweep's centre, L = FEATURE_SCALE_MM, (ux, uy) the axis'
tilt and T = TILT_SCALE (both features about -1..1 over a sweep). Measured on simulated sweeps
beside a 20-75 MBq site (tissue scatter on), b + g leaves a deviance of 1-85 from the true rates,
against 10-2800 for a constant b. It has no term that peaks inside the sweep (no square of the
position, no position-tilt product), so it cannot stand in for a node under the sweep.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

FEATURE_SCALE_MM = 30.0  # half the side of a usual sweep: dx / L about -1..1
TILT_SCALE = 4.0  # axis x, y components up to ~0.26 (15 degrees): T u about -1..1
SLOPE_LIMIT = 8.0  # |theta_k| of the slopes: a factor up to e^16 across the sweep
MIN_FAR_CPS = 1e-4  # amplitude bounds of exp(theta_0), cps
MAX_FAR_CPS = 1e5


def _nll(counts: np.ndarray, mean: np.ndarray) -> float:
    mean = np.maximum(mean, 1e-300)
    return float(np.sum(mean - counts * np.log(mean)))


@dataclass(frozen=True)
class FieldFit:
    """A fitted far field: the background b, the parameters theta, the per-frame rate g and
    -log L of the whole model."""

    background_cps: float
    theta: np.ndarray
    rate_cps: np.ndarray
    nll: float


class FarField:
    """exp(theta . phi) over the poses of one sweep (module docstring)."""

    def __init__(self, tips_mm: np.ndarray, axes: np.ndarray) -> None:
        tips = np.asarray(tips_mm, float)
        axes = np.asarray(axes, float)
        axes = axes / np.linalg.norm(axes, axis=1, keepdims=True)
        centre = (tips[:, :2].min(axis=0) + tips[:, :2].max(axis=0)) / 2.0
        offset = (tips[:, :2] - centre) / FEATURE_SCALE_MM
        self.features = np.column_stack([np.ones(len(tips)), offset, TILT_SCALE * axes[:, :2]])

    def rate(self, theta: np.ndarray) -> np.ndarray:
        """g_f in cps for every frame."""
        return np.exp(np.clip(self.features @ np.asarray(theta, float), -700.0, 700.0))

    def fit(self, live_s: np.ndarray, counts: np.ndarray, other_cps: np.ndarray,
            background_cps: float, fit_background: bool,
            theta0: np.ndarray | None = None) -> FieldFit:
        """Maximum-likelihood theta (and b unless it is given) over a fixed rate other_cps from
        the spots: counts ~ Poisson(live (other + b + g)). Started at theta0 or, without it,
        at a flat field of a tenth of b."""
        live = np.asarray(live_s, float)
        c = np.asarray(counts, float)
        other = np.asarray(other_cps, float)
        phi = self.features
        if theta0 is None:
            theta0 = np.zeros(phi.shape[1])
            theta0[0] = math.log(min(max(0.1 * background_cps, MIN_FAR_CPS), MAX_FAR_CPS))
        b_hi = max(10.0 * background_cps, 1.0)

        def split(p: np.ndarray) -> tuple[float, np.ndarray]:
            return (float(p[0]), p[1:]) if fit_background else (background_cps, p)

        def value_and_grad(p: np.ndarray) -> tuple[float, np.ndarray]:
            b, theta = split(p)
            g = self.rate(theta)
            mean = np.maximum(live * (other + b + g), 1e-300)
            d_mean = live * (1.0 - c / mean)  # d(-log L)/d(rate) per frame
            grad_theta = phi.T @ (d_mean * g)
            grad = np.concatenate([[d_mean.sum()], grad_theta]) if fit_background else grad_theta
            return _nll(c, mean), grad

        bounds = [(math.log(MIN_FAR_CPS), math.log(MAX_FAR_CPS))]
        bounds += [(-SLOPE_LIMIT, SLOPE_LIMIT)] * (phi.shape[1] - 1)
        start = np.clip(np.asarray(theta0, float), [lo for lo, _ in bounds],
                        [hi for _, hi in bounds])
        if fit_background:
            bounds = [(0.0, b_hi), *bounds]
            start = np.concatenate([[min(background_cps, b_hi)], start])
        res = optimize.minimize(value_and_grad, start, jac=True, method="L-BFGS-B",
                                bounds=bounds)
        b, theta = split(np.asarray(res.x))
        return FieldFit(b, np.array(theta), self.rate(theta), float(res.fun))
