"""Readings while the background is being measured carry the measurement's honest uncertainty.

During the measurement the background shown is N/T of the counts so far, with the Poisson sd
sqrt(max(N, 1))/T; a zero sd there would make the net rate and z look more certain than they are.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.core.pipeline import PipelineConfig, Processor
from tests.core.fakes import CusumDetector

FRAME_S = 0.1


def measure(counts: list[int], background_s: float = 1.0):
    """Readings of 0.1 s frames with the background measured over the first background_s."""
    c = np.asarray(counts, dtype=np.int64)
    live = np.full(c.size, FRAME_S)
    t = np.arange(1, c.size + 1) * FRAME_S
    proc = Processor(PipelineConfig(meter="1", background_s=background_s),
                     detector_factory=CusumDetector)
    return proc.process(t, live, c)


def test_background_sd_during_measurement_exact() -> None:
    r = measure([0, 3, 1, 0, 2, 0, 0, 1, 0, 3, 5, 5])
    # cumulative (N, T) after frames 1..4: (0, 0.1) (3, 0.2) (4, 0.3) (4, 0.4)
    # sd = sqrt(max(N, 1)) / T: 1/0.1 = 10, sqrt(3)/0.2, 2/0.3, 2/0.4 = 5
    np.testing.assert_allclose(r.background_sd_cps[:4],
                               [10.0, math.sqrt(3) / 0.2, 2 / 0.3, 5.0], rtol=1e-12)
    np.testing.assert_allclose(r.background_cps[:4], [0.0, 15.0, 4 / 0.3, 10.0], rtol=1e-12)
    # measurement complete after 10 frames (1 s): N = 10 -> 10 +- sqrt(10) cps from then on
    np.testing.assert_allclose(r.background_cps[9:], 10.0, rtol=1e-12)
    np.testing.assert_allclose(r.background_sd_cps[9:], math.sqrt(10.0), rtol=1e-12)
    assert not r.hot.any()


@settings(max_examples=40, deadline=None)
@given(counts=st.lists(st.integers(0, 50), min_size=1, max_size=30))
def test_background_uncertainty_reaches_net_and_z(counts: list[int]) -> None:
    r = measure(counts, background_s=5.0)  # 50 frames: all of these are inside the measurement
    n = np.cumsum(counts)
    t_s = np.arange(1, len(counts) + 1) * FRAME_S
    expected_sd = np.sqrt(np.maximum(n, 1)) / t_s
    np.testing.assert_allclose(r.background_sd_cps, expected_sd, rtol=1e-12)
    # the net rate's sd adds both variances; z is net over the no-source sd, which includes the
    # background's variance, so |z| is at most |net| / sd_b
    np.testing.assert_allclose(r.net_sd_cps, np.hypot(r.rate_sd_cps, expected_sd), rtol=1e-12)
    assert np.all(np.abs(r.z) <= np.abs(r.net_cps) / expected_sd * (1 + 1e-12))


def test_online_measurement_shows_the_same_sd() -> None:
    counts = [2, 0, 4, 1, 0, 0, 3]
    batch = measure(counts)
    proc = Processor(PipelineConfig(meter="1", background_s=1.0), detector_factory=CusumDetector)
    for i, x in enumerate(counts):
        one = proc.process([(i + 1) * FRAME_S], [FRAME_S], [x])
        assert one.background_sd_cps[0] == pytest.approx(batch.background_sd_cps[i], rel=1e-12)
        assert one.background_sd_cps[0] > 0.0
