"""Run on a real X display (tests/gui/test_scene3d_gl.py): draw the navigation panel with two
spots, an image and the probe, save the 3D scene's framebuffer and the whole panel as PNGs, and
print what it found as JSON. Usage: python -m tests.gui.scene3d_render OUT_DIR"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PySide6.QtWidgets import QApplication


def main(out_dir: str) -> None:
    app = QApplication([])
    from probe_nav.drivers.tracking.pose import PoseSample
    from probe_nav.gui import style
    from probe_nav.gui.navigation_panel import NavigationPanel
    from probe_nav.navigation.hotspots import Spot
    from probe_nav.navigation.localise import Image, sweep_grid

    app.setStyleSheet(style.STYLE_SHEET)
    grid = sweep_grid(np.array([[-30.0, -30.0, 0.0], [30.0, 30.0, 0.0]]), voxel_mm=4.0)
    centres = grid.centres_mm
    activity = 1e4 * np.exp(-np.sum((centres - [20.0, 0.0, -15.0]) ** 2, axis=1) / (2 * 6.0**2))
    image = Image(grid, activity, 20.0, 10, 0.0)
    spots = (Spot(20.0, 0.0, -15.0, 2.5, 12000.0, 1.0), Spot(-10.0, 30.0, -12.0, 4.0, 6000.0, 0.5))
    recon = SimpleNamespace(spots=spots, image=image, background_cps=20.0, n_frames=600,
                            spots_age_frames=0)
    pose = PoseSample(1.0, (0.0, -10.0, 0.0), (0.0, 0.0, -1.0))
    snap = SimpleNamespace(recon=recon, pose=pose, pose_age_s=0.02, tracking="tracking",
                           update_hz=4.0, unposed_frames=0)
    panel = NavigationPanel()
    panel.resize(1200, 700)
    panel.show()
    for _ in range(5):
        panel.show_snapshot(snap)
        app.processEvents()
    result = {"has_3d": panel.scene.has_3d}
    if panel.scene.has_3d:
        frame = panel.scene.view.grabFramebuffer()
        frame.save(str(Path(out_dir) / "scene3d.png"))
        arr = np.array([[frame.pixelColor(x, y).getRgb()[:3] for x in range(0, frame.width(), 2)]
                        for y in range(0, frame.height(), 2)], dtype=float)
        hot = np.array([int(style.HOT[i:i + 2], 16) for i in (1, 3, 5)], dtype=float)
        # orange-ish pixels: red high, blue low (the spots and the image blend with the background)
        result["hot_pixels"] = int(np.sum((arr[..., 0] > 120) & (arr[..., 2] < 80)
                                          & (arr[..., 0] > arr[..., 1])))
        result["hot_rgb"] = hot.tolist()
        result["size"] = [frame.width(), frame.height()]
    panel.grab().save(str(Path(out_dir) / "panel.png"))
    print(json.dumps(result))
    panel.close()


if __name__ == "__main__":
    main(sys.argv[1])
