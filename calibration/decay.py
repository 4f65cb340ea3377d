"""Radioactive decay correction of counts, rates and activities to a reference time.

A quantity measured at time t_s from a source of half-life T is corrected to the reference time
t_ref_s by multiplying with 2 ** ((t_s - t_ref_s) / T): a count taken one half-life after the
reference doubles, one taken one half-life before it halves. Times in seconds on any common clock.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.calibration.nuclides import Nuclide, nuclide


def half_life_s(which: str | Nuclide) -> float:
    """Half-life in seconds of a nuclide given by name (e.g. 'Tc-99m') or as a Nuclide."""
    return which.half_life_s if isinstance(which, Nuclide) else nuclide(which).half_life_s


def decay_factor(which: str | Nuclide, elapsed_s: ArrayLike) -> np.ndarray | float:
    """Fraction of the activity left after elapsed_s: 2 ** (-elapsed_s / T1/2)."""
    f = np.exp2(-np.asarray(elapsed_s, dtype=float) / half_life_s(which))
    return float(f) if f.ndim == 0 else f


def correction_factor(
    which: str | Nuclide, t_s: ArrayLike, t_ref_s: ArrayLike
) -> np.ndarray | float:
    """Factor that brings a value measured at t_s to the reference time t_ref_s."""
    dt = np.asarray(t_s, dtype=float) - np.asarray(t_ref_s, dtype=float)
    f = np.exp2(dt / half_life_s(which))
    return float(f) if f.ndim == 0 else f


def decay_correct(
    value: ArrayLike, which: str | Nuclide, t_s: ArrayLike, t_ref_s: ArrayLike
) -> np.ndarray | float:
    """Counts, rate or activity measured at t_s, corrected to its value at t_ref_s."""
    out = np.asarray(value, dtype=float) * np.asarray(correction_factor(which, t_s, t_ref_s))
    return float(out) if out.ndim == 0 else out


def activity_at(
    activity: ArrayLike, which: str | Nuclide, t_ref_s: float, t_s: ArrayLike
) -> np.ndarray | float:
    """Activity (any unit) at t_s of a source that had `activity` at t_ref_s."""
    return decay_correct(activity, which, t_ref_s, t_s)
