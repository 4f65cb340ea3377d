"""Retention series for therapy dosimetry: a scenario's patient counted in fixed geometry at given
times after administration, with the truth a retention fit should recover.

The probe is held at the scenario's first waypoint (looking along its axis) and counts for
count_s centred on each time; the engine's physics applies (collimator, crystal, scatter,
Poisson counting and event-by-event dead time, probe_nav.simulator.engine), nothing here adds a
second model. A background count of background_s follows each point with the patient out of the
room (the scenario's room background only). Truth is closed form from the sources' clearance
(probe_nav.simulator.physics.PointSource): retained fraction relative to the administered
activity (physical decay included), effective half-life of every component and the
time-integrated activity coefficient (TIAC, h). Plain arrays only: the simulator does not import
probe_nav.dosimetry (the analysis it checks).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from probe_nav.simulator.bench_setup import seeds
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.rates import Background
from probe_nav.simulator.scenario import Scenario

_HOUR_S = 3600.0
_LN2 = math.log(2.0)
MAX_POINTS = 64
MAX_COUNT_S = 86400.0


@dataclass(frozen=True)
class RetentionSeries:
    """Counts at times after administration (h), each centred on its time, with live times and
    the background measured right after it; `truth` from the scenario's clearance."""

    scenario: str
    nuclide: str
    window: str  # name and keV limits of the counted window
    times_h: np.ndarray
    counts: np.ndarray
    live_s: np.ndarray
    real_s: np.ndarray
    background_counts: np.ndarray
    background_live_s: np.ndarray
    truth: dict[str, Any] = field(default_factory=dict)

    @property
    def background_cps(self) -> np.ndarray:
        """Background rate of each point: its background count over its live time."""
        return self.background_counts / self.background_live_s

    @property
    def background_sd_cps(self) -> np.ndarray:
        """Poisson sd of the background rate; a count of 0 is given the sd of 1 count (an empty
        count does not make the background exactly known)."""
        return np.sqrt(np.maximum(self.background_counts, 1)) / self.background_live_s

    @property
    def net_cps(self) -> np.ndarray:
        """Dead-time corrected net rate: counts / live time minus the background rate."""
        return self.counts / self.live_s - self.background_cps

    def as_dict(self) -> dict[str, Any]:
        """JSON of `probe-nav sim retention --json` (lists and floats only)."""
        return {
            "scenario": self.scenario, "nuclide": self.nuclide, "window": self.window,
            "times_h": [float(t) for t in self.times_h],
            "counts": [int(c) for c in self.counts],
            "live_s": [float(x) for x in self.live_s],
            "background_cps": [float(x) for x in self.background_cps],
            "background_sd_cps": [float(x) for x in self.background_sd_cps],
            "truth": _plain(self.truth),
        }


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def components(scenario: Scenario) -> list[tuple[float, float, float]]:
    """Every clearance component of every source as (administered MBq, effective decay constant
    1/h, biological half-life h; inf for none), administration at -t0_after_injection_s."""
    t0_s = scenario.t0_after_injection_s
    out = []
    for src in scenario.sources:
        lam_phys = src.nuclide.decay_constant_per_s
        parts = src.clearance or ((1.0, src.biological_half_life_s),)
        for share, t_bio_s in parts:
            lam = lam_phys + (0.0 if math.isinf(t_bio_s) else _LN2 / t_bio_s)
            out.append((src.activity_mbq * share * math.exp(lam * t0_s), lam * _HOUR_S,
                        t_bio_s / _HOUR_S))
    return out


def clearance_truth(scenario: Scenario, times_h: Sequence[float]) -> dict[str, Any]:
    """Closed-form truth of a scenario's retention: administered activity, retained fraction
    (and activity) at each time, components' effective half-lives, TIAC and its equivalent
    mono-exponential half-life (TIAC ln 2); with two components the fast/slow figures too."""
    comps = components(scenario)
    if not comps:
        raise ValueError(f"scenario {scenario.name!r} has no sources: nothing is retained")
    weights = np.array([c[0] for c in comps])
    lam_per_h = np.array([c[1] for c in comps])
    administered = float(weights.sum())
    t = np.asarray(times_h, dtype=float)
    retained = np.exp(-np.outer(t, lam_per_h)) @ weights / administered
    tiac_h = float(np.sum(weights / lam_per_h) / administered)
    listed = [{"fraction": float(w / administered), "biological_half_life_h": t_bio,
               "effective_half_life_h": float(_LN2 / lam)}
              for (w, lam, t_bio) in comps]
    truth: dict[str, Any] = {
        "administered_mbq": administered,
        "retained_fraction": retained.tolist(),
        "activity_mbq": (retained * administered).tolist(),
        "components": listed,
        "tiac_h": tiac_h,
        "t_eff_h": tiac_h * _LN2,
    }
    if len(listed) == 2:
        fast, slow = sorted(listed, key=lambda c: c["effective_half_life_h"])
        truth.update({"t_eff_fast_h": fast["effective_half_life_h"],
                      "t_eff_slow_h": slow["effective_half_life_h"],
                      "fraction_fast": fast["fraction"]})
    return truth


def _check(times_h: Sequence[float], count_s: float, background_s: float, window: int,
           n_windows: int) -> np.ndarray:
    t = np.asarray(times_h, dtype=float)
    if t.ndim != 1 or not 1 <= t.size <= MAX_POINTS:
        raise ValueError(f"times must be a list of 1 to {MAX_POINTS} hours")
    for what, value in (("count time", count_s), ("background time", background_s)):
        if not (math.isfinite(value) and 0 < value <= MAX_COUNT_S):
            raise ValueError(f"the {what} must be > 0 and at most {MAX_COUNT_S:g} s, "
                             f"got {value}")
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite numbers of hours")
    if t[0] * _HOUR_S < count_s / 2.0:
        raise ValueError(f"the first time ({t[0]:g} h) must be at least half the count time "
                         "after administration (counts are centred on their times)")
    if np.any(np.diff(t) * _HOUR_S < count_s + background_s):
        raise ValueError("times must increase, each after the previous count and its "
                         "background count")
    if not 0 <= window < n_windows:
        raise ValueError(f"window {window} out of range 0..{n_windows - 1}")
    return t


def _patient_out(scenario: Scenario) -> Scenario:
    """The same room and probe with the patient out: no sources, no blood pool."""
    gone = tuple(dataclasses.replace(src, from_s=math.inf, until_s=math.inf)
                 for src in scenario.sources)
    return dataclasses.replace(scenario, sources=gone,
                               background=Background(room_cps=scenario.background.room_cps))


def measure_series(scenario: Scenario, times_h: Sequence[float], count_s: float = 60.0,
                   seed: int = 0, background_s: float = 60.0, window: int = 0
                   ) -> RetentionSeries:
    """Count the scenario's patient at each time (h after administration) for count_s, probe at
    the path's first waypoint, in window `window`, then the background for background_s.
    ValueError (one line) for times that are not increasing, too close or not finite."""
    t = _check(times_h, count_s, background_s, window, len(scenario.windows))
    patient_seed, room_seed = seeds(seed, 2)
    patient = Simulation(scenario, patient_seed)
    room = Simulation(_patient_out(scenario), room_seed)
    where = scenario.path.waypoints[0].position_mm
    for sim in (patient, room):
        sim.set_pose(where, scenario.path.axis_at(0.0))
    t0_s = scenario.t0_after_injection_s
    counts, live, real, bg_counts, bg_live, gross, room_cps = [], [], [], [], [], [], []
    for t_h in t:
        start_s = t_h * _HOUR_S - t0_s - count_s / 2.0
        _jump(patient, start_s)
        gross.append(patient.window_rates_at(start_s + count_s / 2.0)[window])
        frame = patient.step(count_s)
        counts.append(frame.counts[window])
        live.append(frame.live_s)
        real.append(frame.real_s)
        _jump(room, patient.t_s)
        room_cps.append(room.window_rates_at(room.t_s + background_s / 2.0)[window])
        bg = room.step(background_s)
        bg_counts.append(bg.counts[window])
        bg_live.append(bg.live_s)
        _jump(patient, room.t_s)
    truth = clearance_truth(scenario, t)
    truth["expected_cps"] = gross  # window rate before dead time at mid-count, room included
    truth["expected_net_cps"] = (np.asarray(gross) - np.asarray(room_cps)).tolist()
    truth["room_cps"] = room_cps
    # Net rate per MBq in the body: constant in fixed geometry (one body, one place); with a
    # dose-rate factor (uSv/h per MBq at 1 m) it gives the uSv/h per cps a release check needs.
    truth["cps_per_mbq"] = (np.asarray(truth["expected_net_cps"])
                            / np.asarray(truth["activity_mbq"])).tolist()
    win = scenario.windows[window]
    return RetentionSeries(
        scenario.name, scenario.nuclide_name, f"{win.name} {win.lo_kev:g}-{win.hi_kev:g} keV",
        t, np.asarray(counts, dtype=np.int64), np.asarray(live), np.asarray(real),
        np.asarray(bg_counts, dtype=np.int64), np.asarray(bg_live), truth)


def _jump(sim: Simulation, t_s: float) -> None:
    """Set the simulation's clock to t_s (hours pass between counts; may start before scenario
    time 0 when the first count is earlier than t0_after_injection_h)."""
    sim.t_s = t_s
    sim.counter.reset()
