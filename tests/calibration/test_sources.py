"""Certified sources decayed to a date; check-source stand-ins in the nuclide library."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from scipy import integrate

from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.nuclides import NUCLIDES, check_source_for, nuclide
from probe_nav.calibration.sources import CertifiedSource

REF = datetime(2024, 11, 1, 8, 0, tzinfo=UTC)


def test_co57_decayed_over_a_known_interval() -> None:
    # 3.7 MBq +- 3 % certified; 120 days later: 3.7 * 2^(-120 / 271.8) = 2.7246 MBq.
    src = CertifiedSource("Co-57", 3.7, 0.111, REF)
    a = src.activity_at(REF + timedelta(days=120))
    assert a.mbq == pytest.approx(3.7 * 2 ** (-120 / 271.8), rel=1e-12)
    assert a.mbq == pytest.approx(2.7246, abs=1e-4)
    assert a.sd_mbq / a.mbq == pytest.approx(0.03)
    # one half-life later exactly half; before the reference date more
    assert src.activity_at(REF + timedelta(days=271.8)).mbq == pytest.approx(1.85)
    assert src.activity_at(REF - timedelta(days=271.8)).mbq == pytest.approx(7.4)


def test_tc99m_mean_activity_over_a_long_count() -> None:
    src = CertifiedSource("Tc-99m", 100.0, 2.0, REF)
    lam = nuclide("Tc-99m").decay_constant_per_s
    mean = src.mean_activity_over(REF, 3600.0)
    exact = integrate.quad(lambda t: 100.0 * math.exp(-lam * t), 0, 3600)[0] / 3600
    assert mean.mbq == pytest.approx(exact, rel=1e-9)
    assert mean.mbq < 100.0


def test_naive_and_aware_times_do_not_mix() -> None:
    src = CertifiedSource("Co-57", 3.7, 0.1, REF)
    with pytest.raises(AnalysisError, match="time-zone"):
        src.activity_at(datetime(2025, 1, 1))


def test_bad_certificates() -> None:
    with pytest.raises(AnalysisError):
        CertifiedSource("Co-57", 0.0, 0.1, REF)
    with pytest.raises(AnalysisError):
        CertifiedSource("Co-57", 1.0, -0.1, REF)
    with pytest.raises(ValueError, match="unknown nuclide"):
        CertifiedSource("Xx-1", 1.0, 0.1, REF)


def test_check_source_stand_ins() -> None:
    assert check_source_for("Tc-99m").name == "Co-57"
    assert check_source_for("i-131").name == "Ba-133"
    assert check_source_for("I-125").name == "I-129"
    assert check_source_for("Cs-137").name == "Cs-137"  # long-lived: its own check source
    assert check_source_for("Co-57").name == "Co-57"
    for name in NUCLIDES:  # every nuclide in the library has a long-lived stand-in
        assert check_source_for(name).half_life_s > 200 * 86400


def test_calibration_lines_in_the_library() -> None:
    assert nuclide("Cs-137").main_line.energy_kev == 661.657  # ENSDF/DDEP energies
    assert nuclide("Am-241").main_line.energy_kev == 59.5409
    w = nuclide("Co-57").window
    assert w.lo_kev < 122.1 < w.hi_kev
