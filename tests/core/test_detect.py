"""Tests of probe_nav.core.detect (hot-spot decision)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from probe_nav.core import detect
from probe_nav.core.detect import (
    RATIOS,
    HotDetector,
    bank_thresholds,
    cold_threshold,
)

DT = 0.05


def stream(b: float, segments: list[tuple[float, float]], seed: int) -> np.ndarray:
    """Poisson frame counts at 20 frames/s: segments of (rate ratio to b, seconds)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.poisson(r * b * DT, round(s / DT)) for r, s in segments])


def onsets(hot: np.ndarray) -> int:
    return int(hot[0]) + int(np.count_nonzero(hot[1:] & ~hot[:-1])) if hot.size else 0


def run_chunked(det: HotDetector, x: np.ndarray, live: np.ndarray, sizes: list[int]) -> np.ndarray:
    parts, pos = [], 0
    for n in sizes:
        parts.append(det.process(x[pos : pos + n], live[pos : pos + n]))
        pos += n
    parts.append(det.process(x[pos:], live[pos:]))
    return np.concatenate(parts)


# a stream with several hot spots (so hot <-> cold transitions happen), zero-live frames and
# a frame period that the detector infers from the data
_B = 20.0
_X = stream(_B, [(1, 8), (4, 4), (1, 5), (1.5, 12), (1, 6), (3, 3), (1, 4)], seed=11)
_LIVE = np.full(_X.size, DT)
_LIVE[[3, 200, 201, 555]] = 0.0
_LIVE[300:310] = 0.045  # dead time


def _whole(period: float | None) -> np.ndarray:
    return HotDetector(_B, 60.0, frame_period_s=period).process(_X, _LIVE)


@pytest.fixture
def small_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-base the running sums every 37 frames so that chunk tests cross many re-bases."""
    monkeypatch.setattr(detect, "BLOCK", 37)


def test_the_stream_has_transitions(small_block: None) -> None:
    hot = _whole(DT)
    assert onsets(hot) >= 2 and not hot[-1] and hot.any()


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=300), max_size=20),
    period=st.sampled_from([DT, None]),
)
def test_chunked_equals_whole(small_block: None, sizes: list[int], period: float | None) -> None:
    whole = _whole(period)
    chunked = run_chunked(HotDetector(_B, 60.0, frame_period_s=period), _X, _LIVE, sizes)
    np.testing.assert_array_equal(chunked, whole)


def test_frame_by_frame_equals_whole(small_block: None) -> None:
    whole = _whole(None)
    det = HotDetector(_B, 60.0)
    single = np.array([det.process(_X[i : i + 1], _LIVE[i : i + 1])[0] for i in range(_X.size)])
    np.testing.assert_array_equal(single, whole)


def test_state_is_identical_after_chunking(small_block: None) -> None:
    a, b = HotDetector(_B, 60.0), HotDetector(_B, 60.0)
    a.process(_X, _LIVE)
    run_chunked(b, _X, _LIVE, [1, 5, 77, 2, 300, 41])
    for name in ("_s", "_m", "_zero_counts", "_zero_live"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for name in ("_cs", "_cm", "_cum_counts", "_cum_live", "_frame", "_hot"):
        assert getattr(a, name) == getattr(b, name)


def test_reset_reproduces(small_block: None) -> None:
    det = HotDetector(_B, 60.0)
    first = det.process(_X, _LIVE)
    det.reset()
    np.testing.assert_array_equal(det.process(_X, _LIVE), first)


def test_empty_zero_and_degenerate_inputs() -> None:
    det = HotDetector(5.0)
    assert det.process(np.array([], dtype=int), np.array([])).shape == (0,)
    assert not det.process(np.zeros(1000, dtype=int), np.zeros(1000)).any()  # no live time
    assert det.thresholds is None  # frame period still unknown
    assert not det.process(np.zeros(1000, dtype=int), np.full(1000, DT)).any()
    assert det.thresholds is not None and np.all(np.isfinite(det.thresholds))
    nasty = det.process(np.array([3, 0, 5, 2]), np.array([np.nan, -1.0, np.inf, 0.0]))
    assert nasty.dtype == bool and not nasty.any()  # frames without valid live time are ignored
    with pytest.raises(ValueError):
        det.process(np.zeros(3), np.zeros(4))


@pytest.mark.parametrize("b", [0.0, 1e-9, 0.01])
def test_zero_background_does_not_crash(b: float) -> None:
    det = HotDetector(b, frame_period_s=DT)
    assert det.reference_cps >= detect.BACKGROUND_FLOOR_CPS
    hot = det.process(np.r_[np.zeros(100, int), np.full(100, 3)], np.full(200, DT))
    assert np.all(np.isfinite(det.thresholds)) and hot[100:].any() and not hot[:100].any()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"background_cps": -1.0},
        {"background_cps": float("nan")},
        {"background_cps": 5.0, "false_alarm_interval_s": 0.0},
        {"background_cps": 5.0, "background_sd_cps": -1.0},
        {"background_cps": 5.0, "frame_period_s": 0.0},
    ],
)
def test_bad_arguments(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        HotDetector(**kwargs)


def test_thresholds_grow_with_interval_and_are_continuous() -> None:
    for b in (0.5, 5.0, 20.0, 200.0):
        hs = [bank_thresholds(b, DT, t) for t in (60.0, 600.0, 3600.0, 36000.0)]
        # the lowest chart always grows; a redundant chart may be switched off (h ~ 16) anywhere
        lowest = [h[0] for h in hs]
        assert np.all(np.diff(lowest) > 0) and np.all(np.diff([np.median(h) for h in hs]) > 0)
    # the continuous-time mapping below the table is continuous at its edge
    mu0 = detect._table.MU_GRID[0]
    lo = bank_thresholds(mu0 / DT * (1 - 1e-6), DT, 600.0)
    hi = bank_thresholds(mu0 / DT * (1 + 1e-6), DT, 600.0)
    np.testing.assert_allclose(lo, hi, atol=1e-3)


def test_measured_background_is_more_conservative() -> None:
    plain = HotDetector(20.0, frame_period_s=DT)
    careful = HotDetector(20.0, background_sd_cps=2.0, frame_period_s=DT)
    assert careful.reference_cps == pytest.approx(22.0)
    x = stream(20.0, [(1, 20), (1.6, 60)], seed=3)
    live = np.full(x.size, DT)
    t_plain = np.argmax(plain.process(x, live))
    t_careful = np.argmax(careful.process(x, live))
    assert t_careful >= t_plain


def test_cold_threshold_is_sane() -> None:
    r = np.array([1.0, 1.2, 1.5, 2.0, 4.0, 20.0])
    for b in (5.0, 200.0):
        h = cold_threshold(r, b)
        assert np.all(np.isfinite(h)) and np.all(h > 0) and np.all(np.diff(h) >= -1e-12)


@pytest.mark.parametrize(
    ("b", "interval_s", "period", "seconds", "seed"),
    [
        (5.0, 600.0, DT, 120_000.0, 1),  # ~200 false cues expected
        (20.0, 60.0, DT, 9_000.0, 2),
        (200.0, 120.0, DT, 24_000.0, 3),
        (50.0, 300.0, 0.1, 60_000.0, 4),
        (2.0, 600.0, 1.0, 120_000.0, 5),  # 1 frame/s counters
    ],
)
def test_false_cues_match_configured_interval(
    b: float, interval_s: float, period: float, seconds: float, seed: int
) -> None:
    """Onsets on background in `seconds` ~ Poisson(seconds / interval): 4-sigma band.

    (The time spent hot after each false cue is a few seconds, well inside the band.)
    """
    rng = np.random.default_rng(seed)
    frames = int(seconds / period)
    det = HotDetector(b, interval_s, frame_period_s=period)
    hot = det.process(rng.poisson(b * period, frames), np.full(frames, period))
    expected = seconds / interval_s
    assert abs(onsets(hot) - expected) <= 4.0 * np.sqrt(expected)


@pytest.mark.parametrize(
    ("b", "c", "bound_s"), [(20.0, 4.0, 1.5), (200.0, 2.0, 1.0), (5.0, 3.0, 5.0)]
)
def test_clear_hot_spot_is_found_quickly_and_left_quickly(
    b: float, c: float, bound_s: float
) -> None:
    """30 s background, 15 s hot spot, 15 s background; 30 runs."""
    delays, backs, extra, early, cold_at_exit = [], [], 0, 0, 0
    det = HotDetector(b, frame_period_s=DT)
    for seed in range(30):
        x = stream(b, [(1, 30), (c, 15), (1, 15)], seed=100 + seed)
        det.reset()
        hot = det.process(x, np.full(x.size, DT))
        early += bool(hot[:600].any())  # false cue before the spot: P ~ 5 % per run
        on = np.flatnonzero(hot[600:900])
        assert on.size, "hot spot missed"
        delays.append((on[0] + 1) * DT)
        extra += max(onsets(hot[600:900]) - 1, 0)
        cold_at_exit += not hot[899]
        off = np.flatnonzero(~hot[900:])
        assert off.size, "still hot 15 s after leaving the hot spot"
        backs.append((off[0] + 1) * DT)
    assert early <= 5 and extra <= 3 and cold_at_exit <= 2
    assert np.mean(delays) < bound_s / 2 and max(delays) < bound_s * 2
    assert np.mean(backs) < 3.0


def test_no_chatter_on_steady_spots() -> None:
    det = HotDetector(20.0, frame_period_s=DT)
    extra = 0
    for seed in range(40):
        x = stream(20.0, [(1, 20), (2.0, 20), (1, 10)], seed=500 + seed)
        det.reset()
        hot = det.process(x, np.full(x.size, DT))
        extra += max(onsets(hot[400:800]) - 1, 0)
    assert extra <= 4  # < 0.1 per spot


def test_ratios_cover_the_contrasts() -> None:
    assert RATIOS[0] <= 1.2 + 1e-9 and RATIOS[-1] >= 4.0 - 1e-9 and np.all(np.diff(RATIOS) > 0)
