"""Synchronisation (issue 17 item 2): PoseTrack's interpolation and refusals, ClockMap's lower
envelope and restarts, and the sign of the pose-to-count latency."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.navigation.sync import ClockMap, PoseTrack, frame_pose


def _unit(v: np.ndarray) -> tuple[float, float, float]:
    v = np.asarray(v, float) / np.linalg.norm(v)
    return (float(v[0]), float(v[1]), float(v[2]))


def _track(times: list[float], positions: list[tuple[float, float, float]],
           axes: list[tuple[float, float, float]] | None = None, **kw: float) -> PoseTrack:
    track = PoseTrack(**kw)  # type: ignore[arg-type]
    for i, (t, p) in enumerate(zip(times, positions, strict=True)):
        track.add(PoseSample(t, p, axes[i] if axes else (0.0, 0.0, -1.0)))
    return track


def test_between_two_samples_the_tip_is_linear_and_outside_there_is_none() -> None:
    track = _track([1.0, 1.05, 1.10], [(0.0, 0.0, 0.0), (1.0, 2.0, -3.0), (2.0, 2.0, -3.0)])
    pose = track.at(1.025)
    assert pose is not None and pose.host_s == 1.025
    np.testing.assert_allclose(pose.position_mm, (0.5, 1.0, -1.5), atol=1e-12)
    assert track.at(1.05).position_mm == (1.0, 2.0, -3.0)  # type: ignore[union-attr]
    assert track.at(0.999) is None and track.at(1.1001) is None
    assert PoseTrack().at(0.0) is None


def test_a_gap_an_invalid_sample_or_a_jump_gives_no_pose() -> None:
    gap = _track([0.0, 0.2], [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0)])  # 200 ms: a dropout
    assert gap.at(0.1) is None
    assert _track([0.0, 0.09], [(0.0, 0.0, 0.0), (1.0, 0.0, 0.0)]).at(0.05) is not None
    fast = _track([0.0, 0.05], [(0.0, 0.0, 0.0), (101.0, 0.0, 0.0)])  # 2.02 m/s
    assert fast.at(0.025) is None
    assert _track([0.0, 0.05], [(0.0, 0.0, 0.0), (99.0, 0.0, 0.0)]).at(0.025) is not None
    lost = PoseTrack()
    lost.add(PoseSample(0.0, (0.0, 0.0, 0.0), (0.0, 0.0, -1.0)))
    lost.add(PoseSample(0.05, (0.0, 0.0, 0.0), (0.0, 0.0, -1.0), valid=False))
    lost.add(PoseSample(0.10, (0.0, 0.0, 0.0), (0.0, 0.0, -1.0)))
    assert lost.at(0.02) is None and lost.at(0.07) is None and lost.at(0.05) is None
    assert lost.at(0.10) is not None


def test_out_of_order_samples_are_dropped_and_the_buffer_is_bounded() -> None:
    track = PoseTrack(capacity=10)
    for i in range(100):
        assert track.add(PoseSample(i * 0.01, (float(i), 0.0, 0.0), (0.0, 0.0, -1.0)))
    assert not track.add(PoseSample(0.5, (0.0, 0.0, 0.0), (0.0, 0.0, -1.0)))
    assert track.out_of_order == 1
    assert 10 <= len(track) <= 12
    span = track.span_s()
    assert span is not None and span[1] == 0.99 and track.at(0.5) is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=6, max_size=6),
       st.floats(-50, 50), st.floats(0.0, 1.0), st.floats(0.001, 0.1))
def test_interpolation_stays_on_the_segment_and_the_great_circle(
        v: list[float], shift_mm: float, f: float, dt_s: float) -> None:
    down = np.array([0.0, 0.0, -1.5])  # keeps the two axes from being opposite
    a, b = np.array(v[:3]) + down, np.array(v[3:]) + down
    ua, ub = _unit(a), _unit(b)
    pa, pb = (0.0, 0.0, 0.0), (shift_mm * dt_s, 0.0, 0.0)  # <= 50 mm/s
    track = _track([10.0, 10.0 + dt_s], [pa, pb], [ua, ub])
    t = 10.0 + f * dt_s
    pose = track.at(t)
    assert pose is not None
    g = (t - 10.0) / dt_s  # the fraction after float rounding
    np.testing.assert_allclose(pose.position_mm, np.array(pb) * g, atol=1e-9)
    assert abs(np.linalg.norm(pose.axis) - 1.0) < 1e-12
    # on the great circle: the angles from a and to b add up to the angle between them, split
    # in proportion f (slerp is uniform in angle)
    ang = lambda x, y: math.acos(max(-1.0, min(1.0, float(np.dot(x, y)))))  # noqa: E731
    total = ang(ua, ub)
    assert ang(ua, pose.axis) + ang(pose.axis, ub) == pytest_approx(total, 1e-6)
    assert ang(ua, pose.axis) == pytest_approx(g * total, 1e-6)


def pytest_mark_rates(f):  # (true, assumed): a 4x simulator mapped at 1x, the reverse, 1 % off
    import pytest

    return pytest.mark.parametrize("true_rate,assumed",
                                   [(4.0, 1.0), (1.0, 4.0), (1.01, 1.0), (0.99, 1.0)])(f)


def pytest_approx(value: float, tol: float):  # a small helper: hypothesis-friendly
    import pytest

    return pytest.approx(value, abs=tol)


def test_the_clock_map_takes_the_lower_envelope_of_arrival_delays() -> None:
    rng = np.random.default_rng(3)
    clock = ClockMap()
    offset = 1000.0
    for i in range(200):
        t = 0.1 * (i + 1)
        clock.add(t, t + offset + 0.002 + rng.exponential(0.01))  # delays >= 2 ms
    # the smallest of 200 delays: 2 ms + exponential(10 ms) / 200 ~ 2.05 ms
    assert abs(clock.offset_s() - (offset + 0.002)) < 0.001  # type: ignore[operator]
    assert clock.to_host(5.0) == clock.offset_s() + 5.0  # type: ignore[operator]
    assert ClockMap().to_host(1.0) is None


def test_the_clock_map_forgets_old_pairs_and_follows_drift() -> None:
    clock = ClockMap(window_s=20.0)
    for i in range(1000):  # 100 s at 10 Hz, the device 100 ppm slow, no delay
        t = 0.1 * i
        clock.add(t, t * (1 + 1e-4))
    # the envelope is the smallest offset of the last 20 s (from t = 99.9 - 20 s): 7.99 ms
    assert abs(clock.offset_s() - (99.9 - 20.0) * 1e-4) < 1e-9  # type: ignore[operator]


@settings(max_examples=60, deadline=None)
@given(st.floats(0.25, 20.0), st.floats(-1e4, 1e4),
       st.lists(st.floats(0.0, 0.2), min_size=30, max_size=120))
def test_a_device_clock_at_any_rate_maps_with_only_the_windows_smallest_delay(
        rate: float, offset: float, delays: list[float]) -> None:
    # A simulator played at `rate` x: a frame ending at device t arrives at t / rate + offset
    # + delay (host s). Whatever each frame's own delay (a late host: up to 0.2 s, under JUMP_S),
    # the map's error at every frame is the smallest delay over the window so far, never the
    # frame's own (the tolerance: float64 rounding of offsets up to 1e4 s).
    clock = ClockMap(window_s=1e9, device_s_per_host_s=rate)
    smallest = math.inf
    for i, delay in enumerate(delays):
        t = 0.05 * (i + 1)
        clock.add(t, t / rate + offset + delay)
        smallest = min(smallest, delay)
        error = clock.to_host(t) - (t / rate + offset)  # type: ignore[operator]
        assert error == pytest_approx(smallest, 1e-9 * (abs(offset) + 10.0))
    assert clock.resets == 0


@settings(max_examples=40, deadline=None)
@given(st.floats(0.25, 20.0), st.floats(0.0, 0.2), st.floats(0.0, 0.2), st.integers(0, 2**32 - 1))
def test_at_the_right_rate_the_clock_is_never_judged_wrong(
        rate: float, late_start_s: float, later_min_s: float, seed: int) -> None:
    # At the assumed rate, whatever the delays do: the first 5 s of frames late by up to 0.2 s
    # (a console starting), then every frame at least later_min_s late from 60 s on (a loaded
    # host whose quickest frame ages out of the window: the envelope steps up), and exponential
    # delays (mean 20 ms) throughout, 100 ppm of crystal drift: never a measured rate.
    rng = np.random.default_rng(seed)
    clock = ClockMap(device_s_per_host_s=rate)
    for i in range(2400):  # 120 s at 20 Hz
        t = 0.05 * (i + 1)
        delay = rng.exponential(0.02) + (late_start_s if t < 5.0 else 0.0) \
            + (later_min_s if t >= 60.0 else 0.0)
        clock.add(t, t * (1 + 1e-4) / rate + 50.0 + delay)
        assert clock.measured_rate() is None, t


@pytest_mark_rates
def test_a_wrong_rate_is_measured_within_a_span(true_rate: float, assumed: float) -> None:
    rng = np.random.default_rng(1)
    clock = ClockMap(device_s_per_host_s=assumed)
    seen = None
    for i in range(1200):  # 60 s of device time at 20 Hz
        t = 0.05 * (i + 1)
        clock.add(t, t / true_rate + 7.0 + rng.exponential(0.02))
        if seen is None and clock.measured_rate() is not None:
            seen = t
    # judged once RATE_SPAN_S of samples are in (30 s of device time), not before; a clock
    # slower than assumed holds the envelope at the window's first frame until it ages out
    # (WINDOW_S), so by WINDOW_S + RATE_SPAN_S at the latest
    assert seen is not None and 28.0 <= seen <= 50.0
    # Faster than assumed, the envelope is the newest frame with its own delay (exponential,
    # mean 20 ms: two ends differ by < 0.15 s but with probability 5e-4); over the 30 s span
    # 1/rate is then off by < 5e-3, the rate by < 5e-3 x true_rate^2 (d rate = rate^2 d(1/rate)).
    # Slower, it is a 20 s
    # window's least delay (~0.05 ms): far closer.
    assert clock.measured_rate() == pytest_approx(true_rate, 5e-3 * true_rate ** 2)


def test_a_clock_rate_that_is_not_positive_and_finite_is_refused() -> None:
    import pytest

    for rate in (0.0, -1.0, math.inf, math.nan):
        with pytest.raises(ValueError):
            ClockMap(device_s_per_host_s=rate)


@given(st.floats(-1e4, 1e4), st.floats(0.5, 50.0), st.booleans())
def test_a_device_clock_reset_or_jump_restarts_the_map(offset: float, jump: float,
                                                        back: bool) -> None:
    clock = ClockMap()
    for i in range(50):
        clock.add(100.0 + 0.1 * i, 100.0 + 0.1 * i + offset)
    assert clock.resets == 0
    t = 104.9 + 0.1
    host = t + offset
    t_new = t - jump - 5.0 if back else t + jump  # back: before the last; forward: arrives early
    assert clock.add(t_new, host)
    assert clock.resets == 1
    assert clock.to_host(t_new) == host


def test_the_latency_sign_counts_late_by_l_are_posed_where_the_probe_was() -> None:
    # The probe moves along x at 20 mm/s; a pose is sampled every 20 ms at its true time.
    track = PoseTrack()
    for i in range(200):
        track.add(PoseSample(0.02 * i, (20.0 * 0.02 * i, 0.0, 0.0), (0.0, 0.0, -1.0)))
    clock = ClockMap()
    latency_s = 0.15
    # A frame counted from true host 1.9 to 2.0 s (mid 1.95 s: the probe at x = 39 mm) is
    # stamped, mapped, 150 ms late: its device end time maps to 2.15 s.
    clock.add(2.0, 2.15)
    pose = frame_pose(track, clock, t_s=2.0, real_s=0.1, latency_s=latency_s)
    assert pose is not None and abs(pose.position_mm[0] - 39.0) < 1e-9
    wrong = frame_pose(track, clock, t_s=2.0, real_s=0.1, latency_s=-latency_s)
    assert wrong is not None and abs(wrong.position_mm[0] - 45.0) < 1e-9
    assert frame_pose(track, ClockMap(), 2.0, 0.1) is None
