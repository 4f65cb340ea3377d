"""Pose sources by name: a `[tracker]` table (a tracker TOML file) -> an opened PoseSource.

The names come from the `probe_nav.trackers` entry-point group (as the count drivers' protocols
come from `probe_nav.drivers`), so a package adds a tracker by declaring an entry point; each
entry point is a function `(table, base_dir, common) -> PoseSource`. The keys every tracker
shares are read here, once:

```
[tracker]
source = "openigtlink"            # or "aruco" (`probe-nav track sources` lists them)
tip_offset_mm = [0.0, 0.0, 0.0]   # the tip in the marker's frame (probe-nav track calibrate)
tool_axis = [0.0, 0.0, 1.0]       # the probe's axis in the marker's frame
latency_ms = 0.0                  # the tracker's delay (probe-nav track latency)
```
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from probe_nav.drivers.tracking.pose import PoseSource, Vec3

GROUP = "probe_nav.trackers"
COMMON_KEYS = ("source", "tip_offset_mm", "tool_axis", "latency_ms")


class TrackerConfigError(ValueError):
    """A tracker file that cannot be used (one line for the user, naming the file and key)."""


@dataclass(frozen=True)
class CommonOptions:
    """The keys every tracker takes."""

    tip_offset_mm: Vec3 = (0.0, 0.0, 0.0)
    tool_axis: Vec3 = (0.0, 0.0, 1.0)
    latency_s: float = 0.0


def source_names() -> list[str]:
    """The registered tracker names, sorted."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def _vector(table: Mapping[str, Any], key: str, default: Vec3, where: str) -> Vec3:
    value = table.get(key, list(default))
    if (not isinstance(value, list) or len(value) != 3
            or not all(isinstance(v, int | float) and not isinstance(v, bool)
                       and math.isfinite(v) for v in value)):
        raise TrackerConfigError(f"{where}: {key} must be three finite numbers")
    return (float(value[0]), float(value[1]), float(value[2]))


def common_options(table: Mapping[str, Any], where: str) -> CommonOptions:
    """The shared keys of a [tracker] table, checked."""
    tip = _vector(table, "tip_offset_mm", (0.0, 0.0, 0.0), where)
    axis = _vector(table, "tool_axis", (0.0, 0.0, 1.0), where)
    if math.hypot(*axis) < 1e-6:
        raise TrackerConfigError(f"{where}: tool_axis must not be zero")
    latency = table.get("latency_ms", 0.0)
    if (not isinstance(latency, int | float) or isinstance(latency, bool)
            or not math.isfinite(latency) or abs(latency) > 2000):
        raise TrackerConfigError(f"{where}: latency_ms must be a number within +-2000")
    return CommonOptions(tip, axis, float(latency) / 1000.0)


def open_pose_source(table: Mapping[str, Any], base_dir: Path, where: str = "[tracker]"
                     ) -> PoseSource:
    """The PoseSource a [tracker] table describes (relative paths against base_dir);
    TrackerConfigError for a bad table or an unknown source."""
    name = table.get("source")
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if not isinstance(name, str) or name not in found:
        known = ", ".join(sorted(found)) or "none (is probe-nav installed?)"
        raise TrackerConfigError(f"{where}: source must be one of {known}, got {name!r}")
    common = common_options(table, where)
    factory = found[name].load()
    try:
        source: PoseSource = factory(dict(table), Path(base_dir), common)
    except (TypeError, ValueError, RuntimeError, OSError) as exc:  # incl. a camera not opening
        raise TrackerConfigError(f"{where}: {exc}") from None
    return source


def load_tracker(path: str | Path) -> PoseSource:
    """Open the pose source of a tracker TOML file's [tracker] table."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise TrackerConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise TrackerConfigError(f"{path}: not a TOML file: {exc}") from None
    table = data.get("tracker")
    if not isinstance(table, dict):
        raise TrackerConfigError(f"{path}: no [tracker] table")
    return open_pose_source(table, path.parent, f"{path} [tracker]")
