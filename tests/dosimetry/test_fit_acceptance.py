"""Issue 18 acceptance for retention fits, on Poisson-noisy series with fixed seeds.

Mono truth (Lu-177, T_eff 60 h; 5 points at 4..168 h; 50 cps net at administration counted
600 s: 3e4 counts at 4 h, 4e3 at 168 h, on 2 cps background): the reported sd of T_eff is ~0.8 %,
so EVERY trial's T_eff is within +-5 % of truth (5 % = 6.4 sd: P(any of 500 outside) ~ 1e-7),
and the +-1 sd interval covers truth in 60-76 % of 500 trials (binomial sd of the rate at 68.3 %
is 2.1 %: the band is +-3.7 sd). Measured with this seed: coverage 70.0 %, bias +0.01 %,
empirical sd 0.77 % vs reported 0.78 %.

Bi truth at the edge of the issue's condition (fast fraction 30 %, T_fast 15 h = T_slow/4,
T_slow 60 h; 6 points 4..168 h, same counts): AICc chooses bi in 200 of 200 trials with this
seed; the test asks >= 90 % ("most"). Five points cannot choose bi: AICc with k = 4, n = 5 has
n - k - 1 = 0 (test_fit.py::test_bi_needs_five_points_and_aicc_needs_six).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.dosimetry.fit import RetentionAnalysis, fit_series
from tests.dosimetry import synth

TIMES_5_H = (4.0, 24.0, 48.0, 96.0, 168.0)
TIMES_6_H = (4.0, 12.0, 24.0, 48.0, 96.0, 168.0)
A0_CPS, LIVE_S, BACKGROUND_CPS = 50.0, 600.0, 2.0


def _trials(truth: synth.Truth, times: tuple[float, ...], n: int,
            seed: int) -> list[RetentionAnalysis]:
    rng = np.random.default_rng(seed)
    return [fit_series(synth.poisson(truth, times, LIVE_S, BACKGROUND_CPS, rng), "Lu-177")
            for _ in range(n)]


def test_mono_half_life_within_5_percent_and_68_percent_coverage() -> None:
    t_true_h = 60.0
    trials = _trials(synth.mono(A0_CPS, t_true_h), TIMES_5_H, 500, seed=18)
    t_eff = np.array([a.mono.t_eff_h for a in trials])
    sd = np.array([a.mono.t_eff_sd_h for a in trials])
    chosen = np.array([a.chosen.t_eff_h for a in trials])
    # every trial, the mono fit and whatever AICc chose
    assert np.all(np.abs(t_eff / t_true_h - 1) <= 0.05)
    assert np.all(np.abs(chosen / t_true_h - 1) <= 0.05)
    coverage = float(np.mean(np.abs(t_eff - t_true_h) <= sd))
    assert 0.60 <= coverage <= 0.76, coverage
    # unbiased: the mean is within 4 standard errors (sd / sqrt(500)) of truth
    assert abs(t_eff.mean() - t_true_h) < 4 * t_eff.std() / math.sqrt(len(t_eff))
    # the reported sd is the empirical one: a 500-trial sd is known to 1/sqrt(2 * 499) = 3.2 %,
    # so 15 % is 4.7 of those
    assert np.mean(sd) == pytest.approx(t_eff.std(ddof=1), rel=0.15)
    # TIAC = T/ln 2 for a mono: the same coverage
    tiac_true = t_true_h / math.log(2.0)
    tiac_cover = np.mean([abs(a.mono.tiac_h - tiac_true) <= a.mono.tiac_sd_h for a in trials])
    assert tiac_cover == coverage


def test_bi_exponential_truth_is_chosen_by_aicc() -> None:
    fraction, t_fast_h, t_slow_h = 0.30, 15.0, 60.0  # f >= 30 %, T_fast <= T_slow / 4
    trials = _trials(synth.bi(A0_CPS, fraction, t_fast_h, t_slow_h), TIMES_6_H, 200, seed=7)
    chosen_bi = [a.bi for a in trials if a.chosen.model == "bi"]
    assert len(chosen_bi) >= 180  # >= 90 % of 200
    # and what it reports is right: +-1 sd of the TIAC covers truth in 68 % (binomial sd of 200
    # trials 3.3 %: +-3 sd is 58-78 %); the fast fraction likewise
    tiac_true = synth.tiac_h(fraction, t_fast_h, t_slow_h)
    tiac_cover = np.mean([abs(b.tiac_h - tiac_true) <= b.tiac_sd_h
                          for b in chosen_bi if b is not None])
    f_cover = np.mean([abs(b.fraction_fast - fraction) <= b.fraction_fast_sd
                       for b in chosen_bi if b is not None and b.fraction_fast is not None
                       and b.fraction_fast_sd is not None])
    assert 0.58 <= tiac_cover <= 0.78, tiac_cover
    assert 0.58 <= f_cover <= 0.78, f_cover
