"""Freehand sweeps: a simulated hand moving the probe over a square of skin, for localisation.

The hand follows a boustrophedon raster over the square (lines `line_spacing_mm` apart, first
along x, then along y, repeated) at `speed_mm_s`, with a smooth Gaussian wander of the tip
(`jitter_mm` sd per axis, correlated over ~0.5 s like a hand's drift) and smooth tilts of the
axis away from straight down (sd max_tilt_deg / 2 per axis, clipped at max_tilt_deg). The tip
stays on the skin (z = 0, the scenario frame). Each frame is counted by the simulator with the
probe held at its mid-frame pose (probe_nav.simulator.engine.Simulation.set_pose), so the poses
returned are exactly the ones the counts were drawn with. Deterministic for a given seed.

Write it as a frame CSV with its pose columns:
`write_frames_csv(path, sweep.frames, poses=sweep.poses)` (probe_nav.io.frames_csv).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from probe_nav.calibration.nuclides import nuclide
from probe_nav.drivers.frames import CountFrame, EnergyWindow
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.path import ScanPath, Waypoint
from probe_nav.simulator.physics import PointSource, ProbeModel, Tissue
from probe_nav.simulator.rates import Background
from probe_nav.simulator.scenario import Scenario

HAND_CORRELATION_S = 0.5  # how long a hand's drift and tilt stay correlated (Gaussian sigma)


@dataclass(frozen=True)
class Sweep:
    """The frames of a sweep with the probe's mid-frame pose and the true expected rates."""

    frames: tuple[CountFrame, ...]
    position_mm: np.ndarray  # (F, 3) tip
    axis: np.ndarray  # (F, 3) unit axis out of the tip
    true_rate_cps: np.ndarray  # (F,) expected window-0 rate before dead time

    @property
    def t_s(self) -> np.ndarray:
        """End of each frame's counting interval (simulator clock)."""
        return np.array([f.t_s for f in self.frames])

    @property
    def live_s(self) -> np.ndarray:
        """Live time of each frame."""
        return np.array([f.live_s for f in self.frames])

    @property
    def counts(self) -> np.ndarray:
        """Window-0 counts of each frame."""
        return np.array([f.counts[0] for f in self.frames], dtype=np.int64)

    @property
    def poses(self) -> list[tuple[tuple[float, ...], tuple[float, ...]]]:
        """(position_mm, axis) per frame, as the frame CSV writer takes them."""
        return [(tuple(map(float, p)), tuple(map(float, a)))
                for p, a in zip(self.position_mm, self.axis, strict=True)]


def raster_mm(centre_xy_mm: tuple[float, float], side_mm: float, line_spacing_mm: float
              ) -> np.ndarray:
    """Corners of one boustrophedon pass along x then one along y over the square, (N, 2)."""
    half = side_mm / 2.0
    n_lines = max(2, round(side_mm / line_spacing_mm) + 1)
    offsets = np.linspace(-half, half, n_lines)
    along_x, along_y = [], []
    for i, off in enumerate(offsets):
        ends = (-half, half) if i % 2 == 0 else (half, -half)
        along_x += [(ends[0], off), (ends[1], off)]
        along_y += [(off, -ends[0]), (off, -ends[1])]
    corners = np.array(along_x + along_y, dtype=float)
    return corners + np.asarray(centre_xy_mm, float)


def _along(corners: np.ndarray, distance_mm: np.ndarray) -> np.ndarray:
    """Points at the given path lengths along the closed polyline through the corners."""
    loop = np.vstack([corners, corners[:1]])
    seg = np.linalg.norm(np.diff(loop, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    d = np.mod(distance_mm, cum[-1])
    return np.column_stack([np.interp(d, cum, loop[:, 0]), np.interp(d, cum, loop[:, 1])])


def _smooth_noise(rng: np.random.Generator, n: int, sigma_frames: float, sd: float
                  ) -> np.ndarray:
    """Gaussian noise correlated over sigma_frames, scaled to standard deviation sd."""
    white = rng.standard_normal(n + 8 * int(sigma_frames + 1))
    smooth = gaussian_filter1d(white, sigma_frames, mode="wrap")[:n]
    # a Gaussian filter of width s turns unit white noise into sd 1 / sqrt(2 sqrt(pi) s)
    return smooth * sd * math.sqrt(2.0 * math.sqrt(math.pi) * max(sigma_frames, 1e-9))


def hand_path(n_frames: int, frame_period_s: float, centre_xy_mm: tuple[float, float] = (0, 0),
              side_mm: float = 60.0, speed_mm_s: float = 20.0, line_spacing_mm: float = 10.0,
              jitter_mm: float = 2.0, max_tilt_deg: float = 15.0, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Mid-frame tip positions and unit axes (each (n_frames, 3)) of a freehand raster."""
    rng = np.random.default_rng(seed)
    t_mid = (np.arange(n_frames) + 0.5) * frame_period_s
    xy = _along(raster_mm(centre_xy_mm, side_mm, line_spacing_mm), speed_mm_s * t_mid)
    sigma = HAND_CORRELATION_S / frame_period_s
    xy = xy + np.column_stack([_smooth_noise(rng, n_frames, sigma, jitter_mm)
                               for _ in range(2)])
    tilt_sd = math.radians(max_tilt_deg) / 2.0
    tx, ty = (_smooth_noise(rng, n_frames, sigma, tilt_sd) for _ in range(2))
    tilt = np.hypot(tx, ty)
    limit = math.radians(max_tilt_deg)
    scale = np.where(tilt > limit, limit / np.maximum(tilt, 1e-12), 1.0)
    tx, ty = tx * scale, ty * scale
    axis = np.column_stack([np.tan(tx), np.tan(ty), -np.ones(n_frames)])
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    position = np.column_stack([xy, np.zeros(n_frames)])
    return position, axis


def node_scenario(sources: tuple[PointSource, ...], probe: ProbeModel | None = None,
                  background: Background | None = None, tissue: Tissue | None = None,
                  frame_period_s: float = 0.05, nuclide_name: str = "Tc-99m") -> Scenario:
    """A scenario for a sweep: the sources, ~20 cps of room and blood-pool background by
    default (5 + 15 cps), the default (cdte-14) probe, tissue with scatter."""
    window = nuclide(nuclide_name).window
    return Scenario(
        name="freehand sweep", description="a freehand sweep over the sources",
        nuclide_name=nuclide_name, frame_period_s=frame_period_s,
        probe=ProbeModel() if probe is None else probe, sources=sources,
        background=Background(5.0, 15.0) if background is None else background,
        path=ScanPath((Waypoint((0.0, 0.0, 0.0)),)),
        tissue=Tissue() if tissue is None else tissue,
        windows=(EnergyWindow(window.lo_kev, window.hi_kev, window.name),))


def freehand_sweep(scenario: Scenario, duration_s: float = 60.0, seed: int = 0,
                   centre_xy_mm: tuple[float, float] = (0.0, 0.0), side_mm: float = 60.0,
                   speed_mm_s: float = 20.0, jitter_mm: float = 2.0,
                   max_tilt_deg: float = 15.0) -> Sweep:
    """Play the scenario with the probe moved by a freehand raster for duration_s."""
    period = scenario.frame_period_s
    n = max(1, round(duration_s / period))
    position, axis = hand_path(n, period, centre_xy_mm, side_mm, speed_mm_s,
                               jitter_mm=jitter_mm, max_tilt_deg=max_tilt_deg, seed=seed)
    sim = Simulation(scenario, seed)
    frames, rates = [], []
    for i in range(n):
        sim.set_pose(tuple(position[i]), tuple(axis[i]))
        f = sim.step(period)
        frames.append(CountFrame(i, f.t_end_s, f.real_s, f.live_s, f.counts[:1]))
        rates.append(f.truth.true_rate_cps)
    return Sweep(tuple(frames), position, axis, np.asarray(rates))


def injection_site_sources(seed: int, node_depth_mm: tuple[float, float] = (10.0, 20.0),
                           node_kbq: tuple[float, float] = (10.0, 20.0),
                           site_distance_mm: tuple[float, float] = (60.0, 80.0),
                           site_depth_mm: tuple[float, float] = (10.0, 20.0),
                           site_mbq: tuple[float, float] = (20.0, 100.0)
                           ) -> tuple[PointSource, PointSource]:
    """(node, injection site) for a sweep centred on x = y = 0: a Tc-99m node under the centre
    and an injection site at a random bearing, site_distance_mm from the node (in 3D), outside
    the usual 60 mm square; each figure drawn uniformly from its range, deterministic per seed
    (issue 17: a sentinel node takes ~0.1-1 % of a 20-100 MBq peritumoral injection; 10-20 kBq
    is the harder end)."""
    rng = np.random.default_rng(5000 + seed)
    node_z = -rng.uniform(*node_depth_mm)
    kbq = rng.uniform(*node_kbq)
    bearing = rng.uniform(0.0, 2.0 * math.pi)
    distance = rng.uniform(*site_distance_mm)
    site_z = -rng.uniform(*site_depth_mm)
    across = math.sqrt(max(distance ** 2 - (node_z - site_z) ** 2, 0.0))
    site = (across * math.cos(bearing), across * math.sin(bearing), site_z)
    return (PointSource("node", (0.0, 0.0, node_z), kbq / 1000.0),
            PointSource("injection site", site, rng.uniform(*site_mbq)))
