"""Over-range: device flag, dead fraction, non-paralysable limit, paralysable counter latch."""

from __future__ import annotations

import numpy as np

from probe_nav.calibration.deadtime import DeadTimeModel, paralysable_max_observed_cps
from probe_nav.core.overrange import OverRangeDetector
from probe_nav.drivers.frames import FaultFlag

TAU_S = 10e-6  # 10 us: a paralysable counter peaks at 1/(e tau) = 36.8 kcps
FRAME_S = 0.05


def paralysable_frames(true_cps_at, duration_s: float, seed: int) -> tuple[np.ndarray, ...]:
    """Event-by-event paralysable counter: a pulse is recorded only if no pulse (recorded or
    not) arrived in the tau before it. Arrivals: homogeneous Poisson at the peak rate, thinned
    to the time-varying true rate. Returns counts per frame, frame end times and true rates."""
    rng = np.random.default_rng(seed)
    t_end = np.arange(1, round(duration_s / FRAME_S) + 1) * FRAME_S
    n_max = float(np.max(true_cps_at(t_end)))
    arrivals = np.sort(rng.uniform(0.0, duration_s, rng.poisson(n_max * duration_s)))
    arrivals = arrivals[rng.random(arrivals.size) < true_cps_at(arrivals) / n_max]
    gaps = np.diff(arrivals, prepend=-np.inf)
    recorded = arrivals[gaps >= TAU_S]
    counts = np.histogram(recorded, bins=np.r_[0.0, t_end])[0]
    return counts, t_end, true_cps_at(t_end)


def run(detector: OverRangeDetector, counts: np.ndarray) -> np.ndarray:
    live = np.full(counts.size, FRAME_S)
    return detector.process(counts, live, live)


def test_rising_activity_past_the_peak_stays_over_range() -> None:
    # true rate rises exponentially from 0.05/tau to 8/tau in 10 s: the observed rate climbs to
    # 1/(e tau) and then FALLS to ~8 e^-8 / tau = 270 cps, a plausible-looking low reading.
    def true_cps(t):
        return 0.05 / TAU_S * np.exp(np.log(160.0) * np.asarray(t) / 10.0)

    counts, _, n = paralysable_frames(true_cps, 10.0, seed=4)
    observed = counts / FRAME_S
    assert observed[-1] < 0.05 * paralysable_max_observed_cps(TAU_S)  # the reading really fell
    over = run(OverRangeDetector(DeadTimeModel("paralysable", TAU_S)), counts)
    assert not over[n * TAU_S < 0.3].any()  # a low, honest reading is not flagged
    assert over[n * TAU_S >= 0.7].all()  # from near the top onwards: flagged, to the end


def test_activity_rising_then_falling_back_releases_only_below_the_peak() -> None:
    # up to 4/tau and back down to 0.05/tau: the counter passes the top twice
    def true_cps(t):
        t = np.asarray(t)
        return 0.05 / TAU_S * np.exp(np.log(80.0) * (1.0 - np.abs(t - 10.0) / 10.0))

    counts, _, n = paralysable_frames(true_cps, 20.0, seed=8)
    over = run(OverRangeDetector(DeadTimeModel("paralysable", TAU_S)), counts)
    rising = np.arange(n.size) < n.size // 2
    assert over[rising & (n * TAU_S >= 0.7)].all()
    assert over[~rising & (n * TAU_S >= 1.0)].all()  # still beyond the top: over range
    assert not over[~rising & (n * TAU_S < 0.15)].any()  # came back over the top: released


def test_turning_back_below_the_enter_level_is_never_flagged() -> None:
    def true_cps(t):
        t = np.asarray(t)
        return 0.05 / TAU_S + (0.4 / TAU_S) * np.sin(np.pi * t / 10.0) ** 2  # peaks at n tau 0.45

    counts, _, _ = paralysable_frames(true_cps, 10.0, seed=1)
    assert not run(OverRangeDetector(DeadTimeModel("paralysable", TAU_S)), counts).any()


def test_chunked_equals_batch_and_clear() -> None:
    def true_cps(t):
        return 0.05 / TAU_S * np.exp(np.log(160.0) * np.asarray(t) / 10.0)

    counts, _, _ = paralysable_frames(true_cps, 10.0, seed=4)
    model = DeadTimeModel("paralysable", TAU_S)
    batch = run(OverRangeDetector(model), counts)
    det = OverRangeDetector(model)
    online = np.concatenate([run(det, counts[i : i + 1]) for i in range(counts.size)])
    np.testing.assert_array_equal(online, batch)
    assert det.latched and det.beyond_peak
    det.clear()  # the user confirms: the next frame is judged afresh
    assert not run(det, np.array([10]))[0]


def test_nonparalysable_limit_flag_and_dead_fraction() -> None:
    det = OverRangeDetector(DeadTimeModel("nonparalysable", TAU_S))
    counts = np.array([100, round(0.95 / TAU_S * FRAME_S), 100])
    live = np.full(3, FRAME_S)
    # frame 1 pushes the 0.25 s observed rate over 0.9/tau only if the window is that frame
    over = OverRangeDetector(DeadTimeModel("nonparalysable", TAU_S), window_s=0.01).process(
        counts, live, live)
    np.testing.assert_array_equal(over, [False, True, False])
    flags = np.array([0, int(FaultFlag.OVER_RANGE), int(FaultFlag.LOW_BATTERY)])
    np.testing.assert_array_equal(det.process(np.zeros(3), live, live, flags), [False, True, False])
    mostly_dead = np.array([FRAME_S, 0.1 * FRAME_S, 0.5 * FRAME_S])
    np.testing.assert_array_equal(
        OverRangeDetector().process(np.zeros(3), mostly_dead, live), [False, True, False])
