"""Expected interaction rates in the crystal, split by source and by response shape.

A *shape* is one response row (probe_nav.simulator.spectrum): the primary photons of one line, the
tissue scatter of one line, the blood pool, the room. The rate matrix has one row per source plus
one for the blood pool and one for the room, one column per shape; a window's expected rate is the
matrix times the shapes' window probabilities.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from probe_nav.calibration.nuclides import nuclide
from probe_nav.simulator.collimator import downward_fraction
from probe_nav.simulator.physics import PointSource, Pose, ProbeModel, SourceGeometry, Tissue
from probe_nav.simulator.spectrum import ShapeTable, line_row, room_row, tissue_scatter

BLOOD_POOL_SCATTER_MFP = 2.0  # the blood pool is seen through ~2 mean free paths of tissue


@dataclass(frozen=True, slots=True)
class Background:
    """Rates in the tracer's usual window, on the skin, at scenario start (before dead time)."""

    room_cps: float = 0.0  # cosmic and room background through the shielding; does not decay
    tissue_cps: float = 0.0  # blood pool of the tracer under the probe; decays with it


@dataclass(frozen=True, slots=True)
class LineTerm:
    """One photon line of a nuclide with what the physics needs about it."""

    energy_kev: float
    yield_per_decay: float
    efficiency: float
    mu_per_mm: float
    primary_shape: int
    scatter_shape: int  # -1 when tissue scatter is off
    scatter_relative_efficiency: float


class RateModel:
    """Turns a probe pose and a time into the expected rate matrix (sources+2, shapes)."""

    def __init__(self, probe: ProbeModel, sources: tuple[PointSource, ...], tissue: Tissue,
                 background: Background, tracer: str) -> None:
        self.probe, self.sources, self.tissue = probe, sources, tissue
        self.tracer = nuclide(tracer)
        self.crystal = probe.crystal
        self.geometry = SourceGeometry.build(sources)
        self._rows: list[np.ndarray] = []
        self._keys: dict[tuple, int] = {}
        names = {s.nuclide_name for s in sources} | {self.tracer.name, probe.sensitivity_nuclide}
        self.lines = {name: self._line_terms(name) for name in sorted(names)}
        self._masks = {name: np.array([sources[i].nuclide_name == name
                                       for i in self.geometry.source_index], dtype=bool)
                       for name in self.lines}
        self.tissue_shape = self._add_row(("blood pool",), self._blood_pool_row())
        self.room_shape = self._add_row(("room",), room_row())
        self.table = ShapeTable.from_rows(self._rows)
        self.k = self._efficiency_scale()
        std = self.tracer.window
        in_std = self.table.fraction_between(std.lo_kev, std.hi_kev)
        self.tissue_rate = background.tissue_cps / max(in_std[self.tissue_shape], 1e-300)
        self.room_rate = background.room_cps / max(in_std[self.room_shape], 1e-300)

    # ------------------------------------------------------------ building

    def _add_row(self, key: tuple, row: np.ndarray) -> int:
        if key not in self._keys:
            self._keys[key] = len(self._rows)
            self._rows.append(row)
        return self._keys[key]

    def _line_terms(self, name: str) -> list[LineTerm]:
        terms = []
        for line in nuclide(name).lines:
            e = line.energy_kev
            primary = self._add_row(("line", e), line_row(self.crystal, e))
            scatter, rel = -1, 0.0
            if self.tissue.scatter_per_mfp > 0:
                row, rel = tissue_scatter(self.crystal, e)
                scatter = self._add_row(("scatter", e), row)
            terms.append(LineTerm(e, line.yield_per_decay, self.crystal.efficiency(e),
                                  self.tissue.mu_per_mm(e), primary, scatter, rel))
        return terms

    def _blood_pool_row(self) -> np.ndarray:
        """The tracer's lines plus their scatter, as a distributed source sees them."""
        row = np.zeros_like(self._rows[0])
        for t in self.lines[self.tracer.name]:
            row += t.yield_per_decay * t.efficiency * self._rows[t.primary_shape]
            if t.scatter_shape >= 0:
                weight = self.tissue.scatter_per_mfp * BLOOD_POOL_SCATTER_MFP
                row += (t.yield_per_decay * t.efficiency * weight * t.scatter_relative_efficiency
                        * self._rows[t.scatter_shape])
        return row / row.sum()

    def _efficiency_scale(self) -> float:
        """k such that 1 MBq of the reference nuclide at d_ref on axis gives the sensitivity."""
        ref = nuclide(self.probe.sensitivity_nuclide)
        in_window = self.table.fraction_between(ref.window.lo_kev, ref.window.hi_kev)
        per_bq = sum(t.yield_per_decay * t.efficiency * in_window[t.primary_shape]
                     for t in self.lines[ref.name])
        if per_bq <= 0:
            raise ValueError(f"the probe cannot see {ref.name} in its window")
        return self.probe.sensitivity_cps_per_mbq / (1e6 * per_bq)

    # ------------------------------------------------------------ per frame

    def rates(self, pose: Pose, t_s: float) -> np.ndarray:
        """Interaction rates in 1/s: rows = sources, blood pool, room; columns = shapes."""
        n_src = len(self.sources)
        out = np.zeros((n_src + 2, self.table.n_shapes))
        geo = self.geometry
        if n_src:
            activity_bq = np.array([s.activity_at(t_s) for s in self.sources]) * 1e6
            inverse_square, theta, dist, path_mm = geo.geometry(self.probe, pose)
            point_bq = activity_bq[geo.source_index] * geo.weights * inverse_square * self.k
            response = self.probe.angular_response(theta)
            for name, terms in self.lines.items():
                mask = self._masks[name]
                if not mask.any():
                    continue
                for t in terms:
                    depth_mfp = t.mu_per_mm * path_mm
                    unscattered = np.where(mask, point_bq * t.yield_per_decay * t.efficiency
                                           * np.exp(-depth_mfp), 0.0)
                    out[:n_src, t.primary_shape] += np.bincount(
                        geo.source_index, unscattered * response, minlength=n_src)
                    if t.scatter_shape >= 0:
                        spread = np.arctan(1.0 / (t.mu_per_mm * dist))
                        seen = self.probe.angular_response(np.maximum(theta - spread, 0.0))
                        scatter = (unscattered * seen * self.tissue.scatter_per_mfp * depth_mfp
                                   * t.scatter_relative_efficiency)
                        out[:n_src, t.scatter_shape] += np.bincount(
                            geo.source_index, scatter, minlength=n_src)
        decay = math.exp(-self.tracer.decay_constant_per_s * t_s)
        view = downward_fraction(np.asarray(pose.axis), self.probe.angular_fwhm_deg,
                                 self.probe.leakage_fraction)
        out[n_src, self.tissue_shape] = self.tissue_rate * decay * view
        out[n_src + 1, self.room_shape] = self.room_rate
        return out

    def window_fractions(self, lo_kev: float, hi_kev: float, gain: float = 1.0) -> np.ndarray:
        """Per shape: P(lo <= gain * E < hi)."""
        return self.table.fraction_between(lo_kev / gain, hi_kev / gain)

    def above_threshold(self, gain: float = 1.0) -> np.ndarray:
        """Per shape: P(gain * E >= threshold), the pulses that trigger the counter."""
        return 1.0 - self.table.cdf_at(self.probe.threshold_kev / gain)
