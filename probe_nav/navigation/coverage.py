"""Whether a sweep went around a spot: the condition for guiding to it.

A sweep localises a point only from probe positions on more than one side of it. Along a line
every spot has a mirror image across the vertical plane of the line, and a deep node under the
line fits as well as shallower spots beside it: measured on the sln-scan training sweep (a line
over a 15 kBq node 20 mm deep, perfect poses, 270 s), the spots were three points 3-8 mm deep
and 5-13 mm from the node, each with an sd of 1.4-9 mm, and the whole set bettered the true node
by only 5.7 in 2 log L for 11 more parameters. The Fisher information is local and cannot see
such a second solution; the sweep's geometry can. A spot is `swept_around` when its x-y lies
inside the convex hull of the sweep's tips (x-y) by at least SURROUND_MM: the probe passed it on
every side.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

SURROUND_MM = 5.0  # the sweep passed at least this far beyond the spot on every side


def swept_around(tips_mm: np.ndarray, points_mm: np.ndarray,
                 inset_mm: float = SURROUND_MM) -> np.ndarray:
    """Per point (rows of x, y[, z] mm): whether its x-y is inside the convex hull of the tips'
    x-y by at least inset_mm. All False when the tips span no area (fewer than 3, a line)."""
    points = np.atleast_2d(np.asarray(points_mm, float))[:, :2]
    tips = np.unique(np.asarray(tips_mm, float)[:, :2], axis=0)
    if len(points) == 0 or len(tips) < 3:
        return np.zeros(len(points), bool)
    try:
        hull = ConvexHull(tips)
    except QhullError:  # collinear: no area
        return np.zeros(len(points), bool)
    # hull.equations: unit outward normals n and offsets c, inside where n . p + c <= 0
    signed = points @ hull.equations[:, :2].T + hull.equations[:, 2]
    return np.asarray(signed.max(axis=1) <= -inset_mm)
