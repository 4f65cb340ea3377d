"""Properties of the synthesiser for any input: finite, bounded, float32, the right length."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.audio import MODES, AudioFeedback, AudioSettings
from probe_nav.audio.pitch import rate_to_pitch_hz
from probe_nav.drivers.frames import LinkState
from tests.audio.conftest import reading

any_float = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e308, 5e-324]),
)
updates = st.lists(
    st.tuples(
        st.one_of(st.none(), st.builds(reading, any_float, z=any_float, hot=st.booleans(),
                                       over_range=st.booleans())),
        st.sampled_from(list(LinkState)),
        st.one_of(st.integers(-5, 10**9), st.just(0)),
        any_float,
        st.booleans(),
        st.integers(0, 3000),  # samples rendered after the update
        st.booleans(),  # acknowledge
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(mode=st.sampled_from(MODES), volume=st.floats(0.0, 1.0), muted=st.booleans(),
       steps=updates)
def test_any_input_gives_finite_bounded_audio(mode, volume, muted, steps) -> None:
    fb = AudioFeedback(AudioSettings(mode=mode, volume=volume, muted=muted), seed=1)
    for rd, link, counts, live_s, battery, n, ack in steps:
        fb.update(rd, link, counts=counts, live_s=live_s, battery_low=battery)
        if ack:
            fb.acknowledge_alarm()
        x = fb.render(n)
        assert x.dtype == np.float32 and x.shape == (n,)
        assert np.all(np.isfinite(x)) and np.all(np.abs(x) <= 1.0)
        assert fb.active_alarm in (None, "NO SIGNAL", "OVER RANGE", "LOW BATTERY")


@given(rate=any_float)
def test_pitch_map_is_in_range_or_none(rate: float) -> None:
    f = rate_to_pitch_hz(rate)
    if rate != rate:  # NaN
        assert f is None
    else:
        assert f is not None and 200.0 <= f <= 2000.0


@given(a=st.floats(0.0, 1e9), b=st.floats(0.0, 1e9))
def test_pitch_map_is_monotonic(a: float, b: float) -> None:
    lo, hi = min(a, b), max(a, b)
    assert rate_to_pitch_hz(lo) <= rate_to_pitch_hz(hi)
