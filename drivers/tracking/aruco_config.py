"""The `aruco` tracker of a [tracker] table (drivers/tracking/registry):

```
[tracker]
source = "aruco"
camera = 0                      # camera index, or a video file
intrinsics = "camera.toml"      # its [camera] table (relative to the tracker file)
board = { markers_x = 4, markers_y = 3, marker_mm = 15.0, gap_mm = 3.0, first_id = 0 }
reference = { markers_x = 4, markers_y = 3, marker_mm = 15.0, gap_mm = 3.0, first_id = 20 }
reference_hold_s = 1.0          # optional
```

`board` is the probe's marker board, `reference` (optional, recommended) the board lying on the
skin: with it, poses are in the patient's frame (skin z = 0, tissue below); without it, in the
camera's frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from probe_nav.drivers.tracking.aruco import ArucoPoseSource
from probe_nav.drivers.tracking.camera_model import CameraModel
from probe_nav.drivers.tracking.marker_board import MarkerBoard
from probe_nav.drivers.tracking.reference import HOLD_S
from probe_nav.drivers.tracking.registry import COMMON_KEYS, CommonOptions

KEYS = {"camera", "intrinsics", "board", "reference", "reference_hold_s"}
BOARD_KEYS = {"dictionary", "markers_x", "markers_y", "marker_mm", "gap_mm", "first_id",
              "margin_mm"}


def _board(value: Any, key: str) -> MarkerBoard:
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a table of {', '.join(sorted(BOARD_KEYS))}")
    unknown = sorted(set(value) - BOARD_KEYS)
    if unknown:
        raise ValueError(f"{key}: unknown key {unknown[0]!r}")
    return MarkerBoard(**value)


def from_config(table: dict[str, Any], base_dir: Path, common: CommonOptions
                ) -> ArucoPoseSource:
    """An ArucoPoseSource from a [tracker] table (module docstring)."""
    unknown = sorted(set(table) - KEYS - set(COMMON_KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} for source aruco "
                         f"({', '.join(sorted(KEYS))})")
    camera = table.get("camera", 0)
    if isinstance(camera, bool) or not isinstance(camera, int | str):
        raise ValueError("camera must be a camera index or a video file")
    if isinstance(camera, str):
        camera = str(base_dir / camera)
    intrinsics = table.get("intrinsics")
    if not isinstance(intrinsics, str):
        raise ValueError("intrinsics must name the camera's TOML file")
    model = CameraModel.load(base_dir / intrinsics)
    board = _board(table.get("board", {}), "board")
    reference = table.get("reference")
    ref = None if reference is None else _board(reference, "reference")
    hold = table.get("reference_hold_s", HOLD_S)
    if isinstance(hold, bool) or not isinstance(hold, int | float) or not 0 < hold <= 10:
        raise ValueError("reference_hold_s must be a number of seconds in (0, 10]")
    return ArucoPoseSource(camera, board, model, common.tip_offset_mm, common.tool_axis,
                           common.latency_s, reference=ref, reference_hold_s=float(hold))
