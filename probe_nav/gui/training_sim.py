"""Training mode's simulated probe, free of Qt: a DeviceServer on a pty (the real stack: the
console connects to it with the real driver) whose probe pose the user holds or releases.

Positions are in the scenario's frame (mm, skin at z = 0, tissue below); the probe looks along an
axis tilted `tilt_deg` from straight down towards the azimuth `azimuth_deg` (0 = +x, 90 = +y).
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from probe_nav.errors import UserError
from probe_nav.simulator.launch import LaunchError, start_server


@dataclass(frozen=True, slots=True)
class MapBounds:
    """The part of the scenario shown on the top view (mm)."""

    x_min_mm: float
    x_max_mm: float
    y_min_mm: float
    y_max_mm: float


def probe_axis(tilt_deg: float, azimuth_deg: float) -> tuple[float, float, float]:
    """Unit vector of a probe tilted from straight down towards an azimuth."""
    t, a = math.radians(tilt_deg), math.radians(azimuth_deg)
    return (math.sin(t) * math.cos(a), math.sin(t) * math.sin(a), -math.cos(t))


class TrainingSim:
    """A simulated ProbeLink probe on a pty with a stable URL; the pose can be held from outside.

    Started by the simulator's launcher (probe_nav.simulator.launch); a scenario, protocol or
    fault plan that cannot be played is a UserError (the one line `probe-nav demo` prints).
    """

    def __init__(self, scenario: str = "sln-scan", seed: int = 0, speed: float = 1.0,
                 protocol: str = "probelink", faults: str | None = None) -> None:
        self._folder = tempfile.mkdtemp(prefix="probe-nav-training-")
        link_path = str(Path(self._folder) / "ttyPROBE")
        try:
            self.server = start_server(protocol, scenario, "pty", seed, speed,
                                       link_path=link_path, faults=faults)
        except LaunchError as exc:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise UserError(str(exc)) from None
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self.scenario_name = scenario
        self.held = False

    @property
    def url(self) -> str:
        """Where the console connects (stable across unplug/replug)."""
        return self.server.url

    @property
    def sim(self):  # -> probe_nav.simulator.engine.Simulation
        """The running simulation."""
        return self.server.emulator.sim

    @property
    def scenario(self):  # -> probe_nav.simulator.scenario.Scenario
        """The scenario being played."""
        return self.sim.scenario

    @property
    def device_t_s(self) -> float:
        """Simulated time since the device powered on."""
        return float(self.sim.t_s)

    def hold(self, x_mm: float, y_mm: float, height_mm: float = 0.0, tilt_deg: float = 0.0,
             azimuth_deg: float = 0.0) -> None:
        """Hold the probe tip at (x, y, height) looking along the tilted axis."""
        self.sim.set_pose((x_mm, y_mm, height_mm), probe_axis(tilt_deg, azimuth_deg))
        self.held = True

    def release(self) -> None:
        """Give the probe back to the scenario's scripted scan."""
        self.sim.set_position(None)
        self.held = False

    def probe_position_mm(self) -> tuple[float, float, float]:
        """Where the probe tip is now."""
        return tuple(self.sim.pose_at(self.sim.t_s).position_mm)  # type: ignore[return-value]

    def sources(self) -> list[tuple[str, tuple[float, float, float], float]]:
        """(name, position mm, activity MBq at scenario start) of every source."""
        return [(s.name, s.position_mm, s.activity_mbq) for s in self.scenario.sources]

    def bounds(self, margin_mm: float = 40.0) -> MapBounds:
        """A square area holding every source and the scripted path, with a margin."""
        xs = [s.position_mm[0] for s in self.scenario.sources]
        ys = [s.position_mm[1] for s in self.scenario.sources]
        for wp in self.scenario.path.waypoints:
            xs.append(wp.position_mm[0])
            ys.append(wp.position_mm[1])
        x0, x1 = min(xs) - margin_mm, max(xs) + margin_mm
        y0, y1 = min(ys) - margin_mm, max(ys) + margin_mm
        side = max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        return MapBounds(cx - side / 2, cx + side / 2, cy - side / 2, cy + side / 2)

    def inject(self, kind: str, **kwargs: object):
        """Schedule a fault now (probe_nav.simulator.server.DeviceServer.inject)."""
        return self.server.inject(kind, **kwargs)  # type: ignore[arg-type]

    def stop(self) -> None:
        """Stop serving (the console sees the device vanish) and clean up the link path."""
        self.server.stop()
        shutil.rmtree(self._folder, ignore_errors=True)
