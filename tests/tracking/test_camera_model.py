"""Camera intrinsics from TOML (probe_nav.drivers.tracking.camera_model): a good file loads and
round-trips; every kind of bad file is one line naming what is wrong."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from probe_nav.drivers.tracking.camera_model import CameraModel, CameraModelError

GOOD = """[camera]
fx = 1000.5
fy = 998.0
cx = 640.0
cy = 360.0
dist = [-0.1, 0.02, 0.001, -0.001, 0.0]
width = 1280
height = 720
"""


def test_a_good_file_loads_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "cam.toml"
    path.write_text(GOOD)
    cam = CameraModel.load(path)
    assert (cam.fx, cam.fy, cam.cx, cam.cy) == (1000.5, 998.0, 640.0, 360.0)
    assert cam.dist == (-0.1, 0.02, 0.001, -0.001, 0.0) and (cam.width, cam.height) == (1280, 720)
    np.testing.assert_array_equal(cam.matrix, [[1000.5, 0, 640], [0, 998, 360], [0, 0, 1]])
    path.write_text(cam.to_toml())
    assert CameraModel.load(path) == cam
    # integers are numbers too, and dist may be left out
    path.write_text("[camera]\nfx = 800\nfy = 800\ncx = 320\ncy = 240\n")
    plain = CameraModel.load(path)
    assert plain.dist == () and np.all(plain.dist_coeffs == 0)


@pytest.mark.parametrize(("text", "says"), [
    ("[camera]\nfx = 800\nfy = 800\ncx = 320\n", "missing cy"),
    ("[camera]\nfx = -800\nfy = 800\ncx = 320\ncy = 240\n", "fx must be a positive"),
    ("[camera]\nfx = 800\nfy = 0\ncx = 320\ncy = 240\n", "fy must be a positive"),
    ("[camera]\nfx = 'a'\nfy = 800\ncx = 320\ncy = 240\n", "is not a number"),
    ("[camera]\nfx = true\nfy = 800\ncx = 320\ncy = 240\n", "is not a number"),
    ("[camera]\nfx = 800\nfy = 800\ncx = nan\ncy = 240\n", "cx must be a number"),
    ("[camera]\nfx = 800\nfy = 800\ncx = 320\ncy = 240\ndist = [0.1, 0.2, 0.3]\n",
     "dist must hold 4, 5, 8, 12, 14"),
    ("[camera]\nfx = 800\nfy = 800\ncx = 320\ncy = 240\ndist = [0.1, inf, 0, 0]\n",
     "finite"),
    ("[camera]\nfx = 800\nfy = 800\ncx = 320\ncy = 240\ndist = 0.1\n", "dist must be a list"),
    ("[camera]\nfx = 800\nfy = 800\ncx = 320\ncy = 240\nwidth = 12.5\n", "whole number"),
    ("[camera]\nfx = 800\nfy = 800\ncx = 320\ncy = 240\nk1 = 0.1\n", "unknown key 'k1'"),
    ("[lens]\nfx = 800\n", "no [camera] table"),
    ("[camera\nfx = 800\n", "not valid TOML"),
])
def test_a_bad_file_is_one_line_naming_the_fault(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "cam.toml"
    path.write_text(text)
    with pytest.raises(CameraModelError) as info:
        CameraModel.load(path)
    message = str(info.value)
    assert says in message and "\n" not in message and str(path) in message


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(CameraModelError, match="cannot read"):
        CameraModel.load(tmp_path / "none.toml")


def test_from_fov() -> None:
    cam = CameraModel.from_fov(1280, 720, 90.0)
    assert cam.fx == pytest.approx(640.0) and (cam.cx, cam.cy) == (639.5, 359.5)
    with pytest.raises(CameraModelError):
        CameraModel.from_fov(1280, 720, 180.0)
