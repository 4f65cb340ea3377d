"""Dead time by the two-source and decaying-source methods: exact round trips, the closed
form, statistical recovery on the simulator's event-by-event counter, clear failures."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.calibration.deadtime import DeadTimeModel
from probe_nav.calibration.deadtime_methods import decaying_source, fit_count_rate_curve, two_source
from probe_nav.calibration.errors import AnalysisError
from probe_nav.simulator.benches import bench_decaying_source, bench_two_source

from .conftest import coverage_bounds

MODELS = ("nonparalysable", "paralysable")


def _knoll(m1: float, m2: float, m12: float, mb: float) -> float:
    """Closed-form non-paralysable two-source dead time (Knoll, Radiation Detection, 4-32)."""
    x = m1 * m2 - mb * m12
    y = m1 * m2 * (m12 + mb) - mb * m12 * (m1 + m2)
    z = y * (m1 + m2 - m12 - mb) / x**2
    return x * (1 - math.sqrt(1 - z)) / y


@given(st.floats(1e-7, 1e-4), st.floats(0.01, 0.4), st.floats(0.01, 0.4),
       st.floats(0.0, 1e-3), st.sampled_from(MODELS))
def test_two_source_round_trip(tau: float, x1: float, x2: float, xb: float, model: str) -> None:
    # Exact observed rates of true rates n1 = s1 + b, n2 = s2 + b, n12 = s1 + s2 + b give tau.
    counter = DeadTimeModel(model, tau)  # type: ignore[arg-type]
    s1, s2, b = x1 / tau, x2 / tau, xb / tau
    m1, m2, m12, mb = (float(counter.observed_cps(n)) for n in (s1 + b, s2 + b, s1 + s2 + b, b))
    est = two_source(m1, m2, m12, mb, 10.0, 10.0, 10.0, 10.0, model)  # type: ignore[arg-type]
    assert est.tau_s == pytest.approx(tau, rel=1e-6)


def test_two_source_matches_the_closed_form() -> None:
    m1, m2, m12, mb = 9000.0, 8000.0, 15500.0, 30.0
    est = two_source(m1, m2, m12, mb, 20, 20, 20, 20, "nonparalysable")
    assert est.tau_s == pytest.approx(_knoll(m1, m2, m12, mb), rel=1e-9)


@given(st.floats(1e-7, 1e-4), st.floats(0.05, 2.0), st.sampled_from(MODELS))
def test_count_rate_curve_round_trip(tau: float, top: float, model: str) -> None:
    counter = DeadTimeModel(model, tau)  # type: ignore[arg-type]
    x = np.geomspace(0.02, 1.0, 12)
    n = x * top / tau
    m = np.asarray(counter.observed_cps(n))
    fit = fit_count_rate_curve(x, m, 1e6, model)  # type: ignore[arg-type]
    assert fit.tau_s == pytest.approx(tau, rel=1e-4)
    assert fit.scale_cps == pytest.approx(top / tau, rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_two_source_recovers_the_simulated_dead_time(model: str) -> None:
    n, within_1, within_2 = 40, 0, 0
    for seed in range(n):
        b = bench_two_source(model=model, seed=seed)
        est = two_source(b.rate("1"), b.rate("2"), b.rate("12"), b.rate("b"), b.real_s["1"],
                         b.real_s["2"], b.real_s["12"], b.real_s["b"], model)  # type: ignore
        z = abs(est.tau_s - b.tau_s) / est.tau_sd_s
        within_1 += z <= 1
        within_2 += z <= 2
    lo1, hi1 = coverage_bounds(n, 1.0)
    lo2, hi2 = coverage_bounds(n, 2.0)
    assert lo1 <= within_1 <= hi1, within_1
    assert lo2 <= within_2 <= hi2, within_2


@pytest.mark.slow
@pytest.mark.parametrize("model", MODELS)
def test_decaying_source_recovers_the_simulated_dead_time(model: str) -> None:
    n, within_1, within_2 = 30, 0, 0
    for seed in range(n):
        b = bench_decaying_source(model=model, n_counts=16, interval_s=3600.0, count_s=4.0,
                                  seed=100 + seed)
        est = decaying_source(b.t_s, b.observed_cps, b.real_s, b.half_life_s, model)  # type: ignore
        z = abs(est.tau_s - b.tau_s) / est.tau_sd_s
        within_1 += z <= 1
        within_2 += z <= 2
        assert est.true_scale_cps == pytest.approx(b.truth["initial_true_cps"],
                                                   abs=4 * est.true_scale_sd_cps)
    lo1, hi1 = coverage_bounds(n, 1.0)
    lo2, hi2 = coverage_bounds(n, 2.0)
    assert lo1 <= within_1 <= hi1, within_1
    assert lo2 <= within_2 <= hi2, within_2


def test_failures_are_clear() -> None:
    with pytest.raises(AnalysisError, match="no measurable dead-time loss"):
        two_source(1000, 1000, 2000, 0, 10, 10, 10, 10)
    with pytest.raises(AnalysisError, match="counter model"):
        two_source(1000, 1000, 1900, 0, 10, 10, 10, 10, "extending")  # type: ignore[arg-type]
    with pytest.raises(AnalysisError, match="counting time"):
        two_source(1000, 1000, 1900, 0, 10, 0, 10, 10)
    # a paralysable counter cannot lose this much at these rates (beyond its maximum)
    with pytest.raises(AnalysisError, match="fit no paralysable"):
        two_source(30000, 30000, 30500, 0, 10, 10, 10, 10, "paralysable")
    # too few points, no rate range, no loss at all
    with pytest.raises(AnalysisError, match="at least 3"):
        decaying_source([0, 1], [100, 90], 1.0, 3600.0)
    t = np.arange(10) * 60.0
    with pytest.raises(AnalysisError):
        decaying_source(t, 100.0 * np.exp2(-t / 1e9), 10.0, 1e9)
    with pytest.raises(AnalysisError, match="not measurable"):
        decaying_source(t * 100, 50.0 * np.exp2(-t * 100 / 21636.0), 10.0, 21636.0)
