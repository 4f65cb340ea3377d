"""The probe's expected window rate per becquerel of a point of tissue, for every pose of a sweep.

For a probe tip T looking along u and a point S below the skin (the plane z = skin_z_mm, tissue
at z < skin_z_mm), one becquerel at S gives in the tracer's window

    a(T, u, S) = k sum_lines y_l R(E_l, rho, z) exp(-mu(E_l) l) w_l          (cps per Bq)

with R the probe's interaction probability at the probe-frame point (rho, z) of S
(probe_nav.simulator.probe_geometry), l the part of the segment T -> S below the skin, mu the
tissue's narrow-beam attenuation, y_l the line's yield, w_l the share of the line's primary
photons that the window keeps and k the efficiency scale that makes the geometry match the
probe's measured sensitivity: the simulator's own primary term (probe_nav.simulator.rates), so
the same model serves simulated and real probes. Tissue scatter is not modelled here (it adds
a few per cent in the window, smoothly, and is absorbed by the background term).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from probe_nav.simulator.physics import ProbeModel, Tissue
from probe_nav.simulator.rates import Background, RateModel

# Elements of the (frames x voxels) matrix computed at once: bounds the float64 temporaries
# (about ten of them) to a few tens of MB.
CHUNK_ELEMENTS = 1 << 20
# float64 temporaries of block(): the (F, V, 3) difference vectors twice (48 bytes) and about
# eight (F, V) arrays (64 bytes)
BYTES_PER_CHUNK_ELEMENT = 112
# A line that puts less than this share of its primaries in the window is skipped (the 18-21 keV
# x-rays of Tc-99m in its 126-155 keV window: exactly 0).
MIN_WINDOW_SHARE = 1e-6


@dataclass(frozen=True)
class _Line:
    weight: float  # k * yield * window share
    response: Any  # ResponseTable: R(rho, z)
    mu_per_mm: float


def tissue_path_mm(tips_mm: np.ndarray, points_mm: np.ndarray, skin_z_mm: float) -> np.ndarray:
    """(F, V): length of each segment tip -> point below the skin plane z = skin_z_mm; the
    vectorised form of probe_nav.simulator.geometry.line_tissue_mm (shifted to the skin)."""
    z_p = tips_mm[:, 2][:, None] - skin_z_mm
    z_s = points_mm[:, 2][None, :] - skin_z_mm
    diff = points_mm[None, :, :] - tips_mm[:, None, :]
    dist = np.sqrt(np.einsum("fvk,fvk->fv", diff, diff))
    below = -np.minimum(z_p, z_s)
    span = np.abs(z_p - z_s)
    partial = dist * below / np.where(span > 0, span, 1.0)
    both_below = (z_p <= 0.0) & (z_s <= 0.0)
    both_above = (z_p > 0.0) & (z_s > 0.0)
    return np.where(both_below, dist, np.where(both_above, 0.0, partial))


class ResponseModel:
    """a(T, u, S) of one probe and nuclide with the skin at z = skin_z_mm (module docstring)."""

    def __init__(self, probe: ProbeModel, nuclide_name: str = "Tc-99m",
                 skin_z_mm: float = 0.0, tissue: Tissue | None = None) -> None:
        tissue = Tissue(scatter=False) if tissue is None else Tissue(tissue.mu_scale_to_water,
                                                                     scatter=False)
        model = RateModel(probe, (), tissue, Background(), nuclide_name)
        window = model.tracer.window
        share = model.window_fractions(window.lo_kev, window.hi_kev)
        self.skin_z_mm = float(skin_z_mm)
        self.k = float(model.k)
        self.lines = tuple(
            _Line(self.k * t.yield_per_decay * float(share[t.primary_shape]), t.response,
                  t.mu_per_mm)
            for t in model.lines[model.tracer.name]
            if share[t.primary_shape] >= MIN_WINDOW_SHARE)

    def block(self, tips_mm: np.ndarray, axes: np.ndarray, points_mm: np.ndarray
              ) -> np.ndarray:
        """(F, V) float64: cps per Bq at each point for each pose (tips and axes (F, 3))."""
        tips = np.asarray(tips_mm, float)
        axes = np.asarray(axes, float)
        axes = axes / np.linalg.norm(axes, axis=1, keepdims=True)
        points = np.asarray(points_mm, float)
        v = points[None, :, :] - tips[:, None, :]
        z = np.einsum("fvk,fk->fv", v, axes)
        rho = np.sqrt(np.maximum(np.einsum("fvk,fvk->fv", v, v) - z * z, 0.0))
        path = tissue_path_mm(tips, points, self.skin_z_mm)
        out = np.zeros(z.shape)
        for line in self.lines:
            out += line.weight * line.response(rho, z) * np.exp(-line.mu_per_mm * path)
        return out

    def chunks(self, n_frames: int, n_points: int, chunk_elements: int = CHUNK_ELEMENTS
               ) -> Iterator[slice]:
        """Frame slices so that one block has about chunk_elements elements."""
        step = max(1, chunk_elements // max(n_points, 1))
        for start in range(0, n_frames, step):
            yield slice(start, min(start + step, n_frames))

    def matrix(self, tips_mm: np.ndarray, axes: np.ndarray, points_mm: np.ndarray,
               chunk_elements: int = CHUNK_ELEMENTS) -> np.ndarray:
        """(F, V) float32 system matrix, built in chunks of frames (the temporaries of a chunk
        take about BYTES_PER_CHUNK_ELEMENT x chunk_elements bytes)."""
        tips, axes = np.asarray(tips_mm, float), np.asarray(axes, float)
        out = np.empty((len(tips), len(points_mm)), dtype=np.float32)
        for rows in self.chunks(len(tips), len(points_mm), chunk_elements):
            out[rows] = self.block(tips[rows], axes[rows], points_mm)
        return out
