"""Scripted probe motion: waypoints with travel speeds and dwell times, played back in time."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Waypoint:
    """Go to `position_mm` at `speed_mm_s` (0: jump there), then stay `dwell_s` seconds."""

    position_mm: tuple[float, float, float]
    dwell_s: float = 0.0
    speed_mm_s: float = 0.0


class ScanPath:
    """Piecewise-linear motion through waypoints; `loop` repeats it, else the probe stays put."""

    def __init__(self, waypoints: tuple[Waypoint, ...], loop: bool = False) -> None:
        if not waypoints:
            raise ValueError("a scan path needs at least one waypoint")
        self.waypoints = waypoints
        self.loop = loop
        # Knots: (time, position) at which the motion changes.
        times = [0.0]
        points = [np.asarray(waypoints[0].position_mm, float)]
        t = waypoints[0].dwell_s
        times.append(t)
        points.append(points[0])
        for wp in waypoints[1:]:
            target = np.asarray(wp.position_mm, float)
            step = float(np.linalg.norm(target - points[-1]))
            t += step / wp.speed_mm_s if wp.speed_mm_s > 0 else 0.0
            times.append(t)
            points.append(target)
            t += wp.dwell_s
            times.append(t)
            points.append(target)
        self._times = np.asarray(times)
        self._points = np.vstack(points)

    @property
    def duration_s(self) -> float:
        """Time to play the path once."""
        return float(self._times[-1])

    def position_at(self, t_s: float) -> tuple[float, float, float]:
        """The probe position at scenario time `t_s`."""
        if self.loop and self.duration_s > 0:
            t_s = t_s % self.duration_s
        t_s = min(max(t_s, 0.0), self.duration_s)
        pos = [float(np.interp(t_s, self._times, self._points[:, k])) for k in range(3)]
        return (pos[0], pos[1], pos[2])
