"""Temporal calibration: the pose-to-count latency (probe_nav.navigation.sync defines it and its
sign) from a sweep back and forth over a point source.

With a wrong latency every frame is posed where the probe was a little earlier or later: the
forward passes put the source ahead of where the backward passes put it, so no single point
explains the counts well. For each candidate lag L the frames are re-posed at their host time
less L (the poses interpolated in time) and a point source (position, activity, background) is
fitted by maximum likelihood (probe_nav.navigation.hotspots.PointFit, warm-started from the fit
at lag 0); the profile log-likelihood is largest at the true latency. A parabola fitted to the
profile around its maximum gives the estimate between the scanned lags and, from its curvature,
the standard deviation (log L falls by 1/2 at one sd). Only frames that can be re-posed at every
candidate lag are used, so the profiles compare the same counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from probe_nav.navigation.hotspots import PointFit, local_maxima, score_map
from probe_nav.navigation.localise import sweep_grid
from probe_nav.navigation.response import ResponseModel

MAX_LAG_S = 0.3  # lags scanned: -MAX_LAG_S .. +MAX_LAG_S
STEP_S = 0.02  # between scanned lags
PARABOLA_HALF_WIDTH = 2  # scanned lags each side of the best fitted by the parabola
START_VOXEL_MM = 5.0  # the grid of the score map that gives the first fit its start
MIN_FRAMES = 50


class LatencyError(ValueError):
    """The sweep cannot give a latency (too few frames, no source in it)."""


@dataclass(frozen=True)
class LatencyResult:
    """The estimated latency, its sd, and the profile it came from."""

    latency_s: float
    sd_s: float
    lags_s: np.ndarray  # the scanned lags
    log_likelihood: np.ndarray  # the profile log-likelihood at each, minus its maximum
    source_mm: np.ndarray  # the point source fitted at the best scanned lag
    activity_bq: float
    background_cps: float
    n_frames: int
    at_edge: bool  # the best scanned lag is the first or last: the latency may be beyond


def repose(pose_t_s: np.ndarray, tips_mm: np.ndarray, axes: np.ndarray, query_t_s: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray]:
    """Tips and unit axes at the query times, linear in time between the poses (the axis
    renormalised: between poses 50 ms apart it turns a degree or two, where this is slerp
    within 1e-4 rad)."""
    tips = np.column_stack([np.interp(query_t_s, pose_t_s, tips_mm[:, k]) for k in range(3)])
    u = np.column_stack([np.interp(query_t_s, pose_t_s, axes[:, k]) for k in range(3)])
    return tips, u / np.linalg.norm(u, axis=1, keepdims=True)


def _start(model: ResponseModel, tips: np.ndarray, axes: np.ndarray, live: np.ndarray,
           counts: np.ndarray) -> np.ndarray:
    """Where to start the first fit: the best voxel of the score map on a coarse grid."""
    grid = sweep_grid(tips, model.skin_z_mm, START_VOXEL_MM, margin_mm=10.0, depth_mm=50.0)
    system = model.matrix(tips, axes, grid.centres_mm)
    b = float(counts.sum() / live.sum())
    scores = score_map(system, live, counts, np.zeros(len(live)), b).reshape(grid.shape)
    peaks = local_maxima(scores)
    if len(peaks) == 0:
        raise LatencyError("no point source in the sweep")
    return np.asarray(grid.centres_mm[peaks[0]])


def _parabola(lags: np.ndarray, ll: np.ndarray, best: int, step_s: float
              ) -> tuple[float, float]:
    """(vertex, sd) of the least-squares parabola through the lags around the best; the best
    lag and one step if the profile is not curved down there."""
    lo, hi = max(0, best - PARABOLA_HALF_WIDTH), min(len(lags), best + PARABOLA_HALF_WIDTH + 1)
    if hi - lo < 3:
        return float(lags[best]), step_s
    x = lags[lo:hi] - lags[best]
    a, b, _ = np.polyfit(x, ll[lo:hi], 2)
    if a >= 0:
        return float(lags[best]), step_s
    vertex = -b / (2 * a)
    if not abs(vertex) <= PARABOLA_HALF_WIDTH * step_s:
        return float(lags[best]), step_s
    return float(lags[best] + vertex), float(1.0 / math.sqrt(-2.0 * a))


def estimate_latency(model: ResponseModel, pose_t_s: np.ndarray, tips_mm: np.ndarray,
                     axes: np.ndarray, frame_t_s: np.ndarray, live_s: np.ndarray,
                     counts: np.ndarray, max_lag_s: float = MAX_LAG_S, step_s: float = STEP_S,
                     background_cps: float | None = None) -> LatencyResult:
    """The pose-to-count latency from poses (times, tips, unit axes, in time order) and frames
    (mid-interval host times, live times, window counts): module docstring."""
    pose_t = np.asarray(pose_t_s, float)
    if len(pose_t) < 2 or np.any(np.diff(pose_t) <= 0):
        raise LatencyError("the poses must be at least two, in increasing time")
    if not (max_lag_s > 0 and step_s > 0 and step_s <= max_lag_s):
        raise LatencyError("the lags to scan must be positive, the step at most the largest")
    n_side = math.floor(max_lag_s / step_s + 1e-9)
    lags = np.arange(-n_side, n_side + 1) * step_s
    t = np.asarray(frame_t_s, float)
    usable = (t - lags[-1] >= pose_t[0]) & (t - lags[0] <= pose_t[-1]) \
        & (np.asarray(live_s) > 0)
    if usable.sum() < MIN_FRAMES:
        raise LatencyError(f"{int(usable.sum())} frames can be re-posed at every lag "
                           f"(at least {MIN_FRAMES} are needed)")
    t, live = t[usable], np.asarray(live_s, float)[usable]
    c = np.asarray(counts, float)[usable]
    tips_mm, axes = np.asarray(tips_mm, float), np.asarray(axes, float)
    fit_b = background_cps is None
    b0 = float(c.sum() / live.sum()) if fit_b else float(background_cps)  # type: ignore[arg-type]
    tips0, axes0 = repose(pose_t, tips_mm, axes, t)
    point = _start(model, tips0, axes0, live, c)
    box = (np.array([*(tips0[:, :2].min(axis=0) - 10.0), model.skin_z_mm - 60.0]),
           np.array([*(tips0[:, :2].max(axis=0) + 10.0), model.skin_z_mm]))
    fitter = PointFit(model, tips0, axes0, live, c, np.zeros(len(c)), b0, fit_b)
    point, activity, b, _ = fitter.fit(point, fitter.start_activity(point), model.skin_z_mm,
                                       box)
    ll = np.empty(len(lags))
    fits = []
    for i, lag in enumerate(lags):
        tips_l, axes_l = repose(pose_t, tips_mm, axes, t - lag)
        fitter = PointFit(model, tips_l, axes_l, live, c, np.zeros(len(c)), b, fit_b)
        p, a, b_l, nll = fitter.fit(point, activity, model.skin_z_mm, box)
        ll[i] = -nll
        fits.append((p, a, b_l))
    best = int(np.argmax(ll))
    latency, sd = _parabola(lags, ll, best, step_s)
    p, a, b_best = fits[best]
    return LatencyResult(latency, sd, lags, ll - ll[best], p, a, b_best, len(c),
                         best in (0, len(lags) - 1))
