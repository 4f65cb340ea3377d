"""Sub-pixel corners of a detected ArUco marker from the straight lines of its outer edges.

OpenCV's sub-pixel refinement pulls a small marker's corners 0.1-0.4 px inwards (its window holds
the marker's inner bits too), which at 300-500 mm is 0.5-1 mm of depth; `refine_corners` fits each
outer edge as a line to where profiles across it end their black area and intersects the lines.
"""

from __future__ import annotations

import cv2
import numpy as np


def refine_corners(grey: np.ndarray, corners: np.ndarray, cells: int) -> np.ndarray:
    """A marker's 4 corners (4, 2) moved to the intersections of its four outer edges, each edge a
    straight line fitted to where profiles across it end their black area (a moment method).

    OpenCV's sub-pixel refinement pulls a small marker's corners 0.1-0.4 px inwards (its window
    holds the marker's inner bits too), which at 300-500 mm is 0.5-1 mm of depth. The profiles
    here reach at most 0.6 of a cell either side of the edge: the black border inside, the white
    quiet zone outside, nothing else."""
    c = np.asarray(corners, float).reshape(4, 2)
    sides_px = np.linalg.norm(np.roll(c, -1, axis=0) - c, axis=1)
    reach_px = min(0.6 * float(sides_px.min()) / cells, 4.0)
    if reach_px < 0.8:
        return c  # too small to profile: keep the detector's corners
    centre = c.mean(axis=0)
    offsets = np.arange(-reach_px, reach_px + 1e-9, 0.2)
    lines = []
    for i in range(4):
        a, b = c[i], c[(i + 1) % 4]
        along = (b - a) / np.linalg.norm(b - a)
        normal = np.array([along[1], -along[0]])
        if normal @ (a - centre) < 0:
            normal = -normal  # outwards
        # avoid the corners (within a cell of them the other edge enters the profile)
        cell_px = float(sides_px[i]) / cells
        t = np.arange(cell_px, float(sides_px[i]) - cell_px, 0.5)
        if len(t) < 3:
            return c
        pts = (a + t[:, None] * along)[:, None, :] + offsets[None, :, None] * normal
        prof = cv2.remap(grey, pts[..., 0].astype(np.float32), pts[..., 1].astype(np.float32),
                         cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        line = _edge_line(prof, offsets, reach_px, a, along, normal, t)
        if line is None:  # no clean edge along this side: the detector's corners define it
            n = normal
            line = (n, float(n @ (a + b) / 2))
        lines.append(line)
    out = np.empty((4, 2))
    for i in range(4):  # corner i lies on the edge before it (i-1 -> i) and the one after
        (n1, d1), (n2, d2) = lines[(i - 1) % 4], lines[i]
        m = np.array([n1, n2])
        if abs(np.linalg.det(m)) < 1e-6:
            return c
        out[i] = np.linalg.solve(m, [d1, d2])
    if np.max(np.linalg.norm(out - c, axis=1)) > max(1.5, 0.5 * float(sides_px.min()) / cells):
        return c  # the fit ran off: keep the detector's corners
    return out


def _edge_line(prof: np.ndarray, offsets: np.ndarray, reach_px: float, start: np.ndarray,
               along: np.ndarray, normal: np.ndarray, t: np.ndarray
               ) -> tuple[np.ndarray, float] | None:
    """The outer edge of one side from its profiles (rows: positions t along the side; columns:
    offsets along the outward normal), or None if fewer than 3 profiles show a clean edge.

    A clean profile is black at its inner end and white at its outer end. Where something
    darker lies in the quiet zone (a finger, a neighbour's edge under strong foreshortening) the
    profiles are cut shorter outside, down to 1 px; those still not clean are left out."""
    inner_end = prof[:, :2].mean(axis=1)
    inner_ok = inner_end <= prof.min(axis=1) + 0.25 * (prof.max(axis=1) - prof.min(axis=1))
    if inner_ok.sum() < 3:
        return None
    for cut in range(len(offsets), 0, -1):
        outer = offsets[cut - 1]
        if outer < 1.0:
            return None
        part = prof[:, :cut]
        lo, hi = part.min(axis=1), part.max(axis=1)
        outer_end = part[:, -2:].mean(axis=1)
        outer_ok = (outer_end >= hi - 0.25 * (hi - lo)) & (hi - lo > 20.0)
        clean = inner_ok & outer_ok
        if clean.sum() >= max(3.0, 0.8 * inner_ok.sum()):
            break
    part, t = part[clean], t[clean]
    # Black and white of this side: the clean profiles' inner and outer ends, over the side.
    black, white = float(np.median(inner_end[clean])), float(np.median(outer_end[clean]))
    # The edge sits where the black area ends: o_edge = -reach + integral of the black share
    # (exact for any blur that fits in the window, and for pixels' box integration).
    share = np.clip((white - part) / (white - black), 0.0, 1.0)
    o = -reach_px + np.trapezoid(share, offsets[:cut], axis=1)
    inside = (o > -reach_px + 0.5) & (o < outer - 0.5)  # the whole edge in the window
    if inside.sum() < 3:
        return None
    return _fit_line((start + t[:, None] * along + o[:, None] * normal)[inside])


def _fit_line(points: np.ndarray) -> tuple[np.ndarray, float]:
    """The line n.x = d (unit n) through points by total least squares, refitted once without
    the points further than 3 robust sd from the first fit (a profile spoiled by a speck)."""
    for _ in range(2):
        mean = points.mean(axis=0)
        centred = points - mean
        _, vectors = np.linalg.eigh(centred.T @ centred)
        n = vectors[:, 0]  # the direction of least spread: the normal
        resid = centred @ n
        mad = float(np.median(np.abs(resid)))
        keep = np.abs(resid) <= max(3.0 * 1.4826 * mad, 0.05)
        if keep.all() or keep.sum() < 3:
            break
        points = points[keep]
    return n, float(n @ mean)
