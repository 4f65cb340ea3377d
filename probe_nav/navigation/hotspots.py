"""Hot spots of a sweep: point sources found one at a time by maximum likelihood.

Counts c_f ~ Poisson(live_f (o_f + b + a r_f(p))): o the rate of the spots found so far, b the
background, a point source of activity a at p with r its response (probe_nav.navigation.
response). Each round a score test at every voxel (is a point source there better than none,
b profiled: probe_nav.navigation.hotspots.score_map) gives the candidates, a point is fitted at
each (position and activity, and b unless given, by maximum likelihood), and the most
significant is accepted while 2 log L improves by at least MIN_TEST_STATISTIC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize

from probe_nav.navigation.response import ResponseModel

# A spot must improve 2 log L by this much over no spot. For a pure-noise peak that statistic is
# about chi-square with 4 degrees of freedom (x, y, z, activity), larger for the best of the
# many places tried; 20 (a chance of 5e-4 for one place) keeps most noise out while a 15 kBq
# node 35 mm deep (2 log L ~ 17-42 over 60 s) is often kept; a noise spot that passes has a
# large sd_mm.
MIN_TEST_STATISTIC = 20.0
MAX_SPOTS = 6  # at most this many spots
CANDIDATES = 6  # local maxima of the score map fitted per round
FIT_REACH_MM = 15.0  # a candidate's point is fitted within this distance of its voxel
REFINE_ROUNDS = 3  # rounds of refitting every spot over the others
FD_STEP_MM = 0.25  # finite-difference step of the Fisher information


def log_likelihood(counts: np.ndarray, mean: np.ndarray) -> float:
    """Poisson log-likelihood without the constant log(c!) term."""
    mean = np.maximum(mean, 1e-300)
    return float(np.sum(counts * np.log(mean) - mean))


@dataclass(frozen=True)
class Spot:
    """A hot spot: position (mm), its uncertainty (mm), activity (Bq) and share of the largest."""

    x_mm: float
    y_mm: float
    z_mm: float
    sd_mm: float
    activity_bq: float
    relative_activity: float = 1.0

    def as_dict(self) -> dict[str, float]:
        """The JSON form: position, sd_mm and relative_activity."""
        return {"x_mm": self.x_mm, "y_mm": self.y_mm, "z_mm": self.z_mm,
                "sd_mm": self.sd_mm, "relative_activity": self.relative_activity}


def local_maxima(image: np.ndarray, fraction: float = 0.0) -> np.ndarray:
    """Flat indices of the 3-D local maxima (26-neighbourhood) at or above fraction x the
    largest, largest first."""
    top = float(image.max()) if image.size else 0.0
    if top <= 0:
        return np.zeros(0, dtype=int)
    peaks = (image == ndimage.maximum_filter(image, size=3, mode="constant", cval=-1.0))
    peaks &= image >= fraction * top
    flat = np.flatnonzero(peaks.ravel())
    return flat[np.argsort(-image.ravel()[flat])]


def score_map(system: np.ndarray, live_s: np.ndarray, counts: np.ndarray,
              other_cps: np.ndarray, b_cps: float) -> np.ndarray:
    """Per voxel: the score statistic U^2 / I for adding a point source there (0 where U <= 0),
    with b as a nuisance: U = sum_f live_f A_fj (c_f / mu_f - 1) at mu = live (o + b), and the
    efficient information I = I_aa - I_ab^2 / I_bb, I_xy = sum_f dmu_x dmu_y / mu_f. A flat
    response looks like background and scores nothing."""
    live = np.asarray(live_s, np.float64)
    mu = np.maximum(live * (other_cps + b_cps), 1e-12)
    resid = (counts / mu - 1.0) * live
    u = (resid.astype(np.float32) @ system).astype(np.float64)
    w = (live * live / mu)
    i_aa = (w.astype(np.float32) @ (system * system)).astype(np.float64)
    i_ab = (w.astype(np.float32) @ system).astype(np.float64)
    i_bb = float(w.sum())
    info = np.maximum(i_aa - i_ab * i_ab / i_bb, 1e-300)
    return np.where(u > 0, u * u / info, 0.0)


class PointFit:
    """Maximum-likelihood fit of one point source (x, y, z, activity) and, unless it is given,
    the background rate b, over a fixed rate from the rest of the image."""

    def __init__(self, model: ResponseModel, tips_mm: np.ndarray, axes: np.ndarray,
                 live_s: np.ndarray, counts: np.ndarray, other_cps: np.ndarray,
                 background_cps: float, fit_background: bool) -> None:
        self.model, self.tips, self.axes = model, tips_mm, axes
        self.live, self.counts, self.other = live_s, counts, other_cps
        self.background_cps, self.fit_background = background_cps, fit_background

    def response(self, point_mm: np.ndarray) -> np.ndarray:
        """cps per Bq of a point at every pose."""
        return self.model.block(self.tips, self.axes, np.asarray(point_mm, float)[None])[:, 0]

    def _b(self, params: np.ndarray) -> float:
        return float(params[4]) if self.fit_background else self.background_cps

    def neg_log_likelihood(self, params: np.ndarray) -> float:
        """-log L of (x, y, z, log activity[, b])."""
        mean = self.live * (self.other + self._b(params)
                            + math.exp(params[3]) * self.response(params[:3]))
        return -log_likelihood(self.counts, mean)

    def fit(self, start_mm: np.ndarray, start_bq: float, skin_z_mm: float,
            box: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, float, float, float]:
        """Best (position, activity, b, -log L) from a start; the position stays in the box
        and below the skin."""
        lo, hi = box
        log_a = math.log(max(start_bq, 1.0))
        bounds = [(lo[0], hi[0]), (lo[1], hi[1]), (lo[2], min(hi[2], skin_z_mm - 0.5)),
                  (log_a - 12.0, log_a + 8.0)]
        x0 = [*start_mm, log_a]
        if self.fit_background:
            bounds.append((0.0, max(10.0 * self.background_cps, 1.0)))
            x0.append(self.background_cps)
        start = np.clip(np.array(x0), [b[0] for b in bounds], [b[1] for b in bounds])
        res = optimize.minimize(self.neg_log_likelihood, start, method="Powell",
                                bounds=bounds, options={"xtol": 1e-3, "ftol": 1e-7})
        return np.asarray(res.x[:3]), math.exp(res.x[3]), self._b(res.x), float(res.fun)

    def null_background_cps(self) -> float:
        """The ML constant rate over the other sources with no new point."""
        res = optimize.minimize_scalar(
            lambda b: -log_likelihood(self.counts, self.live * (self.other + b)),
            bounds=(0.0, max(10.0 * self.background_cps, 1.0)), method="bounded")
        return float(res.x)

    def start_activity(self, point_mm: np.ndarray) -> float:
        """A starting activity at a point: the least-squares fit of the excess counts."""
        r = self.response(point_mm)
        excess = self.counts - self.live * (self.other + self.background_cps)
        return max(float(excess @ r) / max(float((self.live * r) @ r), 1e-30), 1.0)

    def test_statistic(self, nll: float, b_null_cps: float) -> float:
        """2 (log L with the point - log L without it, at the null's b): how far the point
        is from noise (about chi-square with 4 degrees of freedom when there is none)."""
        none = -log_likelihood(self.counts, self.live * (self.other + b_null_cps))
        return 2.0 * (none - nll)

    def position_sd_mm(self, point_mm: np.ndarray, activity_bq: float, b_cps: float) -> float:
        """sqrt(trace) of the position block of the inverse Fisher information of (x, y, z,
        activity[, b]): I = sum_f (d lambda_f)(d lambda_f)^T / lambda_f, with lambda_f =
        live_f (other_f + b + a r_f(p)) the expected counts, derivatives by central
        differences (FD_STEP_MM). inf if the information is singular."""
        point = np.asarray(point_mm, float)
        r0 = self.response(point)
        grads = []
        for k in range(3):
            step = np.zeros(3)
            step[k] = FD_STEP_MM
            grads.append(activity_bq * (self.response(point + step) - self.response(point - step))
                         / (2 * FD_STEP_MM))
        grads.append(r0)
        if self.fit_background:
            grads.append(np.ones_like(r0))
        d = np.column_stack(grads) * self.live[:, None]
        lam = np.maximum(self.live * (self.other + b_cps + activity_bq * r0), 1e-12)
        info = (d / lam[:, None]).T @ d
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            return math.inf
        trace = float(np.trace(cov[:3, :3]))
        return math.sqrt(trace) if trace > 0 and math.isfinite(trace) else math.inf


def find_spots(model: ResponseModel, system: np.ndarray, centres_mm: np.ndarray,
               shape: tuple[int, int, int], box: tuple[np.ndarray, np.ndarray],
               tips_mm: np.ndarray, axes: np.ndarray, live_s: np.ndarray, counts: np.ndarray,
               background_cps: float | None) -> tuple[tuple[Spot, ...], float]:
    """Spots (largest activity first) and the background rate (module docstring)."""
    fit_b = background_cps is None
    b = float(counts.sum() / live_s.sum()) if background_cps is None else float(background_cps)
    other = np.zeros(len(live_s))
    found: list[tuple[np.ndarray, float, float]] = []
    while len(found) < MAX_SPOTS:
        fitter = PointFit(model, tips_mm, axes, live_s, counts, other, b, fit_b)
        if fit_b:
            b = fitter.null_background_cps()
            fitter = PointFit(model, tips_mm, axes, live_s, counts, other, b, fit_b)
        scores = score_map(system, live_s, counts, other, b).reshape(shape)
        best = None
        for index in local_maxima(scores)[:CANDIDATES]:
            centre = np.clip(centres_mm[index], box[0], box[1])
            local = (np.maximum(box[0], centre - FIT_REACH_MM),
                     np.minimum(box[1], centre + FIT_REACH_MM))
            point, activity, b_fit, nll = fitter.fit(centre, fitter.start_activity(centre),
                                                     model.skin_z_mm, local)
            ts = fitter.test_statistic(nll, b)
            if best is None or ts > best[0]:
                best = (ts, point, activity, b_fit)
        if best is None or best[0] < MIN_TEST_STATISTIC:
            break
        _, point, activity, b_fit = best
        found.append((point, activity, fitter.position_sd_mm(point, activity, b_fit)))
        other = other + activity * fitter.response(point)
        b = b_fit
    found, b = _refine(model, found, box, tips_mm, axes, live_s, counts, b, fit_b)
    if not found:
        return (), b
    largest = max(a for _, a, _ in found)
    spots = [Spot(float(p[0]), float(p[1]), float(p[2]), sd, a, a / largest)
             for p, a, sd in found]
    return tuple(sorted(spots, key=lambda s: -s.activity_bq)), b


def _refine(model: ResponseModel, found: list[tuple[np.ndarray, float, float]],
            box: tuple[np.ndarray, np.ndarray], tips_mm: np.ndarray, axes: np.ndarray,
            live_s: np.ndarray, counts: np.ndarray, b: float, fit_b: bool
            ) -> tuple[list[tuple[np.ndarray, float, float]], float]:
    """Refit each spot over the others (as found later ones may explain part of an earlier
    one: two shallow nodes first seen as one deeper point between them), dropping a spot that
    no longer passes MIN_TEST_STATISTIC, for REFINE_ROUNDS rounds."""
    spots = list(found)
    for _ in range(REFINE_ROUNDS):
        changed = False
        for i in sorted(range(len(spots)), key=lambda k: spots[k][1]):  # weakest first
            if i >= len(spots):
                continue
            others = [s for j, s in enumerate(spots) if j != i]
            other = np.zeros(len(live_s))
            for p, a, _ in others:
                other += a * model.block(tips_mm, axes, p[None])[:, 0]
            fitter = PointFit(model, tips_mm, axes, live_s, counts, other, b, fit_b)
            b_null = fitter.null_background_cps() if fit_b else b
            fitter = PointFit(model, tips_mm, axes, live_s, counts, other, b_null, fit_b)
            local = (np.maximum(box[0], spots[i][0] - FIT_REACH_MM),
                     np.minimum(box[1], spots[i][0] + FIT_REACH_MM))
            point, activity, b_fit, nll = fitter.fit(spots[i][0], spots[i][1],
                                                     model.skin_z_mm, local)
            if fitter.test_statistic(nll, b_null) < MIN_TEST_STATISTIC:
                spots = others
                b = b_null
                changed = True
                break
            moved = float(np.linalg.norm(point - spots[i][0]))
            spots[i] = (point, activity, fitter.position_sd_mm(point, activity, b_fit))
            b = b_fit
            changed = changed or moved > 0.5
        if not changed:
            break
    return spots, b
