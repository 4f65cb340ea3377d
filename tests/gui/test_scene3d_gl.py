"""The navigation view's 3D scene on a real X display with OpenGL (Xvfb, Mesa's software
renderer): it is created, and the spots and the image are drawn in the hot colour."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import ROOT
from tests.xdisplay import x_display  # noqa: F401 (a fixture used here)


def test_scene_draws_spots_on_a_real_display(tmp_path, x_display: str) -> None:  # noqa: F811
    env = {**os.environ, "DISPLAY": x_display, "QT_QPA_PLATFORM": "xcb",
           "LIBGL_ALWAYS_SOFTWARE": "1"}
    proc = subprocess.run([sys.executable, "-m", "tests.gui.scene3d_render", str(tmp_path)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["has_3d"], proc.stderr[-2000:]
    # two spheres of 5 and 8 mm diameter and ~30 voxels at 320 mm: hundreds of pixels (sampled
    # every 2nd pixel each way); an empty scene has none of the hot colour
    assert result["hot_pixels"] > 50, result
    assert (tmp_path / "scene3d.png").stat().st_size > 1000
