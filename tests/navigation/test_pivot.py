"""Pivot calibration (probe_nav/navigation/pivot.py): exact on exact poses, within the tracker's
noise on noisy ones (issue 17's acceptance: a known tip offset within 0.5 mm RMS from simulated
poses), and refusing poses that cannot determine the tip."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.navigation.pivot import (
    PivotError,
    pivot_calibrate,
    quaternions_to_matrices,
    rotation_spread_deg,
)
from probe_nav.simulator.tracking import matrices_to_quaternions, pivot_sweep

coordinate = st.floats(-300.0, 300.0)
vector = st.tuples(coordinate, coordinate, coordinate)


@settings(max_examples=40, deadline=None)
@given(tip=vector, pivot=vector, seed=st.integers(0, 2**32 - 1))
def test_exact_poses_give_the_tip_exactly(tip, pivot, seed) -> None:
    sweep = pivot_sweep(n_poses=30, noise_mm=0.0, tip_mm=tip, pivot_mm=pivot, seed=seed)
    result = pivot_calibrate(sweep.rotations, sweep.translations_mm)
    # Least squares on exact data: only rounding, ~1e-12 of the coordinates' size.
    assert np.allclose(result.tip_mm, tip, atol=1e-6)
    assert np.allclose(result.pivot_mm, pivot, atol=1e-6)
    assert result.rms_mm < 1e-6


@pytest.mark.parametrize("seed", range(5))
def test_noisy_poses_recover_the_tip_within_half_a_millimetre(seed: int) -> None:
    # 200 poses, optical-tracker noise 0.25 mm per axis: the tip's sd from the fit is ~0.02-0.05
    # mm per axis (printed by the fit, checked here against its own estimate: 4 sd), far inside
    # the acceptance's 0.5 mm; the RMS residual estimates the 3-D noise, sqrt(3) * 0.25 = 0.43.
    sweep = pivot_sweep(n_poses=200, noise_mm=0.25, seed=seed)
    result = pivot_calibrate(sweep.rotations, sweep.translations_mm)
    error = result.tip_mm - sweep.tip_mm
    assert np.linalg.norm(error) < 0.5
    assert np.all(np.abs(error) < 4 * result.tip_sd_mm + 1e-9)
    # RMS of 200 chi(3) draws scaled by 0.25 mm: sd of the estimate ~0.015 mm; within 0.1 mm.
    assert result.rms_mm == pytest.approx(math.sqrt(3) * 0.25, abs=0.1)
    # ... and it is the root mean square of the poses' distances from the pivot (not their mean,
    # which is 8 % smaller for chi(3) noise)
    residuals = np.linalg.norm(np.einsum("nij,j->ni", sweep.rotations, result.tip_mm)
                               + sweep.translations_mm - result.pivot_mm, axis=1)
    assert result.rms_mm == pytest.approx(float(np.sqrt(np.mean(residuals**2))), rel=1e-9)
    assert result.max_residual_mm == pytest.approx(float(residuals.max()), rel=1e-9)


def test_a_slipped_tip_shows_in_the_residual() -> None:
    sweep = pivot_sweep(n_poses=200, noise_mm=0.25, seed=3)
    moved = sweep.translations_mm.copy()
    moved[100:] += np.array([0.0, 4.0, 0.0])  # the tip left the divot half way through
    result = pivot_calibrate(sweep.rotations, moved)
    assert result.rms_mm > 1.5


def test_a_probe_turned_about_one_axis_only_is_refused() -> None:
    angles = np.radians(np.linspace(-30, 30, 40))
    rotations = np.array([[[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a),
                                                                       math.cos(a)]]
                          for a in angles])
    tip, pivot = np.array([0.0, 0.0, -150.0]), np.zeros(3)
    translations = pivot - np.einsum("nij,j->ni", rotations, tip)
    assert rotation_spread_deg(rotations) < 1.0
    with pytest.raises(PivotError, match="about two axes"):
        pivot_calibrate(rotations, translations)


def test_a_sweep_tilted_less_than_15_degrees_is_refused_and_more_is_taken() -> None:
    # tilts up to 8 degrees (with roll) turn the probe ~9.5 degrees about its second axis
    small = pivot_sweep(max_tilt_deg=8.0, seed=2)
    assert 5.0 < rotation_spread_deg(small.rotations) < 15.0
    with pytest.raises(PivotError, match="about two axes"):
        pivot_calibrate(small.rotations, small.translations_mm)
    wide = pivot_sweep(max_tilt_deg=15.0, seed=2)
    assert pivot_calibrate(wide.rotations, wide.translations_mm).spread_deg >= 15.0


def test_too_few_or_bad_poses_are_refused() -> None:
    sweep = pivot_sweep(n_poses=10, seed=1)
    with pytest.raises(PivotError, match="at least"):
        pivot_calibrate(sweep.rotations[:3], sweep.translations_mm[:3])
    bad = sweep.rotations.copy()
    bad[2] *= 1.1
    with pytest.raises(PivotError, match="pose 3 is not a rotation"):
        pivot_calibrate(bad, sweep.translations_mm)
    nan = sweep.translations_mm.copy()
    nan[0, 0] = math.nan
    with pytest.raises(PivotError, match="not finite"):
        pivot_calibrate(sweep.rotations, nan)


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_quaternions_round_trip(seed: int) -> None:
    rotations = pivot_sweep(n_poses=8, max_tilt_deg=89.0, seed=seed).rotations
    q = matrices_to_quaternions(rotations)
    assert np.allclose(np.linalg.norm(q, axis=1), 1.0)
    assert np.allclose(quaternions_to_matrices(q), rotations, atol=1e-12)


def test_quaternion_conventions() -> None:
    # w first: (cos 45, 0, 0, sin 45) turns x onto y (90 degrees about z).
    r = quaternions_to_matrices(np.array([[math.sqrt(0.5), 0.0, 0.0, math.sqrt(0.5)]]))[0]
    assert np.allclose(r @ [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
    with pytest.raises(PivotError, match="length"):
        quaternions_to_matrices(np.array([[1.0, 0.1, 0.0, 0.0]]))
