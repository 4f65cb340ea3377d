"""The simulator's QC and NEMA NU 3 benches: measurement series with known truth.

Each bench_<what>(..., seed) plays a bench measurement on the simulator's physics (collimator,
crystal, spectrum, event-by-event dead time; nothing here changes them) and returns a frozen
dataclass with the arrays a recording would give (counts, live and real times, positions,
angles...) plus `truth`: what the analysis should recover. Truth comes from the physics model's
expected rates (before counting noise) or, where the standard asks for it, from the geometry in
closed form (lateral scan FWHM, angular FWHM, shielding), so an analysis is checked against the
physics, not against itself. Deterministic for a given seed.

Sources "in air" sit at z = 100 mm above a water tank filling z < 0; the probe looks straight
down unless tilted. Rates are per counting interval of the given length.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from probe_nav.calibration.nuclides import nuclide
from probe_nav.simulator import probe_figures as figures
from probe_nav.simulator.bench_setup import (
    AIR_Z_MM,
    DOWN,
    axis_at_angle,
    bench_probe,
    count_at,
    simulation,
    total_rate_per_mbq,
)
from probe_nav.simulator.physics import PointSource, ProbeModel


@dataclass(frozen=True)
class Series:
    """Counts at a list of settings (positions, angles, depths...) with live and real times.

    t_s is the mid-time of each count on the bench clock (t = 0 at the start, when the source
    has `activity_mbq`); background_* is a count with the source away.
    """

    settings: np.ndarray
    counts: np.ndarray
    live_s: np.ndarray
    real_s: np.ndarray
    t_s: np.ndarray
    background_counts: int
    background_live_s: float
    activity_mbq: float
    half_life_s: float
    truth: dict[str, object] = field(default_factory=dict)


def _series(sim, poses, count_s, background_s, activity, nuclide_name, truth) -> Series:
    """Count the background first (source not yet there), then every pose in turn."""
    bg, _ = count_at(sim, (0.0, 0.0, AIR_Z_MM + 1000.0), DOWN, background_s)
    counts, live, real, mids, expected = [], [], [], [], []
    for position, axis in poses:
        mid = sim.t_s + count_s / 2.0
        frame, rate = count_at(sim, position, axis, count_s)
        counts.append(frame.counts[0])
        live.append(frame.live_s)
        real.append(frame.real_s)
        mids.append(mid)
        expected.append(rate)
    truth = {"expected_cps": np.asarray(expected), **truth}
    return Series(np.asarray([]), np.asarray(counts), np.asarray(live), np.asarray(real),
                  np.asarray(mids), bg.counts[0], bg.live_s, activity,
                  nuclide(nuclide_name).half_life_s, truth)


def _with_settings(series: Series, settings: Sequence[float]) -> Series:
    from dataclasses import replace

    return replace(series, settings=np.asarray(settings, dtype=float))


def lateral_profile(probe: ProbeModel, distance_mm: float, x_mm: np.ndarray,
                    nuclide_name: str = "Tc-99m") -> np.ndarray:
    """Relative response to a point source moved x_mm across the axis at distance_mm, 1 on the
    axis: the head's geometry at the nuclide's main line (probe_nav.simulator.probe_figures)."""
    return figures.lateral_profile(probe.geometry, _main_kev(nuclide_name), distance_mm, x_mm)


def profile_width_mm(probe: ProbeModel, distance_mm: float, level: float,
                     nuclide_name: str = "Tc-99m") -> float:
    """Full width of the lateral profile at `level` of its maximum (0.5: FWHM, 0.1: FWTM)."""
    return figures.profile_width_mm(probe.geometry, _main_kev(nuclide_name), distance_mm, level)


def _main_kev(nuclide_name: str) -> float:
    return nuclide(nuclide_name).main_line.energy_kev


def bench_lateral_scan(distance_mm: float = 30.0, positions_mm: Sequence[float] | None = None,
                       count_s: float = 10.0, activity_mbq: float = 1.0, room_cps: float = 0.5,
                       background_s: float = 60.0, probe: ProbeModel | None = None,
                       nuclide_name: str = "Tc-99m", seed: int = 0) -> Series:
    """NEMA spatial resolution: a point source in air scanned across the probe's axis.

    settings = lateral offsets (mm); truth: fwhm_mm, fwtm_mm from the collimator geometry.
    """
    probe = bench_probe(probe)
    xs = np.linspace(-60, 60, 41) if positions_mm is None else np.asarray(positions_mm, float)
    src = PointSource("point", (0.0, 0.0, AIR_Z_MM), activity_mbq, nuclide_name,
                      from_s=background_s)
    sim = simulation([src], probe, seed, nuclide_name, room_cps)
    poses = [((float(x), 0.0, AIR_Z_MM + distance_mm), DOWN) for x in xs]
    truth = {"fwhm_mm": profile_width_mm(probe, distance_mm, 0.5, nuclide_name),
             "fwtm_mm": profile_width_mm(probe, distance_mm, 0.1, nuclide_name),
             "room_cps": room_cps}
    return _with_settings(_series(sim, poses, count_s, background_s, activity_mbq,
                                  nuclide_name, truth), xs)


def bench_angular_scan(distance_mm: float = 30.0, angles_deg: Sequence[float] | None = None,
                       count_s: float = 10.0, activity_mbq: float = 1.0, room_cps: float = 0.5,
                       background_s: float = 60.0, probe: ProbeModel | None = None,
                       nuclide_name: str = "Tc-99m", seed: int = 0) -> Series:
    """NEMA angular resolution: the probe turned about its tip, source at fixed distance.

    settings = angles off axis (deg); truth: fwhm_deg and relative_response of the head's
    geometry at that distance.
    """
    probe = bench_probe(probe)
    angles = np.linspace(-60, 60, 25) if angles_deg is None else np.asarray(angles_deg, float)
    src = PointSource("point", (0.0, 0.0, AIR_Z_MM), activity_mbq, nuclide_name,
                      from_s=background_s)
    sim = simulation([src], probe, seed, nuclide_name, room_cps)
    poses = [((0.0, 0.0, AIR_Z_MM + distance_mm), axis_at_angle(a)) for a in angles]
    kev = _main_kev(nuclide_name)
    truth = {"fwhm_deg": figures.angular_fwhm_deg(probe.geometry, kev, distance_mm),
             "relative_response": figures.angular_response(
                 probe.geometry, kev, np.radians(np.abs(angles)), distance_mm),
             "room_cps": room_cps}
    return _with_settings(_series(sim, poses, count_s, background_s, activity_mbq,
                                  nuclide_name, truth), angles)


def bench_depth_series(depths_mm: Sequence[float] = (10.0, 20.0, 30.0, 50.0),
                       medium: str = "air", count_s: float = 10.0, activity_mbq: float = 1.0,
                       room_cps: float = 0.5, background_s: float = 60.0,
                       probe: ProbeModel | None = None, nuclide_name: str = "Tc-99m",
                       seed: int = 0) -> Series:
    """NEMA sensitivity in air (source at a distance) or in scatter (source at a depth in water,
    probe on the surface). settings = distance/depth (mm); truth: cps_per_mbq at each setting
    (expected rate minus room background over the activity at mid-count)."""
    if medium not in ("air", "water"):
        raise ValueError(f"medium must be 'air' or 'water', got {medium!r}")
    probe = bench_probe(probe)
    depths = np.asarray(depths_mm, float)
    sources, poses = [], []
    start = background_s
    for i, d in enumerate(depths):
        x = 1000.0 * i  # far apart: each slot has its own source
        where = (x, 0.0, AIR_Z_MM) if medium == "air" else (x, 0.0, -float(d))
        tip = (x, 0.0, AIR_Z_MM + float(d)) if medium == "air" else (x, 0.0, 0.0)
        sources.append(PointSource(f"{d:g} mm", where, activity_mbq, nuclide_name,
                                   from_s=start + i * count_s, until_s=start + (i + 1) * count_s))
        poses.append((tip, DOWN))
    sim = simulation(sources, probe, seed, nuclide_name, room_cps)
    series = _series(sim, poses, count_s, background_s, activity_mbq, nuclide_name,
                     {"medium": medium, "room_cps": room_cps})
    lam = nuclide(nuclide_name).decay_constant_per_s
    activity = activity_mbq * np.exp(-lam * series.t_s)
    series.truth["cps_per_mbq"] = (series.truth["expected_cps"] - room_cps) / activity
    return _with_settings(series, depths)


def bench_shielding(distance_mm: float = 30.0, count_s: float = 60.0, activity_mbq: float = 10.0,
                    room_cps: float = 0.5, background_s: float = 300.0,
                    probe: ProbeModel | None = None, nuclide_name: str = "Tc-99m",
                    seed: int = 0) -> Series:
    """NEMA side and back shielding: the source in front (0 deg), at the side (90 deg) and
    behind (180 deg) at the same distance, the probe turned about its tip. settings = angles;
    truth: side_pct and back_pct of the frontal response (penetration of the head's shield)."""
    probe = bench_probe(probe)
    angles = np.array([0.0, 90.0, 180.0])
    src = PointSource("point", (0.0, 0.0, AIR_Z_MM), activity_mbq, nuclide_name,
                      from_s=background_s)
    sim = simulation([src], probe, seed, nuclide_name, room_cps)
    poses = [((0.0, 0.0, AIR_Z_MM + distance_mm), axis_at_angle(a)) for a in angles]
    rel = figures.angular_response(probe.geometry, _main_kev(nuclide_name), np.radians(angles),
                                   distance_mm)
    truth = {"side_pct": 100.0 * float(rel[1]), "back_pct": 100.0 * float(rel[2]),
             "room_cps": room_cps}
    return _with_settings(_series(sim, poses, count_s, background_s, activity_mbq,
                                  nuclide_name, truth), angles)


@dataclass(frozen=True)
class RateSeries:
    """Open-window counts (every pulse above the threshold: what the dead time acts on) over
    clock time real_s, with the true rates behind them and the counter's dead time."""

    counts: np.ndarray
    real_s: np.ndarray
    live_s: np.ndarray
    t_s: np.ndarray  # mid-time of each count
    relative_activity: np.ndarray
    true_cps: np.ndarray  # true total rate (before dead time) at mid-count
    tau_s: float
    model: str
    half_life_s: float
    truth: dict[str, float] = field(default_factory=dict)

    @property
    def observed_cps(self) -> np.ndarray:
        """counts / real time."""
        return self.counts / self.real_s


def _rate_truth(tau_s: float, model: str) -> dict[str, float]:
    """Observed rate at 20 % loss and the maximum observable rate for a counter model."""
    if model == "paralysable":
        n20 = math.log(1.25) / tau_s
        return {"rate_at_20pct_loss_cps": 0.8 * n20, "max_observed_cps": 1.0 / (math.e * tau_s)}
    return {"rate_at_20pct_loss_cps": 0.2 / tau_s, "max_observed_cps": 1.0 / tau_s}


def _open_counts(sim, slots, count_s, skip_s=0.0):
    counts, real, live, mids, true = [], [], [], [], []
    for _ in range(slots):
        mid = sim.t_s + count_s / 2.0
        frame = sim.step(count_s)
        counts.append(frame.total_counts)
        real.append(frame.real_s)
        live.append(frame.live_s)
        mids.append(mid)
        true.append(frame.truth.total_rate_cps)
        sim.skip(skip_s)
    return tuple(np.asarray(v, dtype=float) for v in (counts, real, live, mids, true))


def bench_count_rate(true_cps: Sequence[float] | None = None, tau_s: float = 10e-6,
                     model: str = "nonparalysable", count_s: float = 5.0,
                     probe: ProbeModel | None = None, seed: int = 0) -> RateSeries:
    """NEMA count-rate capability: a stepped source (one activity per step, Co-57 so nothing
    decays) whose true open-window rates are `true_cps`; truth: tau, rate at 20 % loss, max."""
    rates = np.geomspace(0.01, 2.0, 14) / tau_s if true_cps is None else np.asarray(true_cps)
    probe = bench_probe(probe, dead_time_s=tau_s, dead_time_kind=model)
    where, tip = (0.0, 0.0, AIR_Z_MM), (0.0, 0.0, AIR_Z_MM + 30.0)
    per_mbq = total_rate_per_mbq(probe, "Co-57", where, tip)
    sources = [PointSource(f"step {i}", where, float(r) / per_mbq, "Co-57", from_s=i * count_s,
                           until_s=(i + 1) * count_s) for i, r in enumerate(rates)]
    sim = simulation(sources, probe, seed, "Co-57")
    sim.set_pose(tip, DOWN)
    counts, real, live, mids, true = _open_counts(sim, len(rates), count_s)
    return RateSeries(counts, real, live, mids, true / true.max(), true, tau_s, model,
                      nuclide("Co-57").half_life_s, {"tau_s": tau_s, **_rate_truth(tau_s, model)})


def bench_decaying_source(initial_true_cps: float = 40000.0, tau_s: float = 10e-6,
                          model: str = "nonparalysable", nuclide_name: str = "Tc-99m",
                          interval_s: float = 1800.0, n_counts: int = 40, count_s: float = 10.0,
                          probe: ProbeModel | None = None, seed: int = 0) -> RateSeries:
    """Decaying-source dead-time measurement: one source counted every interval_s as it decays
    (time skipped in between); truth: tau and the true rate at the first count."""
    probe = bench_probe(probe, dead_time_s=tau_s, dead_time_kind=model)
    where, tip = (0.0, 0.0, AIR_Z_MM), (0.0, 0.0, AIR_Z_MM + 30.0)
    per_mbq = total_rate_per_mbq(probe, nuclide_name, where, tip)
    src = PointSource("decaying", where, initial_true_cps / per_mbq, nuclide_name)
    sim = simulation([src], probe, seed, nuclide_name)
    sim.set_pose(tip, DOWN)
    counts, real, live, mids, true = _open_counts(sim, n_counts, count_s, interval_s - count_s)
    half = nuclide(nuclide_name).half_life_s
    return RateSeries(counts, real, live, mids, np.exp2(-(mids - mids[0]) / half), true, tau_s,
                      model, half, {"tau_s": tau_s, "initial_true_cps": float(true[0]),
                                    **_rate_truth(tau_s, model)})


@dataclass(frozen=True)
class TwoSource:
    """Open-window counts over clock time: source 1, both, source 2, background."""

    counts: dict[str, int]  # keys "1", "12", "2", "b"
    real_s: dict[str, float]
    tau_s: float
    model: str
    true_cps: dict[str, float]

    def rate(self, key: str) -> float:
        """Observed rate counts / real time of one measurement."""
        return self.counts[key] / self.real_s[key]


def bench_two_source(rate1_cps: float = 8000.0, rate2_cps: float = 8000.0, tau_s: float = 10e-6,
                     model: str = "nonparalysable", count_s: float = 20.0,
                     room_cps: float = 1.0, probe: ProbeModel | None = None,
                     seed: int = 0) -> TwoSource:
    """Two-source dead-time measurement with Co-57 sources of the given true open-window rates:
    source 1 alone, both, source 2 alone, then the background (room)."""
    probe = bench_probe(probe, dead_time_s=tau_s, dead_time_kind=model)
    tip = (0.0, 0.0, AIR_Z_MM + 30.0)
    w1, w2 = (-5.0, 0.0, AIR_Z_MM), (5.0, 0.0, AIR_Z_MM)
    s1 = PointSource("source 1", w1, rate1_cps / total_rate_per_mbq(probe, "Co-57", w1, tip),
                     "Co-57", from_s=0.0, until_s=2 * count_s)
    s2 = PointSource("source 2", w2, rate2_cps / total_rate_per_mbq(probe, "Co-57", w2, tip),
                     "Co-57", from_s=count_s, until_s=3 * count_s)
    sim = simulation([s1, s2], probe, seed, "Co-57", room_cps)
    sim.set_pose(tip, DOWN)
    counts, real, _, _, true = _open_counts(sim, 4, count_s)
    keys = ("1", "12", "2", "b")
    return TwoSource({k: int(c) for k, c in zip(keys, counts, strict=True)},
                     {k: float(r) for k, r in zip(keys, real, strict=True)}, tau_s, model,
                     {k: float(t) for k, t in zip(keys, true, strict=True)})


from probe_nav.simulator.benches_qc import (  # noqa: E402  (the QC benches, re-exported)
    CalibrationSpectrum,
    CheckSourceCount,
    RepeatedCounts,
    bench_calibration_spectrum,
    bench_check_source,
    bench_repeated_counts,
)

__all__ = [
    "CalibrationSpectrum", "CheckSourceCount", "RateSeries", "RepeatedCounts", "Series",
    "TwoSource", "bench_angular_scan", "bench_calibration_spectrum", "bench_check_source",
    "bench_count_rate", "bench_decaying_source", "bench_depth_series", "bench_lateral_scan",
    "bench_repeated_counts", "bench_shielding", "bench_two_source", "lateral_profile",
    "profile_width_mm",
]
