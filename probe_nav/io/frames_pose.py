"""The probe's pose in a frame CSV (docs/frames-csv.md): six optional columns, all or none.

`x_mm,y_mm,z_mm` is the probe tip's position and `ux,uy,uz` the unit axis pointing out of the
tip, in the tracker's frame, at the middle of the frame's counting interval. A row whose six cells
are all empty has no pose (a tracker dropout): it reads as NaN. Anything else - a partly empty
pose, a value that is not a finite number, an axis that is not a unit vector within
UNIT_TOLERANCE - is an error naming the line and column, so a wrong pose is never read as a
right one. Split from frames_csv.py to keep each module small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

POSITION_COLUMNS = ("x_mm", "y_mm", "z_mm")
AXIS_COLUMNS = ("ux", "uy", "uz")
POSE_COLUMNS = POSITION_COLUMNS + AXIS_COLUMNS
UNIT_TOLERANCE = 1e-3  # |axis| must be within this of 1 (a tracker's rounding, not a wrong axis)
NO_POSE = (math.nan,) * 6  # a row without a pose (six empty cells)

PoseValues = tuple[float, float, float, float, float, float]
Pose = tuple[Sequence[float], Sequence[float]]  # (position_mm, axis), as the writer takes it


class PoseError(ValueError):
    """A pose that cannot be read or written; the message says which column and why."""


# The axis columns' names in simulator truth files written before the pose columns existed.
OLD_AXIS_COLUMNS = {"ux": "axis_x", "uy": "axis_y", "uz": "axis_z"}


def pose_indices(header: Sequence[str]) -> tuple[int, ...] | None:
    """Indices of the six pose columns in a header (in POSE_COLUMNS order), None if it has none
    of them; PoseError naming the missing ones if it has some but not all. An older truth file's
    axis_x,axis_y,axis_z stand for ux,uy,uz."""
    if not any(name in header for name in OLD_AXIS_COLUMNS) and all(
            old in header for old in OLD_AXIS_COLUMNS.values()):
        header = [next((new for new, old in OLD_AXIS_COLUMNS.items() if old == name), name)
                  for name in header]
    present = [name for name in POSE_COLUMNS if name in header]
    if not present:
        return None
    missing = [name for name in POSE_COLUMNS if name not in header]
    if missing:
        raise PoseError(f"pose columns come all six or none: has {','.join(present)}, "
                        f"missing {','.join(missing)}")
    return tuple(list(header).index(name) for name in POSE_COLUMNS)


def parse_pose(cells: Sequence[str]) -> PoseValues:
    """The six pose cells of a row (POSE_COLUMNS order) as floats; NO_POSE when all are empty.

    PoseError for a partly empty pose, a cell that is not a finite number, or a non-unit axis."""
    texts = [cell.strip() for cell in cells]
    if not any(texts):
        return NO_POSE
    empty = [name for name, text in zip(POSE_COLUMNS, texts, strict=True) if not text]
    if empty:
        raise PoseError(f"partly empty pose: column {','.join(empty)} empty (a frame without a "
                        "pose leaves all six pose cells empty)")
    values = []
    for name, text in zip(POSE_COLUMNS, texts, strict=True):
        try:
            value = float(text)
        except ValueError:
            raise PoseError(f"column {name} must be a number, got {text[:40]!r}") from None
        if not math.isfinite(value):
            raise PoseError(f"column {name} must be finite, got {text[:40]!r}")
        values.append(value)
    _check_unit(values[3:])
    return (values[0], values[1], values[2], values[3], values[4], values[5])


def _check_unit(axis: Sequence[float]) -> None:
    length = math.sqrt(sum(u * u for u in axis))  # a huge axis overflows to inf: refused too
    if not abs(length - 1.0) <= UNIT_TOLERANCE:
        raise PoseError(f"ux,uy,uz must be a unit vector, got length {length:.6g}")


def pose_cells(pose: Pose | None) -> list[str]:
    """The six cells of a pose as the writer prints them (repr: bit-identical round trip); six
    empty cells for None (no pose). PoseError for a pose the reader would refuse, so a file is
    never written that cannot be read back; an all-NaN pose is written as no pose."""
    if pose is None:
        return [""] * 6
    position_mm, axis = pose
    values = [float(x) for x in position_mm] + [float(u) for u in axis]
    if len(values) != 6 or len(position_mm) != 3:
        raise PoseError(f"a pose is 3 position values and 3 axis values, got "
                        f"{len(position_mm)} and {len(values) - len(position_mm)}")
    if all(math.isnan(v) for v in values):
        return [""] * 6
    for name, value in zip(POSE_COLUMNS, values, strict=True):
        if not math.isfinite(value):
            raise PoseError(f"column {name} must be finite, got {value!r}")
    _check_unit(values[3:])
    return [repr(v) for v in values]
