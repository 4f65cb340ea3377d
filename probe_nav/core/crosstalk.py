"""Crosstalk correction: each window's rate of its own isotope, from the rates of all windows.

The measured (net) rates m of the windows are m = M T, M = I + F (probe_nav.calibration.crosstalk:
F[t, s] is the fraction of window s's true counts that land in window t). The corrected rates are
T = M^-1 m. Their variance has two parts, added (the windows' counts are independent Poisson
variables - disjoint energy ranges of one detector - and the spill fractions were measured apart):
- counting: Var T_i = sum_j (M^-1)_ij^2 Var m_j;
- spill fractions: dT/df(s->t) = -M^-1 e_t T_s (the derivative of an inverse), so each fraction
  adds (M^-1_it T_s sd_f)^2 to Var T_i.
T is an unbiased linear estimate and may be negative (a window with no counts of its own isotope
reads about 0 +- sd): a display shows max(T, 0), a record keeps T.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.calibration.crosstalk import SpillMatrix


def unmix(rate_cps: ArrayLike, sd_cps: ArrayLike,
          spill: SpillMatrix) -> tuple[np.ndarray, np.ndarray]:
    """Corrected rates and their 1 sd, shape (n, W) like the inputs (rows = frames)."""
    m = np.asarray(rate_cps, dtype=np.float64)
    sd = np.asarray(sd_cps, dtype=np.float64)
    if m.ndim != 2 or m.shape != sd.shape or m.shape[1] != spill.n_windows:
        raise ValueError(f"rates of shape {m.shape} and sds of shape {sd.shape} do not match "
                         f"{spill.n_windows} windows")
    inv = np.linalg.inv(spill.matrix())
    corrected = _rows_times(m, inv)
    var = _rows_times(sd * sd, inv * inv)
    for s in spill.spills:
        if s.sd > 0.0:
            column = inv[:, s.target]  # dT/df = -column * T_source
            var += (corrected[:, s.source, None] * column[None, :] * s.sd) ** 2
    return corrected, np.sqrt(var)


def _rows_times(rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """rows @ matrix.T summed in a fixed order per element (a BLAS product rounds differently
    for different numbers of rows, and online and batch must be bit-identical)."""
    out = np.zeros((rows.shape[0], matrix.shape[0]))
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            out[:, i] += matrix[i, j] * rows[:, j]
    return out


def crosstalk_cps(corrected_cps: ArrayLike, spill: SpillMatrix) -> np.ndarray:
    """The counts per second each window receives from the other windows' isotopes, F @ T:
    what the correction took away (to say when the other isotope dominates)."""
    t = np.asarray(corrected_cps, dtype=np.float64)
    f = spill.matrix() - np.eye(spill.n_windows)
    return _rows_times(np.clip(t, 0.0, None), f)
