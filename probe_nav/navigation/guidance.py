"""From the live probe to a hot spot: what the surgeon needs at a glance.

For the tip at P looking along the unit axis u and a spot at S (tracker frame, mm; the skin is the
plane z = skin_z_mm with tissue below), with d = S - P:

- `distance_mm` = |d|, straight from the tip to the spot;
- `off_axis_deg` = the angle between u and d: 0 when the probe points at the spot;
- `dx_mm`, `dy_mm` = the spot's horizontal offset from the tip (d's x and y): where to move on the
  skin, in the patient's frame as the top view and the 3D scene show it (a probe's roll is not
  tracked reliably, so the guide does not turn with it);
- `depth_mm` = skin_z_mm - S_z: how deep the spot lies below the skin;
- `ahead_mm` = d . u: how far along the axis (negative: the spot is behind the tip).

`aim_score` maps off_axis_deg to [0, 1] for the sound cue (probe_nav.audio.aim): 1 inside
ON_TARGET_DEG, falling linearly to 0 at MAX_AIM_DEG.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

ON_TARGET_DEG = 8.0  # about a third of the default head's angular FWHM (29 deg at 140 keV)
MAX_AIM_DEG = 60.0  # beyond this the cue is silent: the probe looks elsewhere


@dataclass(frozen=True, slots=True)
class Guidance:
    """Where the spot is from the tip (module docstring)."""

    distance_mm: float
    off_axis_deg: float
    dx_mm: float
    dy_mm: float
    depth_mm: float
    ahead_mm: float

    @property
    def horizontal_mm(self) -> float:
        """How far to move over the skin: |(dx, dy)|."""
        return math.hypot(self.dx_mm, self.dy_mm)

    @property
    def bearing_deg(self) -> float:
        """Direction to move over the skin, degrees from +x towards +y (0 if straight above)."""
        if self.horizontal_mm == 0.0:
            return 0.0
        return math.degrees(math.atan2(self.dy_mm, self.dx_mm))

    @property
    def on_target(self) -> bool:
        """The probe points at the spot within ON_TARGET_DEG."""
        return self.off_axis_deg <= ON_TARGET_DEG


def guide(position_mm: Sequence[float], axis: Sequence[float], spot_mm: Sequence[float],
          skin_z_mm: float = 0.0) -> Guidance:
    """Guidance from a tip (position, unit axis) to a spot position (module docstring)."""
    p = np.asarray(position_mm, float)
    u = np.asarray(axis, float)
    s = np.asarray(spot_mm, float)
    if p.shape != (3,) or u.shape != (3,) or s.shape != (3,):
        raise ValueError("positions and the axis are 3-vectors")
    norm = float(np.linalg.norm(u))
    if not norm > 0:
        raise ValueError("the probe axis must not be zero")
    u = u / norm
    d = s - p
    distance = float(np.linalg.norm(d))
    ahead = float(d @ u)
    cos_off = 1.0 if distance == 0.0 else max(-1.0, min(1.0, ahead / distance))
    off = math.degrees(math.acos(cos_off))
    return Guidance(distance, off, float(d[0]), float(d[1]), float(skin_z_mm - s[2]), ahead)


def aim_score(off_axis_deg: float) -> float:
    """1 on target (<= ON_TARGET_DEG), 0 at or beyond MAX_AIM_DEG, linear between."""
    if not math.isfinite(off_axis_deg):
        return 0.0
    if off_axis_deg <= ON_TARGET_DEG:
        return 1.0
    return max(0.0, (MAX_AIM_DEG - off_axis_deg) / (MAX_AIM_DEG - ON_TARGET_DEG))
