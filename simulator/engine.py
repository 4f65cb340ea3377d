"""The simulation engine: plays a scenario and produces counts with their ground truth.

Per frame: the expected interaction rates at mid-interval (probe_nav.simulator.rates), the
pulses the counter records with its dead time, event by event (probe_nav.simulator.deadtime_sim),
an energy for every recorded pulse from the detector response (probe_nav.simulator.spectrum),
then window counts and, when asked for, a spectrum. Deterministic for a given seed.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass

import numpy as np

from probe_nav.drivers.frames import EnergyWindow
from probe_nav.simulator.deadtime_sim import DeadTimeCounter, expected_observed_cps
from probe_nav.simulator.faults import FaultPlan
from probe_nav.simulator.path import InteractivePose, Vec3
from probe_nav.simulator.physics import Pose
from probe_nav.simulator.rates import RateModel
from probe_nav.simulator.scenario import Scenario

MAX_WINDOWS = 8


@dataclass(frozen=True, slots=True)
class Truth:
    """What really happened during one frame (rates at mid-interval, before any encoding)."""

    t_s: float
    true_rate_cps: float  # expected window-0 rate before dead time
    position_mm: Vec3
    axis: Vec3 = (0.0, 0.0, -1.0)
    window_rates_cps: tuple[float, ...] = ()  # every window, before dead time
    total_rate_cps: float = 0.0  # every pulse above the threshold: what drives the dead time
    observed_rate_cps: float = 0.0  # expected window-0 rate after dead time
    source_rates_cps: tuple[float, ...] = ()  # window-0 rate of each source, before dead time
    gain: float = 1.0  # detector gain (below 1 during an HV fault)
    extra_rate_cps: float = 0.0  # true rate added by a saturation fault


@dataclass(frozen=True, slots=True)
class SimFrame:
    """One counting interval as the physics produced it, before any protocol encoding."""

    t_end_s: float
    real_s: float
    live_s: float
    counts: tuple[int, ...]
    truth: Truth
    spectrum: tuple[int, ...] | None = None
    over_range: bool = False  # the device's own judgement, from its live time
    total_counts: int = 0  # every recorded pulse, whatever its energy


class Simulation:
    """Deterministic for a given seed: the same scenario and seed give the same counts."""

    def __init__(self, scenario: Scenario, seed: int = 0) -> None:
        self.scenario = scenario
        self.rng = np.random.default_rng(seed)
        self.t_s = 0.0
        self.pose = InteractivePose()
        self.faults = FaultPlan()
        self.spectrum_enabled = False
        self._windows_lock = threading.Lock()
        self.windows: list[EnergyWindow] = list(scenario.windows)
        self._model_key: tuple | None = None
        self._model: RateModel | None = None
        self._fractions: dict[tuple[float, float, float], np.ndarray] = {}
        probe = scenario.probe
        self.counter = DeadTimeCounter(probe.dead_time_kind, probe.dead_time_s, self.rng)

    # ------------------------------------------------------------ configuration

    @property
    def model(self) -> RateModel:
        """The rate model of the current scenario (rebuilt if its physics was replaced)."""
        sc = self.scenario
        key = (sc.probe, sc.sources, sc.tissue, sc.background, sc.nuclide_name)
        if self._model is None or key != self._model_key:
            self._model = RateModel(sc.probe, sc.sources, sc.tissue, sc.background,
                                    sc.nuclide_name)
            self._model_key = key
            self._fractions.clear()
        return self._model

    def set_window(self, index: int, lo_kev: float, hi_kev: float, name: str = "") -> None:
        """Redefine window `index`, or add it when index == number of windows (at most 8)."""
        if not (0 <= lo_kev < hi_kev and math.isfinite(hi_kev)):
            raise ValueError(f"a window needs 0 <= lo < hi, got {lo_kev}..{hi_kev}")
        with self._windows_lock:
            if not 0 <= index <= min(len(self.windows), MAX_WINDOWS - 1):
                raise ValueError(f"window index {index} out of range 0..{len(self.windows)}")
            window = EnergyWindow(lo_kev, hi_kev, name or (
                self.windows[index].name if index < len(self.windows) else f"w{index}"))
            if index == len(self.windows):
                self.windows.append(window)
            else:
                self.windows[index] = window

    def set_position(self, position_mm: Vec3 | None) -> None:
        """Drive the probe from outside (interactive); None returns to the scripted path."""
        if position_mm is None:
            self.pose.release()
        else:
            self.pose.set(position_mm)

    def set_pose(self, position_mm: Vec3, axis: Vec3 | None = None) -> None:
        """Hold the probe at a position looking along an axis (thread-safe)."""
        self.pose.set(position_mm, axis)

    # ------------------------------------------------------------ queries

    def pose_at(self, t_s: float) -> Pose:
        """Where the probe is and looks at scenario time `t_s`."""
        override = self.pose.get()
        path = self.scenario.path
        if override is None:
            return Pose(path.position_at(t_s), path.axis_at(t_s))
        position, axis = override
        return Pose(position, path.axis_at(t_s) if axis is None else axis)

    def position_at(self, t_s: float) -> Vec3:
        """Where the probe is at scenario time `t_s`."""
        return self.pose_at(t_s).position_mm

    def _window_fractions(self, window: EnergyWindow, gain: float) -> np.ndarray:
        key = (window.lo_kev, window.hi_kev, gain)
        if key not in self._fractions:
            self._fractions[key] = self.model.window_fractions(window.lo_kev, window.hi_kev, gain)
        return self._fractions[key]

    def _shape_rates(self, t_s: float) -> tuple[np.ndarray, np.ndarray, Pose]:
        """Rate matrix (sources, blood pool, room, saturation) and shape totals at t_s."""
        model = self.model
        pose = self.pose_at(t_s)
        matrix = model.rates(pose, t_s)
        bench = self.scenario.bench
        if bench is not None and bench.contains(pose.position_mm):
            # The bench is away from the patient: its background is the room only.
            matrix[len(self.scenario.sources)] = 0.0  # the blood-pool row
        extra = self.faults.extra_rate_cps(t_s)
        if extra > 0:
            row = np.zeros((1, matrix.shape[1]))
            row[0, model.lines[model.tracer.name][0].primary_shape] = extra
            matrix = np.vstack([matrix, row])
        return matrix, matrix.sum(axis=0), pose

    def window_rates_at(self, t_s: float) -> tuple[float, ...]:
        """Expected rate of every window before dead time at scenario time `t_s`."""
        _, shape_rates, _ = self._shape_rates(t_s)
        gain = self.faults.gain_at(t_s)
        return tuple(float(shape_rates @ self._window_fractions(w, gain)) for w in self.windows)

    def rate_at(self, t_s: float) -> float:
        """Expected detected window-0 rate (before dead time) at scenario time `t_s`."""
        return self.window_rates_at(t_s)[0]

    # ------------------------------------------------------------ time

    def skip(self, duration_s: float) -> None:
        """Let time pass without counting (device frozen, or the next day of a study)."""
        if duration_s > 0:
            self.t_s += duration_s
            self.counter.reset()

    def step(self, real_s: float | None = None) -> SimFrame:
        """Advance one counting interval and return its counts and truth."""
        real_s = self.scenario.frame_period_s if real_s is None else real_s
        if not real_s > 0:
            raise ValueError(f"a frame needs a positive length, got {real_s} s")
        t0, mid = self.t_s, self.t_s + real_s / 2.0
        model = self.model
        matrix, shape_rates, pose = self._shape_rates(mid)
        gain = self.faults.gain_at(mid)
        trigger = shape_rates * model.above_threshold(gain)
        total = float(trigger.sum())
        recorded, live_s = self.counter.count(total, t0, real_s)
        live_s = min(live_s, real_s)  # rounding in the dead-time sum must not exceed real time
        energies = self._energies(recorded, trigger, model, gain)
        with self._windows_lock:
            windows = list(self.windows)
        counts = tuple(int(np.count_nonzero((energies >= w.lo_kev) & (energies < w.hi_kev)))
                       for w in windows)
        fractions = [self._window_fractions(w, gain) for w in windows]
        window_rates = tuple(float(shape_rates @ f) for f in fractions)
        kept = expected_observed_cps(model.probe.dead_time_kind, total,
                                     model.probe.dead_time_s) / total if total > 0 else 1.0
        n_src = len(self.scenario.sources)
        t_end = round(t0 + real_s, 9)  # ns grid: frame times stay exact decimals over long runs
        truth = Truth(
            t_s=t_end,
            true_rate_cps=window_rates[0],
            position_mm=pose.position_mm,
            axis=pose.axis,
            window_rates_cps=window_rates,
            total_rate_cps=total,
            observed_rate_cps=window_rates[0] * kept,
            source_rates_cps=tuple(float(x) for x in matrix[:n_src] @ fractions[0]),
            gain=gain,
            extra_rate_cps=self.faults.extra_rate_cps(mid),
        )
        self.t_s = t_end
        live_fraction = live_s / real_s
        return SimFrame(
            t_end_s=self.t_s,
            real_s=real_s,
            live_s=live_s,
            counts=counts,
            truth=truth,
            spectrum=self._spectrum(energies) if self.spectrum_enabled else None,
            over_range=live_fraction < 1.0 - model.probe.over_range_loss,
            total_counts=recorded,
        )

    def _energies(self, recorded: int, trigger: np.ndarray, model: RateModel,
                  gain: float) -> np.ndarray:
        """Measured energies (keV) of the recorded pulses: shape by rate, energy by response."""
        if recorded == 0:
            return np.zeros(0)
        per_shape = self.rng.multinomial(recorded, trigger / trigger.sum())
        threshold = model.probe.threshold_kev / gain
        parts = [model.table.sample(self.rng, s, int(n), threshold)
                 for s, n in enumerate(per_shape) if n]
        return np.concatenate(parts) * gain

    def _spectrum(self, energies: np.ndarray) -> tuple[int, ...]:
        """Histogram of measured energies in the probe's channels (linear calibration)."""
        probe = self.scenario.probe
        channels = np.floor(energies / probe.kev_per_channel).astype(int)
        channels = channels[(channels >= 0) & (channels < probe.spectrum_channels)]
        return tuple(int(x) for x in np.bincount(channels, minlength=probe.spectrum_channels))
