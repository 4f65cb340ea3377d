"""The fits of live reconstruction: hotspots.PointFit stopping sooner and calling back, and the
far field (an injection site beside the sweep) of a growing sweep.

Live fits stop sooner than locate's (xtol 1e-3, ftol 1e-7): a refit from the last position
then takes ~300 likelihood evaluations instead of ~1000 (measured on a 120 s sweep: the same
point within 0.02 mm). Every BETWEEN_EVALUATIONS evaluations the fit calls `between` (if set),
so that a caller can do other work (image new frames) during a fit of a few hundred ms.

LiveFarField is locate's far field (probe_nav.navigation.farfield, the same test as
hotspots.search_spots) refitted at every spot cycle, warm-started: a few ms.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from probe_nav.navigation.farfield import FEATURE_SCALE_MM, FarField
from probe_nav.navigation.hotspots import (
    FAR_FIRST_TEST_STATISTIC,
    FAR_MIN_TEST_STATISTIC,
    PointFit,
)
from probe_nav.navigation.response import ResponseModel

LIVE_XTOL, LIVE_FTOL = 1e-2, 1e-6
BETWEEN_EVALUATIONS = 40  # a fit calls `between` this often (~20-40 ms of work)


class LiveFit(PointFit):
    """PointFit whose fit stops at LIVE_XTOL / LIVE_FTOL (and maxfev evaluations if given)."""

    maxfev: int | None = None
    between: Callable[[], None] | None = None  # LiveReconstruction.between_steps
    evaluations = 0

    def neg_log_likelihood(self, params: np.ndarray) -> float:
        """PointFit's, calling `between` every BETWEEN_EVALUATIONS evaluations."""
        self.evaluations += 1
        if self.between is not None and self.evaluations % BETWEEN_EVALUATIONS == 0:
            self.between()
        return super().neg_log_likelihood(params)

    def optimizer_options(self) -> dict[str, float]:
        """The live tolerances (and maxfev evaluations if given)."""
        options: dict[str, float] = {"xtol": LIVE_XTOL, "ftol": LIVE_FTOL}
        if self.maxfev is not None:
            options["maxfev"] = self.maxfev
        return options


def _centre(tips_mm: np.ndarray) -> np.ndarray:
    """The centre FarField measures the tips' offsets from (the middle of their x-y box)."""
    return (tips_mm[:, :2].min(axis=0) + tips_mm[:, :2].max(axis=0)) / 2.0


class LiveFarField:
    """The far field of a growing sweep, tested and refitted at each spot cycle (refit). theta
    is kept with the centre it was fitted about, so that its rate on later poses (the sweep's
    box grows, old poses are forgotten) stays the same function of the pose."""

    def __init__(self) -> None:
        self.theta: np.ndarray | None = None  # in use when not None
        self.gain = math.nan  # 2 log L over b alone at the last test
        self._last: np.ndarray | None = None  # the last fit (a warm start), about _centre
        self._centre = np.zeros(2)

    @property
    def active(self) -> bool:
        """Whether the far field is part of the background now."""
        return self.theta is not None

    def _about(self, theta: np.ndarray, tips_mm: np.ndarray) -> np.ndarray:
        """theta for FarField(tips_mm) (its own centre): the same rate at every pose."""
        shifted = np.array(theta, float)
        shifted[0] += float(shifted[1:3] @ (_centre(tips_mm) - self._centre)) / FEATURE_SCALE_MM
        return shifted

    def rate_cps(self, tips_mm: np.ndarray, axes: np.ndarray) -> np.ndarray:
        """Its rate at each pose (zeros when not in use)."""
        if self.theta is None or len(tips_mm) == 0:
            return np.zeros(len(tips_mm))
        return FarField(tips_mm, axes).rate(self._about(self.theta, tips_mm))

    def refit(self, model: ResponseModel, tips_mm: np.ndarray, axes: np.ndarray,
              live_s: np.ndarray, counts: np.ndarray, spots_cps: np.ndarray,
              background_cps: float | None, b_start_cps: float, searched: bool
              ) -> float | None:
        """Fit the far field over the spots' rate (b fitted with it unless background_cps is
        given) and use it if it gains FAR_MIN_TEST_STATISTIC in 2 log L over b alone, or
        FAR_FIRST_TEST_STATISTIC before any spot was sought (hotspots.search_spots' rule).
        Returns the constant b of the fit when it is used, else None."""
        fit_b = background_cps is None
        b0 = b_start_cps if background_cps is None else float(background_cps)
        null = PointFit(model, tips_mm, axes, live_s, counts, spots_cps, b0, fit_b)
        b_null = null.null_background_cps() if fit_b else b0
        start = None if self._last is None else self._about(self._last, tips_mm)
        fit = FarField(tips_mm, axes).fit(live_s, counts, spots_cps, b_null, fit_b, start)
        self._last, self._centre = fit.theta, _centre(tips_mm)
        self.gain = null.test_statistic(fit.nll, b_null)
        threshold = FAR_MIN_TEST_STATISTIC if searched else FAR_FIRST_TEST_STATISTIC
        self.theta = fit.theta if self.gain >= threshold else None
        return fit.background_cps if self.theta is not None else None
