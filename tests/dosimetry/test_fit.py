"""fit_series: truths recovered, the covariance right (independent Fisher matrix, scaling with
counts), TIAC, retained fraction, extrapolation, AICc and the bounds of the model."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.calibration.nuclides import nuclide
from probe_nav.dosimetry.fit import aicc, fit_series
from probe_nav.dosimetry.series import RetentionPoint, SeriesError
from tests.dosimetry import synth

LN2 = math.log(2.0)
T_PHYS_LU_H = nuclide("Lu-177").half_life_s / 3600.0
TIMES_H = (4.0, 24.0, 48.0, 96.0, 168.0)
REL = 1e-6  # noise-free recovery: counts ~1e10-1e12 round to < 1e-10, the optimum to ~1e-9


@settings(max_examples=40)
@given(a0_cps=st.floats(1.0, 1e5), t_eff_h=st.floats(5.0, T_PHYS_LU_H * 0.98),
       spread=st.lists(st.floats(0.05, 3.0), min_size=3, max_size=8, unique=True))
def test_noise_free_mono_truths_are_recovered(a0_cps: float, t_eff_h: float,
                                              spread: list[float]) -> None:
    times = sorted(t_eff_h * s for s in spread)  # up to 3 half-lives: >= 1/8 of A0 left
    if min(np.diff(times), default=1.0) < 1e-3:
        return
    analysis = fit_series(synth.exact(synth.mono(a0_cps, t_eff_h), times, 1e12 / a0_cps),
                          "Lu-177")
    fit = analysis.mono
    assert fit.t_eff_h == pytest.approx(t_eff_h, rel=REL)
    assert fit.a0_cps == pytest.approx(a0_cps, rel=REL)
    assert fit.tiac_h == pytest.approx(t_eff_h / LN2, rel=REL)  # TIAC of a mono = T / ln 2
    t_bio = 1.0 / (1.0 / t_eff_h - 1.0 / T_PHYS_LU_H)  # 1/T_eff = 1/T_phys + 1/T_bio
    assert fit.t_bio_h == pytest.approx(t_bio, rel=1e-5)
    assert fit.retained_fraction(t_eff_h)[0][0] == pytest.approx(0.5, rel=REL)


@settings(max_examples=30)
@given(a0_cps=st.floats(1.0, 1e5), fraction_fast=st.floats(0.2, 0.8),
       t_slow_h=st.floats(20.0, 150.0), ratio=st.floats(3.0, 10.0),
       n_points=st.integers(6, 8))
def test_noise_free_bi_truths_are_recovered(a0_cps: float, fraction_fast: float, t_slow_h: float,
                                            ratio: float, n_points: int) -> None:
    t_fast_h = t_slow_h / ratio
    # geometric times from 0.2 T_fast to 3 T_slow: both components seen
    times = np.geomspace(0.2 * t_fast_h, 3.0 * t_slow_h, n_points)
    truth = synth.bi(a0_cps, fraction_fast, t_fast_h, t_slow_h)
    analysis = fit_series(synth.exact(truth, times, 1e12 / a0_cps), "Lu-177")
    assert analysis.bi is not None, analysis.bi_note
    assert analysis.chosen is analysis.bi
    fit = analysis.bi
    assert fit.fraction_fast == pytest.approx(fraction_fast, rel=REL)
    assert fit.t_eff_fast_h == pytest.approx(t_fast_h, rel=REL)
    assert fit.t_eff_slow_h == pytest.approx(t_slow_h, rel=REL)
    assert fit.a0_cps == pytest.approx(a0_cps, rel=REL)
    tiac = synth.tiac_h(fraction_fast, t_fast_h, t_slow_h)
    assert fit.tiac_h == pytest.approx(tiac, rel=REL)
    assert fit.t_eff_h == pytest.approx(tiac * LN2, rel=REL)  # equivalent mono half-life


def _noisy(seed: int = 3, a0_cps: float = 50.0, live_s: float = 600.0) -> list[RetentionPoint]:
    return synth.poisson(synth.mono(a0_cps, 60.0), TIMES_H, live_s, 2.0,
                         np.random.default_rng(seed))


def test_scaling_the_counts_scales_a0_and_shrinks_the_sd_by_the_square_root() -> None:
    # rates and backgrounds x4 at the same live time: the estimating equations are homogeneous,
    # so half-lives and fractions are unchanged, A0 x4, and each rate's variance (m + B)/L x4:
    # relative sds halve (a variance used as an sd would not halve, nor an sd squared)
    points = _noisy()
    scaled = [dataclasses.replace(p, counts=4 * p.counts, background_cps=4 * p.background_cps)
              for p in points]
    one, four = fit_series(points, "Lu-177").mono, fit_series(scaled, "Lu-177").mono
    assert four.t_eff_h == pytest.approx(one.t_eff_h, rel=1e-9)
    assert four.a0_cps == pytest.approx(4 * one.a0_cps, rel=1e-9)
    assert four.t_eff_sd_h == pytest.approx(one.t_eff_sd_h / 2, rel=1e-6)
    assert four.tiac_sd_h == pytest.approx(one.tiac_sd_h / 2, rel=1e-6)


def test_longer_live_time_same_rates_gives_the_same_fit_and_half_the_sd() -> None:
    points = _noisy()
    longer = [dataclasses.replace(p, counts=4 * p.counts, live_s=4 * p.live_s) for p in points]
    one, four = fit_series(points, "Lu-177").mono, fit_series(longer, "Lu-177").mono
    assert four.t_eff_h == pytest.approx(one.t_eff_h, rel=1e-9)
    assert four.a0_cps == pytest.approx(one.a0_cps, rel=1e-9)
    assert four.t_eff_sd_h == pytest.approx(one.t_eff_sd_h / 2, rel=1e-6)


def test_mono_covariance_is_the_inverse_poisson_fisher_matrix() -> None:
    # written out independently: for m = A e^(-k t) and Poisson counts N = L m (no background)
    # the information in (ln A, k) is sum N [[1, -t], [-t, t^2]]; sd(T) = ln 2 / k^2 sd(k)
    a0, t_eff, live = 40.0, 50.0, 300.0
    fit = fit_series(synth.exact(synth.mono(a0, t_eff), TIMES_H, live), "Lu-177").mono
    k = LN2 / t_eff
    t = np.array(TIMES_H)
    n = live * a0 * np.exp(-k * t)
    info = np.array([[n.sum(), -(n * t).sum()], [-(n * t).sum(), (n * t * t).sum()]])
    cov = np.linalg.inv(info)
    assert fit.t_eff_sd_h == pytest.approx(LN2 / k**2 * math.sqrt(cov[1, 1]), rel=1e-4)
    assert fit.a0_sd_cps == pytest.approx(a0 * math.sqrt(cov[0, 0]), rel=1e-4)
    # TIAC = 1/k: sd = sd(k)/k^2; the retained fraction e^(-kt): sd = t e^(-kt) sd(k)
    assert fit.tiac_sd_h == pytest.approx(math.sqrt(cov[1, 1]) / k**2, rel=1e-4)
    value, sd = fit.retained_fraction([0.0, 100.0])
    assert value[0] == pytest.approx(1.0) and sd[0] == 0.0  # all of it at administration
    assert sd[1] == pytest.approx(100 * math.exp(-k * 100) * math.sqrt(cov[1, 1]), rel=1e-4)


def test_background_is_subtracted_and_its_sd_widens_the_interval() -> None:
    truth = synth.mono(40.0, 50.0)
    clean = fit_series(synth.exact(truth, TIMES_H, 300.0), "Lu-177").mono
    with_bg = fit_series(synth.exact(truth, TIMES_H, 300.0, background_cps=25.0), "Lu-177").mono
    # exact counts of truth + 25 cps with 25 cps declared: the same curve (a sign error would
    # add 50 cps); its counting noise adds variance, so the sd grows
    assert with_bg.t_eff_h == pytest.approx(50.0, rel=1e-4)
    assert with_bg.t_eff_sd_h > 1.2 * clean.t_eff_sd_h
    unsure = [dataclasses.replace(p, background_sd_cps=1.0)
              for p in synth.exact(truth, TIMES_H, 300.0, background_cps=25.0)]
    assert fit_series(unsure, "Lu-177").mono.t_eff_sd_h > with_bg.t_eff_sd_h


def test_effective_half_life_cannot_exceed_the_physical_one() -> None:
    # a flat series (no decay at all) is impossible: the fit stops at T_phys, no clearance
    flat = [RetentionPoint(t, 100_000, 100.0) for t in TIMES_H]
    fit = fit_series(flat, "Lu-177").mono
    assert fit.t_eff_h == pytest.approx(T_PHYS_LU_H, rel=1e-6)
    assert fit.t_eff_h <= T_PHYS_LU_H
    assert math.isinf(fit.t_bio_h)
    assert fit.chi2_dof > 10  # and the misfit shows


def test_physical_decay_alone_is_recovered() -> None:
    fit = fit_series(synth.exact(synth.mono(1e4, T_PHYS_LU_H), TIMES_H, 1e8), "Lu-177").mono
    assert fit.t_eff_h == pytest.approx(T_PHYS_LU_H, rel=1e-6)
    assert fit.t_bio_h > 1e4 * T_PHYS_LU_H


def test_extrapolated_fraction_of_a_mono() -> None:
    # share of 0..inf outside [t0, tn]: 1 - e^-k t0 + e^-k tn
    fit = fit_series(synth.exact(synth.mono(1e3, 60.0), TIMES_H, 1e6), "Lu-177").mono
    k = LN2 / 60.0
    expected = 1 - math.exp(-k * 4.0) + math.exp(-k * 168.0)
    assert fit.extrapolated_fraction == pytest.approx(expected, rel=1e-6)
    assert not fit.extrapolation_flag  # 0.19
    short = fit_series(synth.exact(synth.mono(1e3, 60.0), (4.0, 24.0, 48.0), 1e6), "Lu-177")
    assert short.mono.extrapolated_fraction > 0.5
    assert short.mono.extrapolation_flag and short.as_dict()["extrapolation_flag"] is True


def test_aicc() -> None:
    assert aicc(3.0, 2, 5) == pytest.approx(3 + 4 + 12 / 2)
    assert aicc(3.0, 4, 8) == pytest.approx(3 + 8 + 40 / 3)
    assert math.isinf(aicc(3.0, 4, 5))  # n - k - 1 = 0


def test_bi_needs_five_points_and_aicc_needs_six() -> None:
    truth = synth.bi(1e3, 0.4, 10.0, 80.0)
    four = fit_series(synth.exact(truth, (2.0, 12.0, 48.0, 168.0), 1e6), "Lu-177")
    assert four.bi is None and "at least 5 points, got 4" in four.bi_note
    assert four.chosen is four.mono and math.isinf(four.aicc["bi"])
    five = fit_series(synth.exact(truth, (2.0, 12.0, 24.0, 48.0, 168.0), 1e6), "Lu-177")
    assert five.bi is not None and five.bi.fraction_fast == pytest.approx(0.4, rel=1e-4)
    assert five.chosen is five.mono and "AICc undefined" in five.bi_note
    six = fit_series(synth.exact(truth, (2.0, 6.0, 12.0, 24.0, 48.0, 168.0), 1e6), "Lu-177")
    assert six.chosen is six.bi and six.aicc["bi"] < six.aicc["mono"]


def test_residuals_are_standardised() -> None:
    # exact counts + one point 10 sd high: its residual is about +10 (and the others small)
    points = synth.exact(synth.mono(1e3, 60.0), TIMES_H, 100.0)
    bumped = points[2].counts + round(10 * math.sqrt(points[2].counts))
    points[2] = dataclasses.replace(points[2], counts=bumped)
    fit = fit_series(points, "Lu-177").mono
    assert 6.0 < fit.residuals[2] < 10.5
    assert fit.chi2_dof == pytest.approx(sum(r * r for r in fit.residuals) / 3)
    assert fit.chi2_p < 1e-6


def test_json_is_strict_and_complete() -> None:
    analysis = fit_series(_noisy(), "Lu-177")
    out = analysis.as_dict([24.0, 48.0])
    text = json.dumps(out, allow_nan=False)
    back = json.loads(text)
    for key in ("model", "t_eff_h", "t_eff_sd_h", "tiac_h", "tiac_sd_h", "fractions", "aicc",
                "mono", "bi", "extrapolated_fraction", "extrapolation_flag"):
        assert key in back
    assert [row["t_h"] for row in back["fractions"]] == [24.0, 48.0]
    assert back["aicc"]["bi"] is None or isinstance(back["aicc"]["bi"], float)
    assert back["mono"]["t_eff_h"] == analysis.mono.t_eff_h


def test_series_without_net_counts_or_unknown_nuclide_are_refused() -> None:
    empty = [RetentionPoint(t, 100, 10.0, background_cps=20.0) for t in TIMES_H]
    with pytest.raises(SeriesError, match="fewer than 2 points have a net rate above background"):
        fit_series(empty, "Lu-177")
    with pytest.raises(ValueError, match="unknown nuclide"):
        fit_series(_noisy(), "Lu-178")
    with pytest.raises(SeriesError, match="at least 3 points"):
        fit_series(_noisy()[:2], "Lu-177")


def test_points_below_background_are_kept() -> None:
    # a late point with a negative net rate is data, not an error
    points = _noisy(a0_cps=0.5, live_s=600.0)
    assert any(p.net_cps < 0 for p in points) or points[-1].net_cps < 0.2
    fit = fit_series(points, "Lu-177").mono
    assert math.isfinite(fit.t_eff_h) and fit.t_eff_sd_h > 0


def test_background_sd_enters_as_a_variance() -> None:
    # counts so large that counting noise is negligible: each net rate's variance is then the
    # background's sB^2 alone and the covariance of (ln A, k) is sB^2 (J^T J)^-1 with
    # J = [m, -t m] (an sd entered as a variance, or sB L for sB^2 L, would not match)
    a0, t_eff, sd_b = 40.0, 50.0, 0.5
    points = [dataclasses.replace(p, background_sd_cps=sd_b)
              for p in synth.exact(synth.mono(a0, t_eff), TIMES_H, 1e10, background_cps=3.0)]
    fit = fit_series(points, "Lu-177").mono
    k = LN2 / t_eff
    t = np.array(TIMES_H)
    m = a0 * np.exp(-k * t)
    j = np.column_stack([m, -t * m])
    cov = sd_b**2 * np.linalg.inv(j.T @ j)
    assert fit.t_eff_sd_h == pytest.approx(LN2 / k**2 * math.sqrt(cov[1, 1]), rel=1e-3)
