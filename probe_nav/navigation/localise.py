"""Where the hot tissue is: activity in a voxel grid from a tracked sweep, and its hot spots.

Counts c_f of frame f (live time live_f) are Poisson with mean live_f (A_f x + b): x >= 0 the
activities of the voxels in Bq, A the probe's response (probe_nav.navigation.response: cps per
Bq of each voxel at each pose) and b >= 0 a constant background rate (room and blood pool).
The hot spots and b come from probe_nav.navigation.hotspots (point sources fitted by maximum
likelihood, one at a time, each with a Fisher-information uncertainty); the image is MLEM
(Shepp-Vardi) with that b, stopped early (see mlem), for display. Beside an injection site b
gains a far field, a smooth rate per frame for the site's shine-through
(probe_nav.navigation.farfield), when the counts ask for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from probe_nav.navigation.hotspots import Spot, log_likelihood, search_spots
from probe_nav.navigation.response import ResponseModel

MARGIN_MM = 20.0  # the grid reaches this far beyond the tips' bounding box in x and y
DEPTH_MM = 60.0  # and from the skin down this far
SPOT_MARGIN_MM = 10.0  # spots are sought this far beyond the tips' x-y box
ITERATIONS = 10  # MLEM iterations of the displayed image (see mlem)
# Voxels the sweep sees less than this share of its best-seen voxel stay empty: deep and
# off-sweep voxels turn noise into large activities, and the sweep cannot localise there.
MIN_SENSITIVITY_SHARE = 0.05
START_SHARE = 0.01  # share of the counts the starting image explains


@dataclass(frozen=True)
class Grid:
    """Voxel centres of a box: x, y, z axes (mm) and the (V, 3) centres in C order."""

    x_mm: np.ndarray
    y_mm: np.ndarray
    z_mm: np.ndarray

    @property
    def shape(self) -> tuple[int, int, int]:
        """(nx, ny, nz)."""
        return (len(self.x_mm), len(self.y_mm), len(self.z_mm))

    @property
    def centres_mm(self) -> np.ndarray:
        """(V, 3) voxel centres, x slowest."""
        xx, yy, zz = np.meshgrid(self.x_mm, self.y_mm, self.z_mm, indexing="ij")
        return np.column_stack([xx.ravel(), yy.ravel(), zz.ravel()])


def sweep_grid(tips_mm: np.ndarray, skin_z_mm: float = 0.0, voxel_mm: float = 3.0,
               margin_mm: float = MARGIN_MM, depth_mm: float = DEPTH_MM) -> Grid:
    """The grid a sweep can see: the tips' x-y bounding box plus margin_mm, from the skin down
    depth_mm, in voxels of voxel_mm (the first layer's centre half a voxel below the skin)."""
    if not voxel_mm > 0:
        raise ValueError(f"the voxel size must be positive, got {voxel_mm}")
    lo = np.min(tips_mm[:, :2], axis=0) - margin_mm
    hi = np.max(tips_mm[:, :2], axis=0) + margin_mm

    def axis(a: float, b: float) -> np.ndarray:
        n = max(1, math.ceil((b - a) / voxel_mm))
        return (a + b) / 2.0 + (np.arange(n) - (n - 1) / 2.0) * voxel_mm

    n_z = max(1, math.ceil(depth_mm / voxel_mm))
    z = skin_z_mm - (np.arange(n_z) + 0.5) * voxel_mm
    return Grid(axis(lo[0], hi[0]), axis(lo[1], hi[1]), z)


@dataclass(frozen=True)
class Image:
    """The MLEM result: activities (Bq) on the grid, the background rate and how it ended."""

    grid: Grid
    activity_bq: np.ndarray  # (V,)
    background_cps: float
    iterations: int
    log_likelihood: float


def mlem(system: np.ndarray, live_s: np.ndarray, counts: np.ndarray,
         background_cps: float | np.ndarray, iterations: int = ITERATIONS
         ) -> tuple[np.ndarray, float]:
    """MLEM for x >= 0 from c ~ Poisson(live (A x + b)) with b fixed (a constant, or a rate
    per frame: the background plus a far field); returns (x, log L).

    A fixed, small number of iterations from a faint uniform start (START_SHARE of the counts):
    with ~1 count per frame and far more voxels than frames, MLEM fits noise as it goes (on
    background alone the image explains ~1% of the counts after 10 iterations, ~10% after 40),
    so it is stopped early. The image is for display: its x-y is right, its depth smeared
    towards the skin; the spots' positions come from the point-source fits (hotspots)."""
    live = np.asarray(live_s, np.float64)
    live32 = live.astype(np.float32)
    c = np.asarray(counts, np.float64)
    # live_f A_fj is never formed: it would double the memory of the system matrix (the live
    # reconstruction's is up to 64 MB); live multiplies the vectors instead
    sens = (live32 @ system).astype(np.float64)
    seen = sens > MIN_SENSITIVITY_SHARE * sens.max()
    sens = np.where(seen, sens, np.inf)
    rate = max(float(c.sum()) / float(live.sum()), 1e-9)
    # a uniform image whose expected counts are START_SHARE of all counts
    x = np.full(system.shape[1], START_SHARE * rate * float(live.sum())
                / max(float(np.sum(sens[seen])) if seen.any() else 1.0, 1e-30)) * seen
    b = np.asarray(background_cps, np.float64)
    for _ in range(iterations):
        mean = live * ((system @ x.astype(np.float32)).astype(np.float64) + b)
        ratio = (live * c / np.maximum(mean, 1e-300)).astype(np.float32)
        x = x * (ratio @ system).astype(np.float64) / sens
    mean = live * ((system @ x.astype(np.float32)).astype(np.float64) + b)
    return x, log_likelihood(c, mean)


@dataclass(frozen=True)
class Result:
    """What `localise` found: the spots (largest first), the image, the constant background
    and, when the sweep needed one, the far field's rate per frame (an injection site's
    shine-through: probe_nav.navigation.farfield)."""

    spots: tuple[Spot, ...]
    image: Image
    background_cps: float
    far_field_cps: np.ndarray | None = None


def localise(model: ResponseModel, tips_mm: np.ndarray, axes: np.ndarray, live_s: np.ndarray,
             counts: np.ndarray, background_cps: float | None = None, voxel_mm: float = 3.0,
             far_field: bool = True) -> Result:
    """Hot spots of a sweep: frames with their mid-frame poses (tips and unit axes (F, 3)),
    live times and window counts; the background rate given or (None) estimated. The spots
    come from hotspots.search_spots (over a far field if the sweep needs one and far_field),
    the image is MLEM's with their background."""
    tips = np.asarray(tips_mm, float)
    axes = np.asarray(axes, float)
    live = np.asarray(live_s, float)
    c = np.asarray(counts, float)
    if len(tips) == 0:
        raise ValueError("no frames to localise from")
    grid = sweep_grid(tips, model.skin_z_mm, voxel_mm)
    centres = grid.centres_mm
    system = model.matrix(tips, axes, centres)
    # spots lie under the sweep (its tips' x-y box plus SPOT_MARGIN_MM), below the skin, above
    # the grid's floor: a huge source far outside would only model a slow trend in the counts
    lo = np.array([*(tips[:, :2].min(axis=0) - SPOT_MARGIN_MM), grid.z_mm.min() - voxel_mm / 2])
    hi = np.array([*(tips[:, :2].max(axis=0) + SPOT_MARGIN_MM), model.skin_z_mm])
    box = (lo, hi)
    found = search_spots(model, system, centres, grid.shape, box, tips, axes, live, c,
                         background_cps, far_field)
    b = found.background_cps
    x, ll = mlem(system, live, c, b if found.far_cps is None else b + found.far_cps)
    return Result(found.spots, Image(grid, x, b, ITERATIONS, ll), b, found.far_cps)
