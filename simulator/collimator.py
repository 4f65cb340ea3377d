"""Angular response of a probe with a cylindrical collimator in front of a disc crystal.

Why not a Gaussian: a point source at angle theta off axis sees the crystal (radius a) through the
collimator bore (radius a, length L). Projected along the line of sight onto the crystal plane,
the bore opening is the crystal's disc shifted by s = L tan(theta), so the unshadowed crystal area
is the overlap of two discs of radius a whose centres are s apart, and the flux through it carries
a cos(theta) obliquity factor:

    g(theta) = cos(theta) * f(L tan(theta) / a),
    f(u) = (2/pi) (acos(u/2) - (u/2) sqrt(1 - u^2/4)),  0 <= u <= 2,   f = 0 beyond.

The response is flat-topped near the axis and reaches exactly zero at tan(theta) = 2a/L, unlike
a Gaussian, which has no edge and an unphysical tail. Beyond the edge photons only get in through
the shielding: R = g + leakage * (1 - g), so the response never drops below the leakage fraction
(1 - shielding). Only L/a matters for a source far compared with the bore; it is solved from the
angular FWHM the scenario gives (the figure NEMA NU 3 measures), so R(FWHM/2) = 1/2 exactly.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq


def disc_overlap(u: np.ndarray | float) -> np.ndarray:
    """Overlap area of two unit-radius discs whose centres are u apart, over the disc area."""
    u = np.clip(np.asarray(u, dtype=float), 0.0, 2.0)
    half = u / 2.0
    return (2.0 / math.pi) * (np.arccos(half) - half * np.sqrt(1.0 - half * half))


def geometric_response(theta_rad: np.ndarray | float, aspect: float) -> np.ndarray:
    """g(theta) for a bore of length/radius `aspect`; 0 beyond the edge and behind the probe."""
    theta = np.asarray(theta_rad, dtype=float)
    forward = theta < math.pi / 2
    t = np.where(forward, theta, 0.0)
    g = np.cos(t) * disc_overlap(aspect * np.tan(t))
    return np.where(forward, g, 0.0)


@lru_cache(maxsize=64)
def aspect_for_fwhm(fwhm_deg: float, leakage: float) -> float:
    """The bore aspect L/a whose total response falls to 1/2 at half the given FWHM."""
    if not 0 < fwhm_deg < 180:
        raise ValueError(f"angular_fwhm_deg must be between 0 and 180, got {fwhm_deg}")
    if not 0 <= leakage < 0.5:
        raise ValueError(f"leakage_fraction must be in [0, 0.5), got {leakage}")
    half = math.radians(fwhm_deg / 2.0)
    target = (0.5 - leakage) / (1.0 - leakage)
    # g(half) falls monotonically with the aspect, from cos(half) at 0 to 0 at 2 / tan(half).
    if math.cos(half) <= target:
        raise ValueError(f"angular_fwhm_deg {fwhm_deg} is too wide for a collimated probe")
    return brentq(lambda k: float(geometric_response(half, k)) - target, 0.0,
                  2.0 / math.tan(half), xtol=1e-15, rtol=1e-15)


def angular_response(theta_rad: np.ndarray | float, fwhm_deg: float,
                     leakage: float) -> np.ndarray:
    """Relative response R(theta) = g + leakage (1 - g); 1 on axis."""
    g = geometric_response(theta_rad, aspect_for_fwhm(fwhm_deg, leakage))
    return g + leakage * (1.0 - g)


def edge_angle_deg(fwhm_deg: float, leakage: float) -> float:
    """Angle beyond which only leakage remains: atan(2a/L)."""
    return math.degrees(math.atan(2.0 / aspect_for_fwhm(fwhm_deg, leakage)))


@lru_cache(maxsize=64)
def _downward_table(fwhm_deg: float, leakage: float) -> np.ndarray:
    """Share of the acceptance (solid-angle integral of g) that looks below the horizon.

    A direction at polar angle theta about an axis tilted `tilt` from straight down points down
    when cos(tilt) cos(theta) + sin(tilt) sin(theta) cos(phi) > 0, i.e. cos(phi) > c; the share
    of azimuths phi doing so is acos(c) / pi (clipped), so only theta needs integrating.
    """
    aspect = aspect_for_fwhm(fwhm_deg, leakage)
    theta = np.linspace(0.0, math.pi / 2, 1441)[:-1] + math.pi / 5760
    weight = geometric_response(theta, aspect) * np.sin(theta)
    tilt = np.radians(np.arange(0, 181))[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        c = -np.cos(tilt) * np.cos(theta) / (np.sin(tilt) * np.sin(theta))
    c = np.where(np.sin(tilt) == 0, np.where(np.cos(tilt) * np.cos(theta) > 0, -1.0, 1.0), c)
    share = np.arccos(np.clip(c, -1.0, 1.0)) / math.pi
    return (share * weight).sum(axis=1) / weight.sum()


def downward_fraction(axis: np.ndarray, fwhm_deg: float, leakage: float) -> float:
    """Share of what the probe sees that is tissue (z < 0) when it looks along `axis`."""
    axis = np.asarray(axis, dtype=float)
    tilt = math.degrees(math.acos(max(-1.0, min(1.0, -axis[2] / np.linalg.norm(axis)))))
    table = _downward_table(fwhm_deg, leakage)
    seen = float(np.interp(tilt, np.arange(0, 181), table))
    return seen + leakage * (1.0 - seen)
