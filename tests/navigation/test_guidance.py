"""Guidance from the tip to a spot: signs, angles and the aim score, on cases worked by hand and
on random geometry (hypothesis)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.navigation.guidance import MAX_AIM_DEG, ON_TARGET_DEG, aim_score, guide

DOWN = (0.0, 0.0, -1.0)
coord = st.floats(-200, 200, allow_nan=False)


def test_straight_below_is_on_target_at_its_depth() -> None:
    g = guide((10.0, -5.0, 0.0), DOWN, (10.0, -5.0, -25.0))
    assert g.distance_mm == pytest.approx(25.0)
    assert g.off_axis_deg == pytest.approx(0.0, abs=1e-9)
    assert g.depth_mm == pytest.approx(25.0)
    assert g.ahead_mm == pytest.approx(25.0)
    assert (g.dx_mm, g.dy_mm) == (0.0, 0.0)
    assert g.on_target and aim_score(g.off_axis_deg) == 1.0


def test_offset_spot_gives_the_move_and_the_angle() -> None:
    # spot 30 mm towards +x and 30 mm deep from a tip on the skin pointing down: 45 deg off
    g = guide((0.0, 0.0, 0.0), DOWN, (30.0, 0.0, -30.0), skin_z_mm=0.0)
    assert g.dx_mm == pytest.approx(30.0) and g.dy_mm == pytest.approx(0.0)
    assert g.off_axis_deg == pytest.approx(45.0)
    assert g.bearing_deg == pytest.approx(0.0)
    assert g.distance_mm == pytest.approx(30.0 * math.sqrt(2))
    g2 = guide((0.0, 0.0, 0.0), DOWN, (0.0, -20.0, -20.0))
    assert g2.bearing_deg == pytest.approx(-90.0)
    assert not g2.on_target


def test_depth_is_measured_from_the_skin_not_the_tip() -> None:
    # the tip held 10 mm above a skin at z = 5: a spot at z = -15 is 20 mm deep
    g = guide((0.0, 0.0, 15.0), DOWN, (0.0, 0.0, -15.0), skin_z_mm=5.0)
    assert g.depth_mm == pytest.approx(20.0)
    assert g.distance_mm == pytest.approx(30.0)


def test_a_spot_behind_the_tip_is_far_off_axis() -> None:
    g = guide((0.0, 0.0, -10.0), DOWN, (0.0, 0.0, 0.0))
    assert g.off_axis_deg == pytest.approx(180.0)
    assert g.ahead_mm == pytest.approx(-10.0)
    assert aim_score(g.off_axis_deg) == 0.0


def test_aim_score_falls_linearly_between_the_limits() -> None:
    mid = (ON_TARGET_DEG + MAX_AIM_DEG) / 2
    assert aim_score(mid) == pytest.approx(0.5)
    assert aim_score(MAX_AIM_DEG) == 0.0
    assert aim_score(ON_TARGET_DEG + 1e-9) < 1.0
    assert aim_score(math.nan) == 0.0


def test_bad_vectors_are_refused() -> None:
    with pytest.raises(ValueError):
        guide((0, 0, 0), (0, 0, 0), (1, 1, 1))
    with pytest.raises(ValueError):
        guide((0, 0), DOWN, (1, 1, 1))


@given(st.tuples(coord, coord, coord), st.tuples(coord, coord, coord),
       st.floats(-1, 1), st.floats(0, 2 * math.pi))
def test_geometry_is_consistent(tip, spot, cos_t, phi) -> None:
    sin_t = math.sqrt(1 - cos_t * cos_t)
    axis = (sin_t * math.cos(phi), sin_t * math.sin(phi), cos_t)
    g = guide(tip, axis, spot)
    d = np.subtract(spot, tip)
    assert g.distance_mm == pytest.approx(float(np.linalg.norm(d)), abs=1e-9)
    assert 0.0 <= g.off_axis_deg <= 180.0
    # the law of cosines: ahead = distance cos(off axis)
    assert g.ahead_mm == pytest.approx(g.distance_mm * math.cos(math.radians(g.off_axis_deg)),
                                       abs=1e-6 * max(1.0, g.distance_mm))
    assert g.horizontal_mm <= g.distance_mm + 1e-9
    assert g.depth_mm == pytest.approx(-spot[2])
