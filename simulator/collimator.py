"""How much of what a probe sees is tissue when it is tilted: the blood pool's view factor.

The blood pool is a distributed source filling the half-space below the skin; a probe held
against the skin looking straight down sees it with its whole acceptance, one looking along the
skin with about half, one looking up with only what leaks through its shield. With g(theta) the
probe's far-field response at angle theta off its axis (probe_nav.simulator.probe_geometry), the
share of the acceptance (solid-angle integral of g) that points below the horizon for an axis
tilted `tilt` from straight down is computed in closed form over azimuth: a direction at polar
angle theta about the axis points down when cos(tilt) cos(theta) + sin(tilt) sin(theta) cos(phi)
> 0, i.e. cos(phi) > c, and the share of azimuths doing so is acos(c) / pi.
"""

from __future__ import annotations

import math

import numpy as np

THETA_GRID_RAD = np.linspace(0.0, math.pi, 1441)[:-1] + math.pi / 2880


def downward_table(response: np.ndarray) -> np.ndarray:
    """Share of the acceptance looking below the horizon for tilts 0..180 degrees (181 values).

    `response` is g at THETA_GRID_RAD (relative; only its shape matters).
    """
    theta = THETA_GRID_RAD
    weight = np.asarray(response, float) * np.sin(theta)
    tilt = np.radians(np.arange(0, 181))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = -np.cos(tilt) * np.cos(theta) / (np.sin(tilt) * np.sin(theta))
    c = np.where(np.sin(tilt) == 0, np.where(np.cos(tilt) * np.cos(theta) > 0, -1.0, 1.0), c)
    share = np.arccos(np.clip(c, -1.0, 1.0)) / math.pi
    return (share * weight).sum(axis=1) / weight.sum()


def downward_fraction(axis: np.ndarray, table: np.ndarray) -> float:
    """Share of what the probe sees that is tissue (z < 0) when it looks along `axis`."""
    axis = np.asarray(axis, dtype=float)
    tilt = math.degrees(math.acos(max(-1.0, min(1.0, -axis[2] / np.linalg.norm(axis)))))
    return float(np.interp(tilt, np.arange(0, 181), table))
