"""Probe motion: scripted paths (waypoints with speeds, dwells and probe axes) played back in
time, and an interactive pose that a GUI or a test sets from another thread."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from probe_nav.simulator.geometry import unit

Vec3 = tuple[float, float, float]
DOWN: Vec3 = (0.0, 0.0, -1.0)


@dataclass(frozen=True, slots=True)
class Waypoint:
    """Go to `position_mm` (and turn to `axis`) at `speed_mm_s`, or in `travel_s` seconds
    (both 0: jump there), then stay `dwell_s` seconds. `axis` None keeps the previous axis."""

    position_mm: Vec3
    dwell_s: float = 0.0
    speed_mm_s: float = 0.0
    axis: Vec3 | None = None
    travel_s: float = 0.0


class ScanPath:
    """Piecewise-linear motion through waypoints; `loop` repeats it, else the probe stays put.

    Positions are interpolated linearly; axes linearly then normalised (a rotation slows a little
    in the middle of a large turn, like a hand does). Consecutive axes must not be opposite.
    """

    def __init__(self, waypoints: tuple[Waypoint, ...], loop: bool = False,
                 axis: Vec3 = DOWN) -> None:
        if not waypoints:
            raise ValueError("a scan path needs at least one waypoint")
        self.waypoints = waypoints
        self.loop = loop
        first = waypoints[0]
        current_axis = unit(first.axis if first.axis is not None else axis)
        times = [0.0, first.dwell_s]
        points = [np.asarray(first.position_mm, float)] * 2
        axes = [current_axis, current_axis]
        t = first.dwell_s
        for i, wp in enumerate(waypoints[1:], start=1):
            target = np.asarray(wp.position_mm, float)
            new_axis = current_axis if wp.axis is None else unit(wp.axis)
            if float(np.dot(new_axis, current_axis)) < -0.999:
                raise ValueError(f"waypoint {i} turns the probe axis by 180 degrees at once; "
                                 "add a waypoint in between")
            step = float(np.linalg.norm(target - points[-1]))
            if wp.travel_s > 0:
                t += wp.travel_s
            elif wp.speed_mm_s > 0:
                t += step / wp.speed_mm_s
            times += [t, t + wp.dwell_s]
            points += [target, target]
            axes += [new_axis, new_axis]
            t += wp.dwell_s
            current_axis = new_axis
        self._times = np.asarray(times)
        self._points = np.vstack(points)
        self._axes = np.vstack(axes)

    @property
    def duration_s(self) -> float:
        """Time to play the path once."""
        return float(self._times[-1])

    def _clock(self, t_s: float) -> float:
        if self.loop and self.duration_s > 0:
            t_s = t_s % self.duration_s
        return min(max(t_s, 0.0), self.duration_s)

    def position_at(self, t_s: float) -> Vec3:
        """The probe position at scenario time `t_s`."""
        t = self._clock(t_s)
        pos = [float(np.interp(t, self._times, self._points[:, k])) for k in range(3)]
        return (pos[0], pos[1], pos[2])

    def axis_at(self, t_s: float) -> Vec3:
        """The unit vector the probe looks along at scenario time `t_s`."""
        t = self._clock(t_s)
        v = unit([float(np.interp(t, self._times, self._axes[:, k])) for k in range(3)])
        return (float(v[0]), float(v[1]), float(v[2]))


class InteractivePose:
    """A probe pose set from outside (GUI, test), read by the simulation; thread-safe.

    `set` replaces the pose atomically; `release` hands the probe back to the scripted path.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pose: tuple[Vec3, Vec3 | None] | None = None

    def set(self, position_mm: Vec3, axis: Vec3 | None = None) -> None:
        """Hold the probe at position_mm looking along axis (None: the scripted axis)."""
        pos = (float(position_mm[0]), float(position_mm[1]), float(position_mm[2]))
        ax = None if axis is None else tuple(float(x) for x in unit(axis))
        with self._lock:
            self._pose = (pos, ax)  # type: ignore[assignment]

    def release(self) -> None:
        """Return to the scripted path."""
        with self._lock:
            self._pose = None

    def get(self) -> tuple[Vec3, Vec3 | None] | None:
        """The pose set from outside, or None when the scripted path drives."""
        with self._lock:
            return self._pose
