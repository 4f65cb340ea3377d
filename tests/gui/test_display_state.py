"""The display state: no number unless live, banners by link and device state, formatting."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from probe_nav.core.background import Background
from probe_nav.core.pipeline import Reading
from probe_nav.drivers.frames import FaultFlag, LinkState, LinkStats
from probe_nav.gui.display_state import (
    NO_NUMBER,
    Banner,
    display_state,
    format_rate,
    gauge_fraction,
)
from probe_nav.live import LiveSnapshot

READING = Reading(t_s=1.0, rate_cps=123.4, rate_sd_cps=5.6, background_cps=5.0,
                  background_sd_cps=0.5, net_cps=118.4, net_sd_cps=5.6, z=20.0, hot=True,
                  over_range=False)


def snapshot(**changes) -> LiveSnapshot:
    values = dict(
        link=LinkState.CONNECTED, link_reason="frames arriving", reading=READING,
        last_frame=None, last_frame_host_s=None, info=None, status=None, stats=LinkStats(),
        battery_pct=80, battery_low=False, faults=FaultFlag.NONE, over_range=False,
        background=Background.given(5.0, 0.5), background_progress=None, timed=None,
        timed_preset_s=None, timed_progress=None, new_timed=None, new_background=None,
        new_background_count=None, spectrum=None,
    )
    values.update(changes)
    return LiveSnapshot(**values)


def test_live_reading_is_shown_with_uncertainty_and_hot():
    ds = display_state(snapshot())
    assert ds.live and ds.rate_text == "123" and ds.sd_text == "± 5.6"
    assert ds.hot and ds.banners == ()
    assert ds.net_text.startswith("net +118")
    assert 0 < ds.gauge_fraction < 1


def test_lost_or_stale_link_never_shows_a_number():
    for state, banner in ((LinkState.DISCONNECTED, Banner.NO_SIGNAL),
                          (LinkState.CONNECTING, Banner.NO_SIGNAL),
                          (LinkState.STALE, Banner.STALE)):
        ds = display_state(snapshot(link=state, link_reason="why"))
        assert not ds.live and ds.rate_text == NO_NUMBER and ds.sd_text == ""
        assert ds.gauge_fraction is None and not ds.hot
        assert ds.banners[0].kind is banner and ds.banners[0].alarm
        assert ds.net_text == f"net {NO_NUMBER}"


def test_over_range_shows_over_not_a_low_number():
    ds = display_state(snapshot(over_range=True,
                                reading=Reading(*[1.0, 3.0, 1.0, 5, 0.5, -2, 1, -1, False, True])))
    assert ds.rate_text == "OVER" and ds.gauge_fraction == 1.0 and not ds.hot
    assert [b.kind for b in ds.banners] == [Banner.OVER_RANGE]


def test_warnings_low_battery_no_audio_and_device_fault():
    ds = display_state(snapshot(battery_low=True, battery_pct=5, faults=FaultFlag.HV_FAULT),
                       audio_available=False, audio_status="no output device")
    kinds = [b.kind for b in ds.banners]
    assert kinds == [Banner.DEVICE_FAULT, Banner.LOW_BATTERY, Banner.NO_AUDIO]
    assert [b.alarm for b in ds.banners] == [True, False, False]
    assert "5 %" in ds.banners[1].detail and ds.banners[2].detail == "no output device"


def test_background_being_measured_and_timed_progress():
    ds = display_state(snapshot(background=None, background_progress=0.25))
    assert "25 %" in ds.background_text


@given(st.floats(min_value=0.0, max_value=1e6), st.floats(min_value=0.0, max_value=1e6))
def test_gauge_is_monotonic_and_bounded(a, b):
    lo, hi = sorted((a, b))
    assert 0.0 <= gauge_fraction(lo) <= gauge_fraction(hi) <= 1.0


def test_format_rate():
    assert format_rate(5.04) == "5.0" and format_rate(99.94) == "99.9"
    assert format_rate(12345.6) == "12 346" and format_rate(math.nan) == NO_NUMBER
