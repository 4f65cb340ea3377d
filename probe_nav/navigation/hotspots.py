"""Hot spots of a sweep: point sources found one at a time by maximum likelihood.

Counts c_f ~ Poisson(live_f (o_f + b + a r_f(p))): o the rate of the spots found so far, b the
background, a point source of activity a at p with r its response (probe_nav.navigation.
response). Each round a score test at every voxel (is a point source there better than none,
b profiled: probe_nav.navigation.hotspots.score_map) gives the candidates, a point is fitted at
each (position and activity, and b unless given, by maximum likelihood), and the most
significant is accepted while 2 log L improves by at least MIN_TEST_STATISTIC.

Beside an injection site, o also holds a far field (probe_nav.navigation.farfield: a smooth
rate growing towards the site) when the data ask for one (search_spots), and a spot fitted
against the sides or the floor of the search box is counted as part of it, not reported: the
sweep cannot place it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage, optimize

from probe_nav.navigation.coverage import swept_around
from probe_nav.navigation.farfield import FarField, FieldFit
from probe_nav.navigation.response import ResponseModel

# A spot must improve 2 log L by this much over no spot. For a pure-noise peak that statistic is
# about chi-square with 4 degrees of freedom (x, y, z, activity), larger for the best of the
# many places tried; 20 (a chance of 5e-4 for one place) keeps most noise out while a 15 kBq
# node 35 mm deep (2 log L ~ 17-42 over 60 s) is often kept; a noise spot that passes has a
# large sd_mm.
MIN_TEST_STATISTIC = 20.0
MAX_SPOTS = 6  # at most this many spots
# The far field (an injection site's shine-through) must improve 2 log L by this much over a
# constant background: measured 3-18 without a site (17 sweeps: background alone and 30-40 mm
# nodes; chi-square with 5 degrees of freedom passes 25 with p ~ 1e-4) and 20-2800 beside a
# 20-75 MBq site 60-80 mm away.
FAR_MIN_TEST_STATISTIC = 25.0
# Before any spot is found, a far field must gain this much to be used from the start (a search
# saved): 250-2800 beside most sites; without one, up to 31 (two nodes not yet found).
FAR_FIRST_TEST_STATISTIC = 100.0
# A fitted spot this close to the search box's sides or floor is a source beyond the box
# (Powell stops on a bound within its xtol, 1e-3 mm), not a spot: search_spots.
EDGE_MM = 0.5
FAR_REFINE_ROUNDS = 2  # refinements of the spots, each followed by a refit of the far field
CANDIDATES = 6  # local maxima of the score map fitted per round
FIT_REACH_MM = 15.0  # a candidate's point is fitted within this distance of its voxel
REFINE_ROUNDS = 3  # rounds of refitting every spot over the others
FD_STEP_MM = 0.25  # finite-difference step of the Fisher information
SCORE_ROWS = 2048  # rows of the system matrix squared at once in score_map


def log_likelihood(counts: np.ndarray, mean: np.ndarray) -> float:
    """Poisson log-likelihood without the constant log(c!) term."""
    mean = np.maximum(mean, 1e-300)
    return float(np.sum(counts * np.log(mean) - mean))


@dataclass(frozen=True)
class Spot:
    """A hot spot: position (mm), its uncertainty (mm), activity (Bq), share of the largest,
    and whether the sweep went around it (probe_nav.navigation.coverage: else its place may
    have a second solution the sd cannot show)."""

    x_mm: float
    y_mm: float
    z_mm: float
    sd_mm: float
    activity_bq: float
    relative_activity: float = 1.0
    swept_around: bool = True

    def as_dict(self) -> dict[str, float | bool]:
        """The JSON form: position, sd_mm, relative_activity and swept_around."""
        return {"x_mm": self.x_mm, "y_mm": self.y_mm, "z_mm": self.z_mm,
                "sd_mm": self.sd_mm, "relative_activity": self.relative_activity,
                "swept_around": self.swept_around}


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
    w32 = w.astype(np.float32)
    i_aa = np.zeros(system.shape[1])
    for start in range(0, system.shape[0], SCORE_ROWS):  # A^2 a block of rows at a time: a
        rows = system[start:start + SCORE_ROWS]  # whole copy would double the matrix's memory
        i_aa += (w32[start:start + SCORE_ROWS] @ (rows * rows)).astype(np.float64)
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
                                bounds=bounds, options=self.optimizer_options())
        return np.asarray(res.x[:3]), math.exp(res.x[3]), self._b(res.x), float(res.fun)

    def optimizer_options(self) -> dict[str, float]:
        """Powell's stopping rule (tolerances in the parameters' units: mm and log activity)."""
        return {"xtol": 1e-3, "ftol": 1e-7}

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


@dataclass(frozen=True)
class SpotSearch:
    """What search_spots found: the spots (largest activity first), the constant background b,
    the far field's rate per frame (None if the sweep does not need one) and the far field's
    2 log L gain over b alone, given the spots."""

    spots: tuple[Spot, ...]
    background_cps: float
    far_cps: np.ndarray | None
    far_test_statistic: float


def find_spots(model: ResponseModel, system: np.ndarray, centres_mm: np.ndarray,
               shape: tuple[int, int, int], box: tuple[np.ndarray, np.ndarray],
               tips_mm: np.ndarray, axes: np.ndarray, live_s: np.ndarray, counts: np.ndarray,
               background_cps: float | None, far_field: bool = True
               ) -> tuple[tuple[Spot, ...], float]:
    """Spots (largest activity first) and the background rate (module docstring; with
    far_field, over a far field when the sweep needs one: search_spots)."""
    found = search_spots(model, system, centres_mm, shape, box, tips_mm, axes, live_s, counts,
                         background_cps, far_field)
    return found.spots, found.background_cps


def search_spots(model: ResponseModel, system: np.ndarray, centres_mm: np.ndarray,
                 shape: tuple[int, int, int], box: tuple[np.ndarray, np.ndarray],
                 tips_mm: np.ndarray, axes: np.ndarray, live_s: np.ndarray, counts: np.ndarray,
                 background_cps: float | None, far_field: bool = True) -> SpotSearch:
    """Spots with or without a far field (probe_nav.navigation.farfield: an injection site
    beside the sweep), whichever the data ask for: the far field is used when it improves
    2 log L by FAR_MIN_TEST_STATISTIC over b alone given the spots found. It is used from the
    start if it gains FAR_FIRST_TEST_STATISTIC before any spot, and otherwise tested after a
    search without it, which is then done again with it if it passes (without it, a site's
    shine-through is taken for a deep spot at the edge of the sweep, which then explains most
    of it)."""
    args = (model, system, centres_mm, shape, box, tips_mm, axes, live_s, counts,
            background_cps)
    if not far_field:
        return _search(*args, None)
    field = FarField(tips_mm, axes)
    first = _far_gain(field, model, tips_mm, axes, live_s, counts, (), background_cps)
    use = first[0] >= FAR_FIRST_TEST_STATISTIC
    found = _search(*args, field if use else None)
    gain, _ = _far_gain(field, model, tips_mm, axes, live_s, counts, found.spots,
                        background_cps)
    if use and gain < FAR_MIN_TEST_STATISTIC:  # the spots explain what it did: not needed
        return _with_gain(_search(*args, None), gain)
    if not use and gain >= FAR_MIN_TEST_STATISTIC:
        return _with_gain(_search(*args, field), gain)
    return _with_gain(found, gain)


def _with_gain(found: SpotSearch, gain: float) -> SpotSearch:
    return SpotSearch(found.spots, found.background_cps, found.far_cps, gain)


def _spots_rate(model: ResponseModel, tips_mm: np.ndarray, axes: np.ndarray,
                spots: Sequence[Spot] | Sequence[tuple[np.ndarray, float, float]]) -> np.ndarray:
    """The rate (cps) of point sources at every pose."""
    out = np.zeros(len(tips_mm))
    for s in spots:
        point, activity = ((np.array([s.x_mm, s.y_mm, s.z_mm]), s.activity_bq)
                           if isinstance(s, Spot) else (s[0], s[1]))
        out += activity * model.block(tips_mm, axes, np.asarray(point)[None])[:, 0]
    return out


def _far_gain(field: FarField, model: ResponseModel, tips_mm: np.ndarray, axes: np.ndarray,
              live_s: np.ndarray, counts: np.ndarray, spots: Sequence[Spot],
              background_cps: float | None) -> tuple[float, FieldFit]:
    """2 log L gained by adding the far field to b over the spots (b fitted in both unless
    given), and the far field's fit."""
    fit_b = background_cps is None
    rate = _spots_rate(model, tips_mm, axes, spots)
    b0 = float(counts.sum() / live_s.sum()) if background_cps is None else float(background_cps)
    null = PointFit(model, tips_mm, axes, live_s, counts, rate, b0, fit_b)
    b = null.null_background_cps() if fit_b else b0
    fit = field.fit(live_s, counts, rate, b, fit_b)
    return null.test_statistic(fit.nll, b), fit


def _search(model: ResponseModel, system: np.ndarray, centres_mm: np.ndarray,
            shape: tuple[int, int, int], box: tuple[np.ndarray, np.ndarray],
            tips_mm: np.ndarray, axes: np.ndarray, live_s: np.ndarray, counts: np.ndarray,
            background_cps: float | None, field: FarField | None) -> SpotSearch:
    """One search (module docstring), over the far field if one is given (refitted with b
    after every new spot and every refinement)."""
    fit_b = background_cps is None
    b = float(counts.sum() / live_s.sum()) if background_cps is None else float(background_cps)
    spots_rate = np.zeros(len(live_s))
    far = np.zeros(len(live_s))
    theta = None

    def refit_far() -> None:
        nonlocal b, far, theta
        if field is not None:
            fit = field.fit(live_s, counts, spots_rate, b, fit_b, theta)
            b, far, theta = fit.background_cps, fit.rate_cps, fit.theta

    found: list[tuple[np.ndarray, float, float]] = []
    refit_far()
    while len(found) < MAX_SPOTS:
        other = spots_rate + far
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
        spots_rate = spots_rate + activity * fitter.response(point)
        b = b_fit
        refit_far()
    for _ in range(FAR_REFINE_ROUNDS if field is not None else 1):
        found, b = _refine(model, found, box, tips_mm, axes, live_s, counts, b, fit_b, far)
        spots_rate = _spots_rate(model, tips_mm, axes, found)
        refit_far()
    outside = [s for s in found if at_edge(s[0], box)]
    inside = [s for s in found if not at_edge(s[0], box)]
    far_cps = far if field is not None else None
    if outside:  # sources the sweep cannot place: part of the far field, not spots
        far_cps = (far if far_cps is None else far_cps) + _spots_rate(model, tips_mm, axes,
                                                                        outside)
    if not inside:
        return SpotSearch((), b, far_cps, 0.0)
    largest = max(a for _, a, _ in inside)
    around = swept_around(tips_mm, np.array([p for p, _, _ in inside]))
    spots = [Spot(float(p[0]), float(p[1]), float(p[2]), sd, a, a / largest, bool(ok))
             for (p, a, sd), ok in zip(inside, around, strict=True)]
    return SpotSearch(tuple(sorted(spots, key=lambda s: -s.activity_bq)), b, far_cps, 0.0)


def at_edge(point_mm: np.ndarray, box: tuple[np.ndarray, np.ndarray]) -> bool:
    """Whether a fitted point rests on the search box's sides or floor (within EDGE_MM): its
    likelihood still rises outwards, so the source is beyond what the sweep can localise (an
    injection site's shine-through fits there). The top is the skin, where nodes may be."""
    lo, hi = box
    p = np.asarray(point_mm, float)
    return bool(np.any(p[:2] - lo[:2] < EDGE_MM) or np.any(hi[:2] - p[:2] < EDGE_MM)
                or p[2] - lo[2] < EDGE_MM)


_at_edge = at_edge  # its former name


def _refine(model: ResponseModel, found: list[tuple[np.ndarray, float, float]],
            box: tuple[np.ndarray, np.ndarray], tips_mm: np.ndarray, axes: np.ndarray,
            live_s: np.ndarray, counts: np.ndarray, b: float, fit_b: bool,
            base_cps: np.ndarray | None = None
            ) -> tuple[list[tuple[np.ndarray, float, float]], float]:
    """Refit each spot over the others (as found later ones may explain part of an earlier
    one: two shallow nodes first seen as one deeper point between them), dropping a spot that
    no longer passes MIN_TEST_STATISTIC, for REFINE_ROUNDS rounds; base_cps (the far field)
    is a fixed rate under them all."""
    spots = list(found)
    for _ in range(REFINE_ROUNDS):
        changed = False
        for i in sorted(range(len(spots)), key=lambda k: spots[k][1]):  # weakest first
            if i >= len(spots):
                continue
            others = [s for j, s in enumerate(spots) if j != i]
            other = _spots_rate(model, tips_mm, axes, others)
            if base_cps is not None:
                other += base_cps
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
