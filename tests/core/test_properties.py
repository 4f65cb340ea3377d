"""Hypothesis properties of every estimator: no negative rates, sd > 0, no NaN, any chunking."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe_nav.core.background import BackgroundMeasurement
from probe_nav.core.pipeline import PipelineConfig, Processor
from probe_nav.core.rate import make_meter
from probe_nav.core.timed import TimedCount
from tests.core.fakes import CusumDetector

METERS = ["adaptive", "0.5", "1", "2", "5"]

frames = st.lists(
    st.tuples(st.integers(0, 5000), st.sampled_from([0.0, 1e-6, 0.01, 0.05, 0.05, 0.05, 1.0])),
    min_size=0, max_size=300,
)
settings_ = settings(max_examples=60, deadline=None,
                     suppress_health_check=[HealthCheck.too_slow])


def arrays(data: list[tuple[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    counts = np.array([c for c, _ in data], dtype=np.int64)
    live = np.array([v for _, v in data], dtype=np.float64)
    return counts, live


@settings_
@given(data=frames, meter=st.sampled_from(METERS), cut=st.integers(0, 300))
def test_meter_outputs_are_sane_and_chunk_invariant(data, meter, cut) -> None:
    counts, live = arrays(data)
    out = make_meter(meter).process(counts, live)
    assert out.rate_cps.shape == counts.shape
    assert np.all(out.rate_cps >= 0) and np.all(np.isfinite(out.rate_cps))
    assert not np.any(np.isnan(out.rate_sd_cps)) and np.all(out.rate_sd_cps > 0)
    # sd is infinite only while the meter has seen no live time
    no_live = np.cumsum(live) == 0
    assert np.all(np.isinf(out.rate_sd_cps) == (out.eff_live_s == 0))
    assert np.all(out.eff_live_s[no_live] == 0)
    m = make_meter(meter)
    parts = [m.process(counts[:cut], live[:cut]), m.process(counts[cut:], live[cut:])]
    np.testing.assert_array_equal(np.concatenate([p.rate_cps for p in parts]), out.rate_cps)


@settings_
@given(data=frames)
def test_zero_counts_give_zero_rate_and_positive_sd(data) -> None:
    counts, live = arrays(data)
    counts[:] = 0
    for meter in METERS:
        out = make_meter(meter).process(counts, live)
        assert np.all(out.rate_cps == 0) and np.all(out.rate_sd_cps > 0)


@settings_
@given(data=frames, background=st.one_of(st.none(), st.floats(0, 1e4)),
       meter=st.sampled_from(METERS))
def test_pipeline_readings_are_never_nan(data, background, meter) -> None:
    counts, live = arrays(data)
    t = np.cumsum(np.full(counts.size, 0.05))
    cfg = PipelineConfig(meter=meter, background_cps=background, background_s=0.5)
    r = Processor(cfg, detector_factory=CusumDetector).process(t, live, counts)
    for name, values in r.as_dict().items():
        if values.dtype.kind == "f":
            assert not np.any(np.isnan(values)), name
    assert np.all(r.rate_cps >= 0) and np.all(r.rate_sd_cps > 0) and np.all(np.isfinite(r.z))


@settings_
@given(data=frames, preset=st.sampled_from([1.0, 2.0, 5.0, 10.0, 0.3]))
def test_timed_and_background_never_nan(data, preset) -> None:
    counts, live = arrays(data)
    tc = TimedCount(preset)
    tc.add(counts, live)
    res = tc.result
    assert res.rate_cps >= 0 and res.rate_sd_cps > 0 and not np.isnan(res.net_sd_cps)
    assert res.complete == (live.sum() >= preset * (1 - 1e-9))
    bm = BackgroundMeasurement(preset)
    bm.start()
    bm.add(counts, live)
    bg = bm.result
    assert bg.rate_cps >= 0 and bg.sd_cps > 0 and not np.isnan(bg.sd_cps)
