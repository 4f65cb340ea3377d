"""Dead-time models: round trips, the paralysable maximum and both branches."""

from __future__ import annotations

import numpy as np
import pytest

from probe_nav.calibration.deadtime import (
    DeadTimeModel,
    nonparalysable_observed_cps,
    nonparalysable_true_cps,
    paralysable_max_observed_cps,
    paralysable_observed_cps,
    paralysable_true_cps,
)

TAU_S = 5e-6


def test_nonparalysable_round_trip() -> None:
    n = np.geomspace(1.0, 100.0 / TAU_S, 200)
    m = nonparalysable_observed_cps(n, TAU_S)
    assert np.all(m < 1.0 / TAU_S)
    np.testing.assert_allclose(nonparalysable_true_cps(m, TAU_S), n, rtol=1e-9)


def test_nonparalysable_known_value_and_limit() -> None:
    # n tau = 1 loses half of the pulses
    assert nonparalysable_observed_cps(1.0 / TAU_S, TAU_S) == pytest.approx(0.5 / TAU_S)
    assert nonparalysable_true_cps(1.001 / TAU_S, TAU_S) == np.inf


def test_paralysable_round_trip_both_branches() -> None:
    low = np.geomspace(1.0, 0.999 / TAU_S, 200)
    high = np.geomspace(1.001 / TAU_S, 20.0 / TAU_S, 200)
    np.testing.assert_allclose(
        paralysable_true_cps(paralysable_observed_cps(low, TAU_S), TAU_S), low, rtol=1e-6)
    np.testing.assert_allclose(
        paralysable_true_cps(paralysable_observed_cps(high, TAU_S), TAU_S, branch="high"),
        high, rtol=1e-6)


def test_paralysable_maximum() -> None:
    m_max = paralysable_max_observed_cps(TAU_S)
    assert m_max == pytest.approx(1.0 / (np.e * TAU_S))
    assert paralysable_observed_cps(1.0 / TAU_S, TAU_S) == pytest.approx(m_max)
    n = np.linspace(0, 10 / TAU_S, 10001)
    assert paralysable_observed_cps(n, TAU_S).max() <= m_max * (1 + 1e-12)
    assert paralysable_true_cps(1.01 * m_max, TAU_S) == np.inf  # no true rate shows that
    assert paralysable_true_cps(0.0, TAU_S) == 0.0
    assert paralysable_true_cps(0.0, TAU_S, branch="high") == np.inf


def test_model_object_and_validation() -> None:
    par = DeadTimeModel("paralysable", TAU_S)
    non = DeadTimeModel("nonparalysable", TAU_S)
    assert par.max_observed_cps == pytest.approx(1 / (np.e * TAU_S))
    assert non.max_observed_cps == pytest.approx(1 / TAU_S)
    assert par.true_cps(par.observed_cps(1e4)) == pytest.approx(1e4)
    assert non.true_cps(non.observed_cps(1e4)) == pytest.approx(1e4)
    with pytest.raises(ValueError):
        DeadTimeModel("extending", TAU_S)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DeadTimeModel("paralysable", 0.0)
    with pytest.raises(ValueError):
        paralysable_true_cps(1.0, TAU_S, branch="middle")  # type: ignore[arg-type]
