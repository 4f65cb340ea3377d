"""Adaptive meter at its limits: frames larger than the memory, and settings it must refuse."""

from __future__ import annotations

import numpy as np
import pytest

from probe_nav.core.adaptive import AdaptiveConfig, AdaptiveRateMeter


def test_a_frame_holding_more_than_the_memory_is_the_estimate_alone() -> None:
    # max_counts 2500 (the default): a 50 ms frame of 5000 counts already exceeds the memory, so
    # the segment is that one frame (never less): rate = N / 0.05 s, T_eff = 0.05 s,
    # sd = sqrt(N) / 0.05 s.
    counts = np.array([5000, 20000, 8000, 12000])
    live = np.full(4, 0.05)
    est = AdaptiveRateMeter().process(counts, live)
    np.testing.assert_allclose(est.rate_cps, counts / 0.05, rtol=1e-12)
    np.testing.assert_allclose(est.eff_live_s, 0.05, rtol=1e-12)
    np.testing.assert_allclose(est.rate_sd_cps, np.sqrt(counts) / 0.05, rtol=1e-12)


@pytest.mark.parametrize("bad", [
    {"max_counts": 0}, {"max_window_s": 0.0}, {"max_window_s": -1.0}, {"threshold": 0.0},
])
def test_settings_that_make_no_meter_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        AdaptiveRateMeter(AdaptiveConfig(**bad))  # type: ignore[arg-type]


def test_smallest_valid_settings_are_accepted() -> None:
    # one count of memory, a 0.5 s window cap and a small threshold make a (noisy) meter
    meter = AdaptiveRateMeter(AdaptiveConfig(max_counts=1, max_window_s=0.5, threshold=0.5))
    est = meter.process(np.array([0, 3, 1]), np.full(3, 0.1))
    assert np.all(np.isfinite(est.rate_cps)) and np.all(est.rate_sd_cps > 0)
