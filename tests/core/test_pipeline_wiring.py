"""The pipeline hands its settings and every frame field to the stages that need them."""

from __future__ import annotations

import numpy as np

from probe_nav.calibration.deadtime import DeadTimeModel, paralysable_max_observed_cps
from probe_nav.core.pipeline import PipelineConfig, Processor
from probe_nav.drivers.frames import CountFrame
from tests.core.fakes import CusumDetector

FRAME_S = 0.05


def test_a_given_background_detects_from_the_first_frame() -> None:
    # 20 cps given (1 count per frame), then 200 cps (10 per frame). The fake CUSUM adds
    # 10 ln 2 - 20 x 0.05 = 5.93 per hot frame against h = ln 600 = 6.40: hot from the 2nd frame.
    CusumDetector.created.clear()
    proc = Processor(PipelineConfig(meter="1", background_cps=20.0, background_sd_cps=0.5),
                     detector_factory=CusumDetector)
    assert proc.background_ready
    counts = np.r_[np.full(40, 1), np.full(10, 10)]
    t = np.arange(1, counts.size + 1) * FRAME_S
    r = proc.process(t, np.full(counts.size, FRAME_S), counts)
    assert CusumDetector.created == [(20.0, 600.0, 0.5)]
    assert not r.hot[:41].any() and r.hot[41:].all()
    np.testing.assert_array_equal(r.background_cps, 20.0)
    np.testing.assert_array_equal(r.background_sd_cps, 0.5)


def test_dead_time_setting_reaches_the_over_range_rule() -> None:
    # a paralysable counter reading 0.9 of its maximum 1/(e tau) is past the enter level (0.8)
    tau_s = 10e-6
    counts = np.full(10, round(0.9 * paralysable_max_observed_cps(tau_s) * FRAME_S))
    live = np.full(10, FRAME_S)
    t = np.arange(1, 11) * FRAME_S
    config = PipelineConfig(background_cps=10.0, dead_time=DeadTimeModel("paralysable", tau_s))
    with_dead_time = Processor(config, CusumDetector).process(t, live, counts, real_s=live)
    assert with_dead_time.over_range.all()
    plain = Processor(PipelineConfig(background_cps=10.0), CusumDetector)
    assert not plain.process(t, live, counts, real_s=live).over_range.any()


def test_real_time_reaches_the_dead_fraction_rule() -> None:
    # live 10 % of real time (< 20 %): the counter was dead for most of the frame; the flag
    # holds until 3 s (60 frames) with live time back to >= 50 % (issue 14: latched)
    config = PipelineConfig(background_cps=10.0)
    real = np.full(62, FRAME_S)
    live = real * np.r_[1.0, 0.1, np.full(60, 0.5)]
    expected = [False] + [True] * 60 + [False]
    r = Processor(config, CusumDetector).process(real.cumsum(), live, np.ones(62), real_s=real)
    np.testing.assert_array_equal(r.over_range, expected)
    proc = Processor(config, CusumDetector)
    readings = [proc.push(CountFrame(i, (i + 1) * FRAME_S, FRAME_S, float(v), (1,)))
                for i, v in enumerate(live)]
    assert [x.over_range for x in readings] == expected
