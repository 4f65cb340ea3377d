"""Over-range: device flag, dead fraction, non-paralysable limit, paralysable counter latch.

Issue 14 changed the rules on purpose (core/overrange.py): every trigger latches and holds until
3 s of demonstrated recovery, and a paralysable counter without measured live time is released
only by the user; these tests were updated to the new, derived levels."""

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


def run(detector: OverRangeDetector, counts: np.ndarray,
        live_fraction: np.ndarray | None = None) -> np.ndarray:
    real = np.full(counts.size, FRAME_S)
    live = real if live_fraction is None else real * live_fraction
    return detector.process(counts, live, real)


def test_rising_activity_past_the_peak_stays_over_range() -> None:
    # true rate rises exponentially from 0.05/tau to 8/tau in 10 s: the observed rate climbs to
    # 1/(e tau) and then FALLS to ~8 e^-8 / tau = 270 cps, a plausible-looking low reading.
    def true_cps(t):
        return 0.05 / TAU_S * np.exp(np.log(160.0) * np.asarray(t) / 10.0)

    counts, _, n = paralysable_frames(true_cps, 10.0, seed=4)
    observed = counts / FRAME_S
    assert observed[-1] < 0.05 * paralysable_max_observed_cps(TAU_S)  # the reading really fell
    over = run(OverRangeDetector(DeadTimeModel("paralysable", TAU_S)), counts)
    # counts only: the passage level of a 50 ms frame, z_pass(25/s x 0.05 s) = 0.73 less 3 sd,
    # is reached at n tau ~ 0.35 (z = 0.67); below n tau = 0.3 (z = 0.60, 4 sd under it) never
    assert not over[n * TAU_S < 0.3].any()
    assert over[n * TAU_S >= 0.4].all()  # from near the top onwards: flagged, to the end


def test_rising_then_falling_back_releases_only_with_live_time() -> None:
    # up to 4/tau and back down to 0.05/tau in 20 s: the counter passes the top twice
    def true_cps(t):
        t = np.asarray(t)
        return 0.05 / TAU_S * np.exp(np.log(80.0) * (1.0 - np.abs(t - 10.0) / 10.0))

    counts, t, n = paralysable_frames(true_cps, 20.0, seed=8)
    model = DeadTimeModel("paralysable", TAU_S)
    # from counts alone both branches read alike: latched to the end
    blind = run(OverRangeDetector(model), counts)
    assert blind[n * TAU_S >= 0.4].all() and blind[t > 10.0].all()
    # with the live time measured (fraction exp(-n tau)) the way back is seen: released once
    # z < 0.5 (n tau < 0.23, from t = 16.5 s) has lasted 3 s; the boundary's noise (sd of z
    # 0.016 at 0.5) moves that by < 0.1 s
    # (with live time the ceiling rule alone latches: z >= 0.8, i.e. n tau >= 0.5)
    seen = run(OverRangeDetector(model), counts, np.exp(-n * TAU_S))
    assert seen[(n * TAU_S >= 0.55)].all() and not seen[(n * TAU_S < 0.4) & (t < 10.0)].any()
    assert seen[(t > 10.0) & (t < 19.3)].all()
    assert not seen[t > 19.7].any()


def test_turning_back_below_the_passage_level_is_never_flagged() -> None:
    def true_cps(t):
        t = np.asarray(t)
        return 0.05 / TAU_S + (0.2 / TAU_S) * np.sin(np.pi * t / 10.0) ** 2  # peaks at n tau 0.25

    counts, _, _ = paralysable_frames(true_cps, 10.0, seed=1)
    # the top, z = 0.25 e^0.75 = 0.53, is 7 sd under the passage threshold z = 0.67
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
    assert det.latched
    det.clear()  # the user confirms: the next frame is judged afresh
    assert not det.latched and not run(det, np.array([10]))[0]


def test_nonparalysable_limit_flag_and_dead_fraction() -> None:
    # each trigger latches; 3 s of recovered frames (60 x 50 ms) release it
    quiet = np.full(60, 100)
    counts = np.r_[100, round(0.95 / TAU_S * FRAME_S), quiet]
    live = np.full(counts.size, FRAME_S)
    # frame 1 pushes the observed rate over 0.9/tau only if the window is that frame
    over = OverRangeDetector(DeadTimeModel("nonparalysable", TAU_S), window_s=0.01).process(
        counts, live, live)
    np.testing.assert_array_equal(over, [False] + [True] * 60 + [False])
    flags = np.r_[0, int(FaultFlag.OVER_RANGE), int(FaultFlag.LOW_BATTERY), np.zeros(59, int)]
    det = OverRangeDetector(DeadTimeModel("nonparalysable", TAU_S))
    np.testing.assert_array_equal(det.process(np.zeros(62), live, live, flags),
                                  [False] + [True] * 60 + [False])
    mostly_dead = np.r_[FRAME_S, 0.1 * FRAME_S, 0.5 * FRAME_S, np.full(59, FRAME_S)]
    # live 50 % is "back to normal" (>= 0.5), 10 % is a collapse (< 0.2)
    np.testing.assert_array_equal(
        OverRangeDetector().process(np.zeros(62), mostly_dead, live),
        [False] + [True] * 60 + [False])
