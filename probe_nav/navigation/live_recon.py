"""Live reconstruction: the activity image and hot spots of a sweep, updated as frames come.

The same model and statistics as `locate` (probe_nav.navigation.localise and hotspots), made
incremental and bounded for a whole operation:

* Frames are merged while the probe stands still: a frame whose pose is within MERGE_MM and
  MERGE_DEG of the previous kept pose adds its live time and counts to it (the response depends
  on the pose only), so a probe held in place for minutes costs one row.
* The system matrix (kept poses x voxels, float32) gains a row per kept pose when it is added;
  its grid (voxel_mm, skin down DEPTH_MM) grows with the sweep in steps of GROW_VOXELS voxels, the
  new voxels' columns computed alone. Its size is capped at max_elements: beyond it the oldest
  poses are forgotten (`dropped_frames`): memory and time per update stay bounded (64 MB and a
  few hundred ms by default) however long the operation; a new sweep starts with reset().
* The image is MLEM with the current background, ITERATIONS iterations from localise's faint
  start at every update: the same image `locate` shows for the same frames. Warm-starting from
  the previous image was not adopted: iterations then accumulate over updates and MLEM fits the
  noise as they do (localise.mlem), and the cold 10 iterations already cost well under the
  2 Hz budget (benchmarks/bench_navigation.py).
* The spots are warm-started: every spot_every_frames new frames each known spot is refitted
  over the others from where it was (and dropped if it no longer passes hotspots'
  MIN_TEST_STATISTIC), then one new spot is sought at the best of NEW_CANDIDATES local maxima of
  the score map; find_spots' whole search (seconds) is spread over updates (update_spots: one
  fit per call, at a looser tolerance than locate's) and finish_spots() runs a whole search at
  the end of a sweep. `spots_age_frames` says how many frames came since the spots were fitted.
  A fit calls `between_steps` now and then, so that a caller can image new frames meanwhile.
* Beside an injection site, as locate (hotspots.search_spots): at the start of every spot cycle
  the far field (live_fit.LiveFarField, a smooth rate growing towards the site) is refitted over
  the spots and joins the background while it passes locate's test; and a spot fitted against
  the search box's sides or floor (hotspots.at_edge) is not reported: with the far field in use
  it is dropped (the field takes its rate), without it it stays a hidden source under the others
  and the image (`hidden_spots`), so that the shine-through is never shown as a spot.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from probe_nav.navigation.coverage import swept_around
from probe_nav.navigation.hotspots import (
    FIT_REACH_MM,
    MAX_SPOTS,
    MIN_TEST_STATISTIC,
    PointFit,
    Spot,
    at_edge,
    local_maxima,
    score_map,
)
from probe_nav.navigation.live_fit import LiveFarField, LiveFit
from probe_nav.navigation.localise import (
    DEPTH_MM,
    ITERATIONS,
    MARGIN_MM,
    SPOT_MARGIN_MM,
    Grid,
    Image,
    mlem,
)
from probe_nav.navigation.response import BYTES_PER_CHUNK_ELEMENT, ResponseModel

VOXEL_MM = 4.0  # live voxels: 0.42 times as many as locate's 3 mm, as much less time
GROW_VOXELS = 5  # the grid's x-y bounds move in steps of this many voxels
MERGE_MM = 1.0  # a frame this close to the previous kept pose (and MERGE_DEG) is merged into it
MERGE_DEG = 2.0
MAX_ELEMENTS = 1 << 24  # system matrix elements kept (float32: 64 MB)
LIVE_CHUNK_ELEMENTS = 1 << 18  # system rows built this many elements at a time (~29 MB of temps)
# The most memory the live reconstruction takes: the matrix, a second one while it grows or the
# grid moves (both float32), and the temporaries of building a chunk of rows.
MEMORY_BOUND_BYTES = 2 * 4 * MAX_ELEMENTS + BYTES_PER_CHUNK_ELEMENT * LIVE_CHUNK_ELEMENTS
MIN_POSES = 20  # kept poses before any image or spot
SPOT_EVERY_FRAMES = 20  # frames between spot updates (2 s at 10 Hz)
NEW_CANDIDATES = 3  # score-map maxima fitted per spot update
REFIT_MAXFEV = 400  # a refit stops after this many evaluations (it goes on next cycle)


@dataclass(frozen=True, eq=False)
class _Fit:
    """A spot being tracked: its fitted position, activity and position sd."""

    position_mm: np.ndarray
    activity_bq: float
    sd_mm: float
    at_edge: bool = False  # against the search box's sides or floor: not reported


@dataclass(frozen=True)
class ReconSnapshot:
    """What the reconstruction shows now."""

    spots: tuple[Spot, ...]  # largest activity first
    image: Image | None  # None until MIN_POSES poses
    background_cps: float  # NaN until estimated
    n_frames: int  # frames added since the last reset
    n_poses: int  # poses kept (after merging and the cap)
    spots_age_frames: int  # frames added since the spots were last fitted
    dropped_frames: int  # frames forgotten to the size cap
    far_field_cps: float | None = None  # the far field's mean rate over the poses, None unused
    hidden_spots: int = 0  # fits against the search box's sides or floor, not in spots


def _aligned_axis(lo: float, hi: float, step: float, voxel: float) -> np.ndarray:
    """Voxel centres covering [lo, hi] with bounds on multiples of step (so the centres of a
    grown grid include the old ones exactly)."""
    a = math.floor(lo / step) * step
    b = math.ceil(hi / step) * step
    n = max(1, round((b - a) / voxel))
    return a + (np.arange(n) + 0.5) * voxel


class LiveReconstruction:
    """Incremental localisation of one sweep (module docstring). Not thread-safe: one thread
    (the Navigator's worker) adds and updates."""

    def __init__(self, model: ResponseModel, voxel_mm: float = VOXEL_MM,
                 background_cps: float | None = None, max_elements: int = MAX_ELEMENTS,
                 spot_every_frames: int = SPOT_EVERY_FRAMES, merge_mm: float = MERGE_MM,
                 merge_deg: float = MERGE_DEG) -> None:
        if not voxel_mm > 0:
            raise ValueError(f"the voxel size must be positive, got {voxel_mm}")
        self.model = model
        self.voxel_mm = float(voxel_mm)
        self.fixed_background_cps = background_cps
        self.max_elements = int(max_elements)
        self.spot_every_frames = max(1, int(spot_every_frames))
        self.merge_mm = merge_mm
        self.merge_cos = math.cos(math.radians(merge_deg))
        # Called now and then during a spot fit (which takes up to a few hundred ms): the caller
        # may add frames and call update_image there, never update_spots (the fit works on its
        # own copies of the frames and changes the spots only when it ends).
        self.between_steps: Callable[[], None] | None = None
        n_z = max(1, math.ceil(DEPTH_MM / self.voxel_mm))
        self._z = model.skin_z_mm - (np.arange(n_z) + 0.5) * self.voxel_mm
        self.reset()

    def reset(self) -> None:
        """Forget everything: a new sweep."""
        self._tips: list[tuple[float, float, float]] = []
        self._axes: list[tuple[float, float, float]] = []
        self._live: list[float] = []
        self._counts: list[float] = []
        self._merged: list[int] = []  # frames in each kept pose
        self._grid: Grid | None = None
        self._system = np.zeros((0, 0), np.float32)  # rows: capacity; the first _rows are used
        self._rows = 0
        self._spots: list[_Fit] = []  # with the hidden ones (at_edge)
        self._far = LiveFarField()
        self._jobs: list[_Fit | int] = []  # the steps left of the spot cycle under way
        self._seeks = 0  # new-spot searches so far (rotates the candidate tried)
        self._cycle_frames = 0  # n_frames when the cycle under way started
        self._spots_frames: int | None = None  # n_frames when the last whole cycle started
        self._image: Image | None = None
        self._b = math.nan
        self._n_frames = 0
        self._dropped = 0
        self.spot_steps = 0  # spot fits run since the last reset (a new result to publish)

    # ------------------------------------------------------------ frames

    def add(self, position_mm: tuple[float, float, float] | np.ndarray,
            axis: tuple[float, float, float] | np.ndarray, live_s: float, counts: float) -> None:
        """One frame: the tip and unit axis at its mid-interval, its live time and window
        counts. Merged into the previous pose if the probe has not moved (MERGE_MM, MERGE_DEG)."""
        if not (live_s > 0 and math.isfinite(live_s)) or not (counts >= 0):
            return
        p = (float(position_mm[0]), float(position_mm[1]), float(position_mm[2]))
        u = np.asarray(axis, float)
        u = u / np.linalg.norm(u)
        a = (float(u[0]), float(u[1]), float(u[2]))
        self._n_frames += 1
        if self._tips and math.dist(p, self._tips[-1]) < self.merge_mm \
                and float(np.dot(a, self._axes[-1])) > self.merge_cos:
            self._live[-1] += float(live_s)
            self._counts[-1] += float(counts)
            self._merged[-1] += 1
            return
        self._tips.append(p)
        self._axes.append(a)
        self._live.append(float(live_s))
        self._counts.append(float(counts))
        self._merged.append(1)

    # ------------------------------------------------------------ the system matrix

    def _grid_for(self, tips: np.ndarray) -> Grid:
        step = GROW_VOXELS * self.voxel_mm
        lo = tips[:, :2].min(axis=0) - MARGIN_MM
        hi = tips[:, :2].max(axis=0) + MARGIN_MM
        if self._grid is not None:  # the grid only grows
            lo = np.minimum(lo, [self._grid.x_mm[0], self._grid.y_mm[0]])
            hi = np.maximum(hi, [self._grid.x_mm[-1], self._grid.y_mm[-1]])
        return Grid(_aligned_axis(lo[0], hi[0], step, self.voxel_mm),
                    _aligned_axis(lo[1], hi[1], step, self.voxel_mm), self._z)

    def _sync_system(self) -> None:
        """Columns for a grown grid, the oldest poses dropped to the cap, rows for the new
        poses (in that order: the matrix never holds more than max_elements)."""
        grid = self._grid_for(np.asarray(self._tips))
        if self._grid is None or grid.shape != self._grid.shape:
            rows = slice(0, self._rows)
            self._regrid(grid, np.asarray(self._tips[rows]), np.asarray(self._axes[rows]))
        n_voxels = int(np.prod(grid.shape))
        keep = max(MIN_POSES, self.max_elements // n_voxels)
        n = len(self._tips)
        if n > keep:
            drop = min(n - keep + keep // 10, n - MIN_POSES)  # a tenth more: not a copy per frame
            gone = min(drop, self._rows)
            self._system[: self._rows - gone] = self._system[gone:self._rows]
            self._rows -= gone
            self._dropped += sum(self._merged[:drop])
            for column in (self._tips, self._axes, self._live, self._counts, self._merged):
                del column[:drop]
            n -= drop
        if n > self._system.shape[0]:
            size = min(max(n, 2 * self._system.shape[0], 64), max(n, keep))
            grown = np.empty((size, n_voxels), np.float32)
            grown[: self._rows] = self._system[: self._rows]
            self._system = grown
        if n > self._rows:
            self._system[self._rows:n] = self.model.matrix(
                np.asarray(self._tips[self._rows:]), np.asarray(self._axes[self._rows:]),
                grid.centres_mm, LIVE_CHUNK_ELEMENTS)
            self._rows = n

    def _regrid(self, grid: Grid, tips: np.ndarray, axes: np.ndarray) -> None:
        """Move the kept rows to a grown grid: old voxels copied, new ones computed."""
        old = self._grid
        shape = grid.shape
        system = np.empty((max(len(tips), 64), int(np.prod(shape))), np.float32)
        is_new = np.ones(shape, bool)
        if old is not None and len(tips):
            ix = round((old.x_mm[0] - grid.x_mm[0]) / self.voxel_mm)
            iy = round((old.y_mm[0] - grid.y_mm[0]) / self.voxel_mm)
            is_new[ix:ix + old.shape[0], iy:iy + old.shape[1], :] = False
            target = np.zeros(shape, bool)
            target[ix:ix + old.shape[0], iy:iy + old.shape[1], :] = True
            system[: len(tips), target.ravel()] = self._system[: len(tips)]
            fresh = is_new.ravel()
            system[: len(tips), fresh] = self.model.matrix(tips, axes, grid.centres_mm[fresh],
                                                           LIVE_CHUNK_ELEMENTS)
        self._system, self._grid = system, grid
        self._rows = len(tips) if old is not None else 0

    # ------------------------------------------------------------ the update

    def _arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(system, tips, axes, live, counts) of the kept poses, the system brought up to date."""
        self._sync_system()
        return (self._system[: self._rows], np.asarray(self._tips), np.asarray(self._axes),
                np.asarray(self._live), np.asarray(self._counts))

    def update_image(self) -> ReconSnapshot:
        """Bring the system matrix up to date and reconstruct the image (ITERATIONS of MLEM,
        a few hundred ms at most); the spots stay as they were."""
        if len(self._tips) < MIN_POSES:
            return self.snapshot()
        system, tips, axes, live, counts = self._arrays()
        assert self._grid is not None
        far = self._far.rate_cps(tips, axes)
        if not self._spots:  # the background alone explains the counts so far
            self._b = self._fitter(tips, axes, live, counts, far)[1]
        # as locate: the hidden spots' rate is part of the background the image is made over
        far += self._spots_cps(tips, axes, [f for f in self._spots if f.at_edge])
        x, ll = mlem(system, live, counts, self._b + far if far.any() else self._b)
        self._image = Image(self._grid, x, self._b, ITERATIONS, ll)
        return self.snapshot()

    def update_spots(self) -> ReconSnapshot:
        """One step of the spot search (one point fit, ~0.1-0.5 s): every spot_every_frames
        frames a cycle starts that refits each spot from where it was, weakest first, then
        seeks one new spot; each call runs the next step of the cycle."""
        if len(self._tips) < MIN_POSES:
            return self.snapshot()
        if not self._jobs:
            if self._spots_frames is not None \
                    and self._n_frames - self._cycle_frames < self.spot_every_frames:
                return self.snapshot()
            self._start_cycle(seeks=1)
        self._run_job(self._jobs.pop(0))
        if not self._jobs:
            self._spots_frames = self._cycle_frames
        return self.snapshot()

    @property
    def spot_cycle_open(self) -> bool:
        """Whether a spot cycle is under way (update_spots has steps left)."""
        return bool(self._jobs)

    def update(self) -> ReconSnapshot:
        """update_image, then update_spots."""
        self.update_image()
        return self.update_spots()

    def finish_spots(self) -> ReconSnapshot:
        """A whole spot cycle now, on every frame so far, trying NEW_CANDIDATES places for a
        new spot (the end of a sweep: seconds)."""
        if len(self._tips) < MIN_POSES:
            return self.snapshot()
        self._start_cycle(seeks=NEW_CANDIDATES)
        while self._jobs:
            self._run_job(self._jobs.pop(0))
        self._spots_frames = self._cycle_frames
        return self.update_image()

    def snapshot(self) -> ReconSnapshot:
        """The image, spots and counters now."""
        shown = [f for f in self._spots if not f.at_edge]
        largest = max((f.activity_bq for f in shown), default=1.0)
        around = swept_around(np.asarray(self._tips).reshape(-1, 3),
                              np.array([f.position_mm for f in shown]).reshape(-1, 3))
        spots = sorted((Spot(float(f.position_mm[0]), float(f.position_mm[1]),
                             float(f.position_mm[2]), f.sd_mm, f.activity_bq,
                             f.activity_bq / largest, bool(ok))
                        for f, ok in zip(shown, around, strict=True)),
                       key=lambda s: -s.activity_bq)
        age = self._n_frames - (self._spots_frames if self._spots_frames is not None else 0)
        far = None
        if self._far.active and self._tips:
            far = float(self._far.rate_cps(np.asarray(self._tips), np.asarray(self._axes)).mean())
        return ReconSnapshot(tuple(spots), self._image, self._b, self._n_frames,
                             len(self._tips), age, self._dropped, far,
                             len(self._spots) - len(shown))

    # ------------------------------------------------------------ the spot search

    def _start_cycle(self, seeks: int) -> None:
        self._cycle_frames = self._n_frames
        self._refit_far()
        self._jobs = [*sorted(self._spots, key=lambda f: f.activity_bq), *range(seeks)]

    def _box(self, tips: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lo = np.array([*(tips[:, :2].min(axis=0) - SPOT_MARGIN_MM),
                       self._z.min() - self.voxel_mm / 2])
        hi = np.array([*(tips[:, :2].max(axis=0) + SPOT_MARGIN_MM), self.model.skin_z_mm])
        return lo, hi

    def _spots_cps(self, tips: np.ndarray, axes: np.ndarray, fits: list[_Fit]) -> np.ndarray:
        """The rate (cps) of fitted spots at every pose."""
        out = np.zeros(len(tips))
        for f in fits:
            out += f.activity_bq * self.model.block(tips, axes, f.position_mm[None])[:, 0]
        return out

    def _refit_far(self) -> None:
        """Test and refit the far field over the reported spots (live_fit.LiveFarField); in
        use, it takes the rate of the hidden spots, which are dropped."""
        _, tips, axes, live, counts = self._arrays()
        shown = [f for f in self._spots if not f.at_edge]
        b0 = self._b if math.isfinite(self._b) else float(counts.sum() / live.sum())
        b = self._far.refit(self.model, tips, axes, live, counts,
                            self._spots_cps(tips, axes, shown), self.fixed_background_cps,
                            b0, bool(shown) or self._seeks > 0)
        if b is not None:
            self._spots, self._b = shown, b

    def _fitter(self, tips: np.ndarray, axes: np.ndarray, live: np.ndarray, counts: np.ndarray,
                other: np.ndarray) -> tuple[LiveFit, float]:
        """A point fitter over `other` with the null background (estimated unless fixed)."""
        fixed = self.fixed_background_cps
        if fixed is None:
            b0 = self._b if math.isfinite(self._b) else float(counts.sum() / live.sum())
            b = PointFit(self.model, tips, axes, live, counts, other, b0,
                         True).null_background_cps()
        else:
            b = fixed
        fitter = LiveFit(self.model, tips, axes, live, counts, other, b, fixed is None)
        fitter.between = self.between_steps
        return fitter, b

    def _run_job(self, job: _Fit | int) -> None:
        """Refit one spot over the others (dropping it if it no longer passes), or (an int) seek
        a new one at one of the NEW_CANDIDATES best local maxima of the score map, in turn:
        the best first, the next ones at the next seeks."""
        system, tips, axes, live, counts = self._arrays()
        assert self._grid is not None
        self.spot_steps += 1
        box = self._box(tips)
        others = [f for f in self._spots if f is not job]
        other = self._spots_cps(tips, axes, others) + self._far.rate_cps(tips, axes)
        fitter, b_null = self._fitter(tips, axes, live, counts, other)
        if isinstance(job, _Fit):
            if job not in self._spots:
                return
            start, activity = np.clip(job.position_mm, box[0], box[1]), job.activity_bq
            fitter.maxfev = REFIT_MAXFEV
        else:
            if len(self._spots) >= MAX_SPOTS:
                return
            scores = score_map(system, live, counts, other, b_null).reshape(self._grid.shape)
            peaks = local_maxima(scores)
            if len(peaks) == 0:
                return
            pick = self._seeks % min(len(peaks), NEW_CANDIDATES)
            self._seeks += 1
            start = np.clip(self._grid.centres_mm[peaks[pick]], box[0], box[1])
            activity = fitter.start_activity(start)
        local = (np.maximum(box[0], start - FIT_REACH_MM), np.minimum(box[1], start + FIT_REACH_MM))
        point, activity, b_fit, nll = fitter.fit(start, activity, self.model.skin_z_mm, local)
        passes = fitter.test_statistic(nll, b_null) >= MIN_TEST_STATISTIC
        edge = at_edge(point, box)
        if passes and edge and self._far.active:  # the far field takes it: no spot
            passes = False
        if isinstance(job, _Fit) and not passes:
            self._spots.remove(job)
            self._b = b_null
            return
        if passes:
            fit = _Fit(point, activity, fitter.position_sd_mm(point, activity, b_fit), edge)
            self._spots = [*others, fit]
            self._b = b_fit
        elif not self._spots:
            self._b = b_null
