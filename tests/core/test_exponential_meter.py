"""The exponential meter equals the classic recursion at every frame, across its rebases."""

from __future__ import annotations

import numpy as np

from probe_nav.core.rate import ExponentialMeter


def recursion(counts: np.ndarray, live_s: np.ndarray, tau_s: float) -> tuple[np.ndarray, ...]:
    """Rate, sd and T_eff from the textbook recursion, weights exp(-age/tau) by live time:
    a = a e^(-dt/tau) + x, b = b e^(-dt/tau) + dt, d = d e^(-2 dt/tau) + dt;
    rate = a/b, T_eff = b^2/d (Kish's effective sample size in time), sd = sqrt(max(rate T_eff,
    1)) / T_eff."""
    a = b = d = 0.0
    rate, t_eff = np.empty(counts.size), np.empty(counts.size)
    for i, (x, dt) in enumerate(zip(counts.tolist(), live_s.tolist(), strict=True)):
        decay = np.exp(-dt / tau_s)
        a, b, d = a * decay + x, b * decay + dt, d * decay * decay + dt
        rate[i], t_eff[i] = a / b, b * b / d
    return rate, np.sqrt(np.maximum(rate * t_eff, 1.0)) / t_eff, t_eff


def test_meter_equals_the_recursion_at_every_frame() -> None:
    # 4000 frames of 50 ms (live 60-100 % of it) at tau = 0.5 s: about 290 tau of live time, so
    # the meter's internal origin moves (every 150 tau) once or twice; the estimate right after
    # each move must still be the recursion's, to float precision (1e-9 of a sum of ~1e4 terms).
    rng = np.random.default_rng(4)
    live = 0.05 * rng.uniform(0.6, 1.0, 4000)
    counts = rng.poisson(np.repeat([30.0, 300.0, 5.0, 80.0], 1000) * live)
    est = ExponentialMeter(0.5).process(counts, live)
    rate, sd, t_eff = recursion(counts, live, 0.5)
    assert live.sum() / 0.5 > 2 * ExponentialMeter.REBASE  # two origin moves really happened
    np.testing.assert_allclose(est.rate_cps, rate, rtol=1e-9)
    np.testing.assert_allclose(est.eff_live_s, t_eff, rtol=1e-9)
    np.testing.assert_allclose(est.rate_sd_cps, sd, rtol=1e-9)
