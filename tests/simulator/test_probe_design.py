"""Design figures -> head geometry (simulator/probe_design.py): a scenario that gives the
angular FWHM and side shielding a probe is quoted by gets a head that has them, within the thin-
crystal approximation the conversion makes; the figures are then measured on the finite model."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.simulator import probe_figures as figures
from probe_nav.simulator.probe_design import (
    bore_diameter_for_angular_fwhm,
    far_field_response,
    lens_area,
    setback_for_angular_fwhm,
    wall_for_shielding,
)
from probe_nav.simulator.rates import probe_sensitivity_cps_per_mbq
from probe_nav.simulator.scenario_parse import parse

TC_KEV = 140.511


@settings(max_examples=50, deadline=None)
@given(fwhm=st.floats(10.0, 100.0))
def test_the_solved_bore_halves_the_response_at_half_the_fwhm(fwhm: float) -> None:
    length = setback_for_angular_fwhm(10.0, fwhm)
    assert far_field_response(math.radians(fwhm / 2), 5.0, length) == pytest.approx(0.5, abs=1e-9)
    bore = bore_diameter_for_angular_fwhm(500.0, 15.0, fwhm)  # a crystal wide enough for any
    assert far_field_response(math.radians(fwhm / 2), bore / 2, 15.0) == pytest.approx(0.5,
                                                                                       abs=1e-9)


def test_lens_area_closed_forms() -> None:
    # Equal unit discs one radius apart: 2 pi/3 - sqrt(3)/2; nested and apart.
    assert lens_area(1.0, 1.0, 1.0) == pytest.approx(2 * math.pi / 3 - math.sqrt(3) / 2)
    assert lens_area(2.0, 1.0, 0.5) == pytest.approx(math.pi)
    assert lens_area(1.0, 1.0, 2.5) == 0.0


@pytest.mark.parametrize("fwhm", [30.0, 40.0, 50.0])
def test_a_scenario_that_gives_the_angular_fwhm_gets_it_from_the_finite_model(fwhm: float) -> None:
    # The conversion assumes a thin crystal and an opaque wall; the finite model (5 mm CdTe,
    # 2 mm tungsten) must land within 10 % of the figure asked for.
    probe = parse({"probe": {"angular_fwhm_deg": fwhm}}, "x").probe
    assert figures.angular_fwhm_deg(probe.geometry, TC_KEV) == pytest.approx(fwhm, rel=0.1)


@pytest.mark.parametrize("pct", [99.0, 99.5, 99.9])
def test_a_scenario_that_gives_the_shielding_gets_at_least_it(pct: float) -> None:
    # The wall is solved for a straight crossing; rays to the crystal's side cross it on longer
    # chords, so the side response is at most the straight-through transmission. The back shield
    # is as thick, but the crystal is nearer a source 300 mm behind the tip (280 mm) than one in
    # front (315 mm): the back response may exceed it by (315 / 280)^2 = 1.27.
    probe = parse({"probe": {"shielding_pct": pct}}, "x").probe
    assert probe.wall_mm == pytest.approx(wall_for_shielding(pct, "W", TC_KEV))
    side, back = figures.shielding_pct(probe.geometry, TC_KEV)
    assert side <= 100.0 - pct
    assert back <= (315.0 / 280.0) ** 2 * (100.0 - pct)


def test_an_old_style_probe_table_loads_with_its_measured_sensitivity() -> None:
    probe = parse({"probe": {"sensitivity_cps_per_mbq": 8000.0, "angular_fwhm_deg": 40.0,
                             "shielding_pct": 99.9}}, "x").probe
    assert probe_sensitivity_cps_per_mbq(probe) == 8000.0
    assert 36.0 < figures.angular_fwhm_deg(probe.geometry, TC_KEV) < 44.0
