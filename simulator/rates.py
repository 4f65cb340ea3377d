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
from probe_nav.simulator.collimator import downward_fraction, downward_table
from probe_nav.simulator.physics import PointSource, Pose, ProbeModel, SourceGeometry, Tissue
from probe_nav.simulator.probe_figures import far_field_table
from probe_nav.simulator.probe_geometry import ProbeResponse, ResponseTable
from probe_nav.simulator.scatter import ANGLE_EDGES_DEG, ScatterModel
from probe_nav.simulator.scatter_rows import scatter_rows
from probe_nav.simulator.spectrum import ShapeTable, line_row, room_row, tissue_scatter

# Scatter is spread over centimetres, so it is evaluated at the pose snapped to this grid (tip
# position in mm, axis direction in 1/AXIS_STEPS units) and cached: a probe held still, or
# moving slowly, reuses it; the snap moves the tip <= 1 mm and the axis <= ~0.7 degrees.
SCATTER_SNAP_MM = 2.0
AXIS_STEPS = 40.0
SCATTER_CACHE_POSES = 512

# The blood pool's scattered photons per primary in its spectrum: a distributed source seen
# through a few mean free paths of tissue (only its shape matters: the rate is given in-window).
BLOOD_POOL_SCATTER_PER_PRIMARY = 1.0


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
    response: ResponseTable
    mu_per_mm: float
    primary_shape: int
    scatter_shapes: tuple[int, ...]  # one per scatter angle bin; () when tissue scatter is off
    scatter: ScatterModel | None


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
        self._with_sources = {s.nuclide_name for s in sources}
        names = self._with_sources | {self.tracer.name, probe.sensitivity_nuclide}
        self.lines = {name: self._line_terms(name) for name in sorted(names)}
        self._masks = {name: np.array([s.nuclide_name == name for s in sources], dtype=bool)
                       for name in self.lines}
        self.tissue_shape = self._add_row(("blood pool",), self._blood_pool_row())
        self.room_shape = self._add_row(("room",), room_row())
        self.table = ShapeTable.from_rows(self._rows)
        self.k = self._efficiency_scale()
        std = self.tracer.window
        in_std = self.table.fraction_between(std.lo_kev, std.hi_kev)
        self.tissue_rate = background.tissue_cps / max(in_std[self.tissue_shape], 1e-300)
        self.room_rate = background.room_cps / max(in_std[self.room_shape], 1e-300)
        self._down = downward_table(far_field_table(probe.geometry,
                                                    self.tracer.main_line.energy_kev))
        self._scatter_cache: dict[tuple, list[np.ndarray]] = {}

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
            shapes: tuple[int, ...] = ()
            model = None
            if self.tissue.scatter and name in self._with_sources:
                rows = scatter_rows(self.crystal, e, ANGLE_EDGES_DEG)
                shapes = tuple(self._add_row(("scatter", e, k), row) for k, row in enumerate(rows))
                geometry = self.probe.geometry
                model = ScatterModel(ProbeResponse(geometry), e, self.tissue,
                                     aim_depth_mm=-geometry.crystal_centre_z_mm)
            terms.append(LineTerm(e, line.yield_per_decay, self.probe.response(e),
                                  self.tissue.mu_per_mm(e), primary, shapes, model))
        return terms

    def _blood_pool_row(self) -> np.ndarray:
        """The tracer's lines plus their scatter, as a distributed source sees them."""
        row = np.zeros_like(self._rows[0])
        for t in self.lines[self.tracer.name]:
            eff = self.crystal.efficiency(t.energy_kev)
            row += t.yield_per_decay * eff * self._rows[t.primary_shape]
            scattered, relative_eff = tissue_scatter(self.crystal, t.energy_kev)
            row += (t.yield_per_decay * eff * BLOOD_POOL_SCATTER_PER_PRIMARY * relative_eff
                    * scattered)
        return row / row.sum()

    def reference_sensitivity_cps_per_mbq(self) -> float:
        """The geometry's own NEMA sensitivity: cps per MBq of the reference nuclide in its
        usual window, point source on the axis at the reference distance in air."""
        ref = nuclide(self.probe.sensitivity_nuclide)
        in_window = self.table.fraction_between(ref.window.lo_kev, ref.window.hi_kev)
        d = np.array([self.probe.reference_distance_mm])
        return 1e6 * sum(t.yield_per_decay * float(t.response(np.zeros(1), d)[0])
                         * in_window[t.primary_shape] for t in self.lines[ref.name])

    def _efficiency_scale(self) -> float:
        """k: 1, or what scales the geometry's sensitivity to a given measured figure."""
        if self.probe.sensitivity_cps_per_mbq is None:
            return 1.0
        geometric = self.reference_sensitivity_cps_per_mbq()
        if geometric <= 0:
            raise ValueError(f"the probe cannot see {self.probe.sensitivity_nuclide} in its window")
        return self.probe.sensitivity_cps_per_mbq / geometric

    # ------------------------------------------------------------ per frame

    def rates(self, pose: Pose, t_s: float) -> np.ndarray:
        """Interaction rates in 1/s: rows = sources, blood pool, room; columns = shapes."""
        n_src = len(self.sources)
        out = np.zeros((n_src + 2, self.table.n_shapes))
        if n_src:
            self._source_rates(pose, t_s, out)
        decay = math.exp(-self.tracer.decay_constant_per_s * t_s)
        out[n_src, self.tissue_shape] = (self.tissue_rate * decay
                                         * downward_fraction(np.asarray(pose.axis), self._down))
        out[n_src + 1, self.room_shape] = self.room_rate
        return out

    def _source_rates(self, pose: Pose, t_s: float, out: np.ndarray) -> None:
        n_src, geo = len(self.sources), self.geometry
        activity_bq = np.array([s.activity_at(t_s) for s in self.sources]) * 1e6 * self.k
        point_bq = activity_bq[geo.source_index] * geo.weights
        rho, z, path_mm = geo.geometry(pose)
        scatter = iter(self._scatter_per_photon(pose))
        for name, terms in self.lines.items():
            mask = self._masks[name]
            if not mask.any():
                continue
            point_mask = mask[geo.source_index]
            for t in terms:
                seen = np.where(point_mask, point_bq * t.yield_per_decay * t.response(rho, z)
                                * np.exp(-t.mu_per_mm * path_mm), 0.0)
                out[:n_src, t.primary_shape] += np.bincount(geo.source_index, seen,
                                                            minlength=n_src)
                if t.scatter is not None:
                    per_photon = next(scatter)  # (sources of this nuclide, bins)
                    weight = activity_bq[mask] * t.yield_per_decay
                    out[np.flatnonzero(mask)[:, None], np.array(t.scatter_shapes)[None, :]] += (
                        weight[:, None] * per_photon)

    def _scatter_per_photon(self, pose: Pose) -> list[np.ndarray]:
        """Scatter per emitted photon of every line with a scatter model, in `lines` order,
        at the snapped pose (cached). Each source's centre stands for the whole source."""
        tip = np.round(np.asarray(pose.position_mm, float) / SCATTER_SNAP_MM) * SCATTER_SNAP_MM
        axis = np.asarray(pose.axis, float)
        axis = np.round(axis / np.linalg.norm(axis) * AXIS_STEPS)
        key = (*tip.tolist(), *axis.tolist())
        cached = self._scatter_cache.get(key)
        if cached is None:
            if np.linalg.norm(axis) == 0:
                axis = np.asarray(pose.axis, float)
            centres = np.array([s.position_mm for s in self.sources], dtype=float)
            cached = [t.scatter.rates(tip, axis, centres[self._masks[name]])
                      for name, terms in self.lines.items() for t in terms
                      if t.scatter is not None and self._masks[name].any()]
            if len(self._scatter_cache) >= SCATTER_CACHE_POSES:
                self._scatter_cache.pop(next(iter(self._scatter_cache)))
            self._scatter_cache[key] = cached
        return cached

    def window_fractions(self, lo_kev: float, hi_kev: float, gain: float = 1.0) -> np.ndarray:
        """Per shape: P(lo <= gain * E < hi)."""
        return self.table.fraction_between(lo_kev / gain, hi_kev / gain)

    def above_threshold(self, gain: float = 1.0) -> np.ndarray:
        """Per shape: P(gain * E >= threshold), the pulses that trigger the counter."""
        return 1.0 - self.table.cdf_at(self.probe.threshold_kev / gain)


def probe_sensitivity_cps_per_mbq(probe: ProbeModel) -> float:
    """A probe's NEMA sensitivity: the measured figure it was given, or its geometry's."""
    if probe.sensitivity_cps_per_mbq is not None:
        return probe.sensitivity_cps_per_mbq
    model = RateModel(probe, (), Tissue(scatter=False), Background(), probe.sensitivity_nuclide)
    return model.reference_sensitivity_cps_per_mbq()
