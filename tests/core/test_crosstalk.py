"""Crosstalk correction (probe_nav.core.crosstalk) and the spill matrix it solves with."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.calibration.crosstalk import Spill, SpillError, SpillMatrix
from probe_nav.core.crosstalk import crosstalk_cps, unmix

fractions = st.floats(0.0, 0.5, allow_nan=False)
rates = st.floats(0.0, 1e5, allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(f10=fractions, f01=fractions, t0=rates, t1=rates)
def test_unmix_inverts_the_mixing(f10: float, f01: float, t0: float, t1: float) -> None:
    """Measured = M @ true; unmix(measured) = true (to rounding)."""
    spill = SpillMatrix(2, (Spill(1, 0, f10), Spill(0, 1, f01)))
    true = np.array([[t0, t1]])
    measured = true @ spill.matrix().T
    corrected, sd = unmix(measured, np.zeros_like(measured), spill)
    np.testing.assert_allclose(corrected, true, rtol=1e-9, atol=1e-6 * (1 + t0 + t1))
    np.testing.assert_array_equal(sd, 0.0)


@settings(max_examples=100, deadline=None)
@given(text=st.tuples(st.integers(0, 7), st.integers(0, 7), fractions, fractions))
def test_spill_text_round_trip(text: tuple[int, int, float, float]) -> None:
    s, t, f, sd = text
    if s == t:
        with pytest.raises(SpillError):
            Spill(s, t, f, sd)
        return
    spill = Spill(s, t, f, sd)
    assert Spill.parse(spill.text()) == spill


@pytest.mark.parametrize("bad", ["1-0=0.1", "1:0=", "1:0=x", "1:1=0.1", "9:0=0.1", "1:0=-0.1",
                                 "1:0=nan", "1:0=0.1+-inf", "1:0=0.1+-"])
def test_bad_spill_text_is_one_line(bad: str) -> None:
    with pytest.raises(SpillError) as err:
        Spill.parse(bad)
    assert "\n" not in str(err.value)


def test_matrix_refuses_duplicates_out_of_range_and_singular() -> None:
    with pytest.raises(SpillError, match="twice"):
        SpillMatrix.parse(["1:0=0.1", "1:0=0.2"], 2)
    with pytest.raises(SpillError, match="only 2 windows"):
        SpillMatrix.parse(["2:0=0.1"], 2)
    with pytest.raises(SpillError, match="indistinguishable"):
        SpillMatrix.parse(["1:0=1", "0:1=1"], 2)  # both windows see the same mixture


def test_matrix_orientation() -> None:
    """`1:0=f`: window 1's isotope adds f of its counts to window 0 (M[0, 1] = f)."""
    m = SpillMatrix.parse(["1:0=0.095"], 2).matrix()
    assert m[0, 1] == 0.095 and m[1, 0] == 0.0


def test_counting_variance_propagates_with_squared_weights() -> None:
    """Monte Carlo of Poisson window counts: the propagated sd matches the empirical sd.
    4e4 draws: the empirical sd's relative standard error is 1/sqrt(2 * 4e4) = 0.35 %, so 2 %
    is more than 5 standard errors and still catches a missing square (a 9.5 % spill of a
    rate 30x larger changes the sd by far more)."""
    rng = np.random.default_rng(7)
    spill = SpillMatrix.parse(["1:0=0.095"], 2)
    true_cps, live_s = np.array([100.0, 3000.0]), 10.0
    mean_counts = true_cps @ spill.matrix().T * live_s
    counts = rng.poisson(mean_counts, size=(40_000, 2))
    rate, sd = counts / live_s, np.sqrt(counts) / live_s
    corrected, corrected_sd = unmix(rate, sd, spill)
    np.testing.assert_allclose(corrected.mean(axis=0), true_cps, rtol=2e-3)
    np.testing.assert_allclose(corrected_sd.mean(axis=0), corrected.std(axis=0), rtol=0.02)


def test_spill_fraction_uncertainty_adds_in_quadrature() -> None:
    """With exact rates, the sd is |dT0/df| * sd_f = T1 * sd_f for a 2-window system."""
    spill = SpillMatrix.parse(["1:0=0.1+-0.01"], 2)
    measured = np.array([[100.0 + 0.1 * 1000.0, 1000.0]])
    corrected, sd = unmix(measured, np.zeros((1, 2)), spill)
    np.testing.assert_allclose(corrected, [[100.0, 1000.0]])
    np.testing.assert_allclose(sd, [[1000.0 * 0.01, 0.0]], atol=1e-9)


def test_crosstalk_cps_is_what_the_correction_removes() -> None:
    spill = SpillMatrix.parse(["1:0=0.095"], 2)
    np.testing.assert_allclose(crosstalk_cps(np.array([[10.0, 1000.0]]), spill), [[95.0, 0.0]])


def test_subset_renumbers_the_pair() -> None:
    """A device's calibration over 3 windows, for the pair counted in windows 2 and 0."""
    full = SpillMatrix.parse(["2:0=0.1+-0.01", "0:2=0.02", "1:0=0.3"], 3)
    pair = full.subset([2, 0])
    assert pair.n_windows == 2
    assert sorted(pair.texts()) == ["0:1=0.1+-0.01", "1:0=0.02"]
    with pytest.raises(SpillError):
        full.subset([0, 0])
    with pytest.raises(SpillError):
        full.subset([0, 3])
