"""A camera's intrinsics (pinhole plus OpenCV's lens distortion), read from a TOML file.

```
[camera]
fx = 1000.0        # focal length in pixels (x, y)
fy = 1000.0
cx = 640.0         # principal point, pixels (image origin at the top left pixel's centre)
cy = 360.0
dist = [0.0, 0.0, 0.0, 0.0, 0.0]   # k1, k2, p1, p2[, k3[, k4, k5, k6 ...]] (OpenCV's order)
width = 1280       # optional: the image size the calibration was made at
height = 720
```

The numbers come from a camera calibration (OpenCV's calibrateCamera with a chessboard or a
ChArUco board); a pose measured with the wrong intrinsics is wrong in scale and angle, so the file
is checked as a whole and a bad one refused with one line naming the key.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DIST_LENGTHS = (0, 4, 5, 8, 12, 14)  # the distortion vectors OpenCV accepts


class CameraModelError(ValueError):
    """Intrinsics that cannot be used (one line, for the user)."""


@dataclass(frozen=True)
class CameraModel:
    """Pinhole intrinsics in pixels and OpenCV distortion coefficients."""

    fx: float
    fy: float
    cx: float
    cy: float
    dist: tuple[float, ...] = field(default=())
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        for name in ("fx", "fy"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 < value < 1e6):
                raise CameraModelError(f"{name} must be a positive number of pixels, got {value!r}")
        for name in ("cx", "cy"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value)):
                raise CameraModelError(f"{name} must be a number of pixels, got {value!r}")
        if len(self.dist) not in DIST_LENGTHS:
            raise CameraModelError(f"dist must hold {', '.join(map(str, DIST_LENGTHS[1:]))} "
                                   f"coefficients (or none), got {len(self.dist)}")
        if not all(math.isfinite(v) for v in self.dist):
            raise CameraModelError("dist must hold finite numbers")
        for name in ("width", "height"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and 0 < value <= 100_000):
                raise CameraModelError(f"{name} must be a positive whole number of pixels, "
                                       f"got {value!r}")

    @property
    def matrix(self) -> np.ndarray:
        """The 3x3 camera matrix K."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def dist_coeffs(self) -> np.ndarray:
        """Distortion coefficients as OpenCV takes them (zeros when there are none)."""
        return np.asarray(self.dist if self.dist else (0.0, 0.0, 0.0, 0.0), dtype=float)

    @classmethod
    def from_fov(cls, width: int, height: int, hfov_deg: float) -> CameraModel:
        """An ideal pinhole camera (square pixels, centred, no distortion) of a field of view."""
        if not (0 < hfov_deg < 180):
            raise CameraModelError(f"a field of view must be 0-180 degrees, got {hfov_deg}")
        f = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
        return cls(f, f, (width - 1) / 2, (height - 1) / 2, (), width, height)

    @classmethod
    def from_mapping(cls, table: dict[str, object], where: str = "[camera]") -> CameraModel:
        """From a parsed `[camera]` table; CameraModelError naming `where` and the key."""
        known = {"fx", "fy", "cx", "cy", "dist", "width", "height"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise CameraModelError(f"{where}: unknown key {unknown[0]!r} "
                                   f"(known: {', '.join(sorted(known))})")
        missing = [k for k in ("fx", "fy", "cx", "cy") if k not in table]
        if missing:
            raise CameraModelError(f"{where}: missing {', '.join(missing)}")
        dist = table.get("dist", [])
        if not isinstance(dist, list):
            raise CameraModelError(f"{where}: dist must be a list of numbers")
        try:
            return cls(_number(table["fx"]), _number(table["fy"]), _number(table["cx"]),
                       _number(table["cy"]), tuple(_number(v) for v in dist),
                       _whole(table.get("width")), _whole(table.get("height")))
        except CameraModelError as exc:
            raise CameraModelError(f"{where}: {exc}") from None

    @classmethod
    def load(cls, path: str | Path) -> CameraModel:
        """Read a TOML file's `[camera]` table; CameraModelError (one line) if it is unusable."""
        try:
            with Path(path).open("rb") as handle:
                data = tomllib.load(handle)
        except OSError as exc:
            raise CameraModelError(f"cannot read {path}: {exc.strerror or exc}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CameraModelError(f"{path}: not valid TOML ({exc})") from None
        table = data.get("camera")
        if not isinstance(table, dict):
            raise CameraModelError(f"{path}: no [camera] table (fx, fy, cx, cy, dist)")
        return cls.from_mapping(table, f"{path} [camera]")

    def to_toml(self) -> str:
        """The `[camera]` table as TOML text (load reads it back)."""
        lines = ["[camera]", f"fx = {self.fx!r}", f"fy = {self.fy!r}", f"cx = {self.cx!r}",
                 f"cy = {self.cy!r}", f"dist = [{', '.join(repr(float(v)) for v in self.dist)}]"]
        if self.width is not None and self.height is not None:
            lines += [f"width = {self.width}", f"height = {self.height}"]
        return "\n".join(lines) + "\n"


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CameraModelError(f"{value!r} is not a number")
    return float(value)


def _whole(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise CameraModelError(f"{value!r} is not a whole number of pixels")
    return value
