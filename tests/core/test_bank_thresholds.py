"""bank_thresholds reads the calibrated table as its docstring says: bilinear in (ln mu, ln n).

mu = background counts per frame, n = frames per false-alarm interval. At grid nodes the table
itself; at the geometric midpoint of a cell the mean of its four corners; beyond the largest n
the exponential tail (+ ln(n / n_max)); below the smallest mu the continuous-time limit (same
n mu); above the largest mu the last row; below the smallest n the first column.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.core import detect_table as table
from probe_nav.core.detect import bank_thresholds

MU = table.MU_GRID
N = table.N_GRID
H = np.asarray(table.THRESHOLDS)  # (mu, n, chart)
PERIOD_S = 0.05


def thresholds_at(mu: float, n: float) -> np.ndarray:
    """bank_thresholds for mu counts per frame and n frames per interval."""
    return bank_thresholds(mu / PERIOD_S, PERIOD_S, n * PERIOD_S)


@pytest.mark.parametrize(("i", "j"), [(0, 0), (3, 5), (13, 7), (7, 0), (0, 7)])
def test_grid_nodes_are_the_table(i: int, j: int) -> None:
    np.testing.assert_allclose(thresholds_at(MU[i], N[j]), H[i, j], rtol=1e-9)


@pytest.mark.parametrize(("i", "j"), [(0, 0), (4, 2), (12, 6), (6, 3)])
def test_cell_midpoints_are_the_mean_of_the_corners(i: int, j: int) -> None:
    # at the geometric midpoints both interpolation weights are 1/2
    mu, n = math.sqrt(MU[i] * MU[i + 1]), math.sqrt(N[j] * N[j + 1])
    corners = (H[i, j] + H[i, j + 1] + H[i + 1, j] + H[i + 1, j + 1]) / 4
    np.testing.assert_allclose(thresholds_at(mu, n), corners, rtol=1e-9)


def test_quarter_point_weights() -> None:
    # a quarter of the way along ln mu, at a node in n: 3/4 of row i plus 1/4 of row i + 1
    i, j = 5, 4
    mu = math.exp(0.75 * math.log(MU[i]) + 0.25 * math.log(MU[i + 1]))
    np.testing.assert_allclose(thresholds_at(mu, N[j]), 0.75 * H[i, j] + 0.25 * H[i + 1, j],
                               rtol=1e-9)


def test_beyond_the_table() -> None:
    # beyond the largest n: the last column plus ln(n / n_max)
    np.testing.assert_allclose(thresholds_at(MU[3], 10 * N[-1]), H[3, -1] + math.log(10),
                               rtol=1e-9)
    # below the smallest n: the first column
    np.testing.assert_allclose(thresholds_at(MU[3], N[0] / 10), H[3, 0], rtol=1e-9)
    # above the largest mu: the last row
    np.testing.assert_allclose(thresholds_at(4 * MU[-1], N[2]), H[-1, 2], rtol=1e-9)
    # below the smallest mu: the same expected background counts per interval (n mu) at mu_0
    np.testing.assert_allclose(thresholds_at(MU[0] / 4, 4 * N[1]), H[0, 1],
                               rtol=1e-9)
