"""Decay correction against the half-lives of the nuclide table."""

from __future__ import annotations

import numpy as np
import pytest

from probe_nav.calibration.decay import activity_at, correction_factor, decay_correct, decay_factor
from probe_nav.calibration.nuclides import NUCLIDES


@pytest.mark.parametrize("name", sorted(NUCLIDES))
def test_one_half_life_is_exactly_a_factor_two(name: str) -> None:
    t_half = NUCLIDES[name].half_life_s
    assert correction_factor(name, t_half, 0.0) == 2.0
    assert correction_factor(name, 2 * t_half, 0.0) == 4.0
    assert correction_factor(name, 0.0, t_half) == 0.5
    assert decay_factor(name, t_half) == 0.5
    assert decay_factor(NUCLIDES[name], 0.0) == 1.0


def test_tc99m_loses_about_eleven_percent_per_hour() -> None:
    # DOMAIN.md: Tc-99m (6.01 h) loses ~11 %/h: 1 - 2**(-1/6.01) = 0.1088
    assert 1 - decay_factor("Tc-99m", 3600.0) == pytest.approx(0.1088, abs=5e-4)


def test_counts_taken_later_are_corrected_up_to_the_reference() -> None:
    # a 10 s count of 1000 taken 2 h after the reference time (e.g. the first node's count)
    corrected = decay_correct(1000.0, "tc-99m", t_s=7200.0, t_ref_s=0.0)
    assert corrected == pytest.approx(1000.0 * 2 ** (2 / 6.0067))  # Tc-99m T1/2, DDEP
    values = decay_correct(np.array([100.0, 200.0]), "I-125", np.array([0.0, 59.388 * 86400]), 0.0)
    np.testing.assert_allclose(values, [100.0, 400.0])


def test_activity_at_is_the_inverse_view() -> None:
    a = activity_at(37.0, "Lu-177", t_ref_s=0.0, t_s=6.647 * 86400)  # Lu-177 T1/2, DDEP
    assert a == pytest.approx(18.5)
    assert decay_correct(a, "Lu-177", 6.647 * 86400, 0.0) == pytest.approx(37.0)


def test_unknown_nuclide() -> None:
    with pytest.raises((KeyError, ValueError), match="unknown nuclide"):
        decay_factor("Xx-1", 1.0)
