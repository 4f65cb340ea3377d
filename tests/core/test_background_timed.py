"""Background, net rate, significance, Currie limits and timed counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import poisson

from probe_nav.core.background import (
    Background,
    BackgroundMeasurement,
    currie_decision_level_counts,
    currie_detection_limit_counts,
    net_rate,
    z_score,
)
from probe_nav.core.timed import TimedCount, timed_count


def test_currie_limits_known_values() -> None:
    assert currie_decision_level_counts(100.0) == pytest.approx(16.45)
    assert currie_detection_limit_counts(100.0) == pytest.approx(2.71 + 32.9)
    np.testing.assert_allclose(currie_decision_level_counts([0.0, 400.0]), [0.0, 32.9])


def test_decision_level_false_positive_rate_is_about_five_percent() -> None:
    # Background-only 10 s counts at B = 100 counts: the fraction above B + L_C must equal the
    # exact Poisson tail P(N > 116.45) (binomial sd sqrt(p(1-p)/K); accept 4 sd) and that tail is
    # Currie's 5 % up to the discreteness of Poisson counts.
    b_counts, k = 100.0, 40000
    counts = np.random.default_rng(7).poisson(b_counts, k)
    level = b_counts + currie_decision_level_counts(b_counts)
    exact = poisson.sf(math.floor(level), b_counts)
    frac = np.mean(counts > level)
    assert abs(frac - exact) <= 4 * math.sqrt(exact * (1 - exact) / k)
    assert 0.035 <= exact <= 0.06


def test_net_rate_and_z() -> None:
    net, sd = net_rate(30.0, 3.0, 10.0, 4.0)
    assert net == 20.0 and sd == 5.0
    # z against the no-source sd sqrt(b/T + sd_b^2) = sqrt(10/10 + 0) = 1
    assert z_score(2.0, 10.0, 10.0, 0.0) == pytest.approx(2.0)
    assert z_score(2.0, 0.0, 10.0, 0.0) == 0.0  # no live time: no evidence
    assert np.isfinite(z_score(5.0, 1.0, 0.0, 0.0))  # zero background still finite


def test_background_measurement_fixed_duration_stops_on_whole_frames() -> None:
    m = BackgroundMeasurement(duration_s=1.0)
    m.start()
    live = np.full(30, 0.05)
    used = m.add(np.full(30, 2), live)
    assert used == 20 and m.complete and not m.running
    res = m.result
    assert res.counts == 40 and res.live_s == pytest.approx(1.0)
    assert res.rate_cps == pytest.approx(40.0) and res.sd_cps == pytest.approx(math.sqrt(40.0))
    assert m.add(np.array([5]), np.array([0.05])) == 0  # stopped: ignores frames


def test_background_start_stop_and_given() -> None:
    m = BackgroundMeasurement()
    assert m.add(np.array([3]), np.array([1.0])) == 0  # not started
    m.start()
    m.add(np.array([0, 0]), np.array([1.0, 1.0]))
    bg = m.stop()
    assert bg.rate_cps == 0.0 and bg.sd_cps == pytest.approx(0.5)  # floor of one count
    assert Background.measured(5, 0.0).sd_cps == math.inf
    assert Background.given(12.5).sd_cps == 0.0
    with pytest.raises(ValueError):
        Background.given(-1.0)


@pytest.mark.parametrize("preset", [1.0, 2.0, 5.0, 10.0, 3.3])
def test_timed_count_presets(preset: float) -> None:
    live = np.full(400, 0.05)
    res = timed_count(np.full(400, 3), live, preset, Background.given(20.0, 1.0))
    frames = math.ceil(preset / 0.05 - 1e-9)
    assert res.complete and res.counts == 3 * frames
    assert res.live_s == pytest.approx(frames * 0.05)
    assert res.rate_cps == pytest.approx(60.0)
    assert res.rate_sd_cps == pytest.approx(math.sqrt(res.counts) / res.live_s)
    assert res.net_cps == pytest.approx(40.0)
    assert res.net_sd_cps == pytest.approx(math.hypot(res.rate_sd_cps, 1.0))


def test_timed_count_chunks_real_time_and_significance() -> None:
    tc = TimedCount(2.0, basis="real")
    live, real = np.full(100, 0.04), np.full(100, 0.05)
    used = sum(tc.add(np.full(7, 1), live[:7], real[:7], t_s=np.arange(7) * 0.05)
               for _ in range(10))
    assert used == 40 and tc.complete and tc.result.real_s == pytest.approx(2.0)
    assert tc.result.live_s == pytest.approx(1.6) and tc.t_end_s is not None
    # 10 s at background 10 cps: B = 100, L_C = 16.45 -> 117 counts significant, 116 not
    bg = Background.given(10.0)
    assert timed_count(np.array([117]), np.array([10.0]), 10.0, bg).significant
    assert not timed_count(np.array([116]), np.array([10.0]), 10.0, bg).significant
    empty = TimedCount(1.0).result
    assert empty.rate_sd_cps == math.inf and not empty.complete and not empty.significant


def test_background_before_any_live_time_is_unknown() -> None:
    # no live time: rate 0 with an infinite sd (nothing known), the counts kept for the record
    bg = Background.measured(5, 0.0)
    assert (bg.rate_cps, bg.sd_cps, bg.counts, bg.live_s) == (0.0, math.inf, 5, 0.0)
    fresh = BackgroundMeasurement(2.0)
    assert not fresh.running and not fresh.complete
    assert (fresh.result.counts, fresh.result.live_s, fresh.result.sd_cps) == (0, 0.0, math.inf)
    fresh.start()
    fresh.add(np.array([3]), np.array([0.5]))
    assert fresh.running and not fresh.complete
    assert (fresh.result.counts, fresh.result.live_s) == (3, 0.5)  # from zero, not from 1 / 1 s
    with pytest.raises(ValueError, match="duration"):
        BackgroundMeasurement(0.0)


def test_currie_limits_are_floats_for_scalars_and_arrays_for_arrays() -> None:
    assert isinstance(currie_decision_level_counts(4), float)
    assert isinstance(currie_detection_limit_counts(4), float)
    assert currie_detection_limit_counts(4) == pytest.approx(2.71 + 3.29 * 2)
    assert currie_detection_limit_counts([0.0, 4.0]).shape == (2,)
