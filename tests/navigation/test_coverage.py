"""Whether a sweep went around a spot (probe_nav.navigation.coverage): inside the tips' x-y
hull by SURROUND_MM, never for a line or fewer than three places."""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st

from probe_nav.navigation.coverage import SURROUND_MM, swept_around


def _square(side_mm: float, n: int = 40) -> np.ndarray:
    """Tips along the four sides of a square [0, side]^2 (and its inside, which changes
    nothing), at z 0."""
    t = np.linspace(0.0, side_mm, n)
    edges = np.concatenate([np.c_[t, 0 * t], np.c_[t, 0 * t + side_mm],
                            np.c_[0 * t, t], np.c_[0 * t + side_mm, t],
                            np.c_[t, t]])
    return np.c_[edges, np.zeros(len(edges))]


@given(st.floats(12.0, 200.0), st.floats(-0.5, 1.5), st.floats(-0.5, 1.5),
       st.floats(-50.0, 0.0))
def test_a_point_is_swept_around_when_the_square_passes_it_by_the_inset(
        side_mm: float, u: float, v: float, z_mm: float) -> None:
    x, y = u * side_mm, v * side_mm
    inside_by = min(x, y, side_mm - x, side_mm - y)  # negative outside
    assume(abs(inside_by - SURROUND_MM) > 1e-6)
    got = swept_around(_square(side_mm), np.array([[x, y, z_mm]]))
    assert got.tolist() == [inside_by > SURROUND_MM]


@given(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.floats(0.0, 6.3),
       st.lists(st.floats(-100.0, 100.0), min_size=3, max_size=60))
def test_a_line_goes_around_nothing(x0: float, y0: float, angle: float,
                                    along: list[float]) -> None:
    d = np.array([np.cos(angle), np.sin(angle)])
    tips = np.array([[x0 + a * d[0], y0 + a * d[1], 0.0] for a in along])
    points = np.array([[x0, y0, -20.0], [x0 + 5 * d[1], y0 - 5 * d[0], -10.0]])
    # a line is no area: at most floating-point slivers, never SURROUND_MM deep inside
    assert not swept_around(tips, points).any()


def test_too_few_places_or_no_points() -> None:
    tips = np.array([[0.0, 0.0, 0.0], [50.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    assert swept_around(tips, np.array([[10.0, 0.0, -5.0]])).tolist() == [False]
    assert swept_around(_square(60.0), np.zeros((0, 3))).shape == (0,)
    # a probe held still is one place
    still = np.zeros((500, 3))
    assert swept_around(still, np.array([[0.0, 0.0, -20.0]])).tolist() == [False]
