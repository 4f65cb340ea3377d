"""The navigation view's 3D scene (pyqtgraph.opengl): the skin plane, the reconstructed activity
(voxels above IMAGE_SHARE of the hottest), the hot spots as spheres of their 1-sd radius (the
chosen one in the hot colour), the probe as a rod from its tip along its axis, and the recent
path of the tip. Without OpenGL (a remote desktop, the offscreen platform) it says so in a label
and the 2D guide carries the navigation alone."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
from PySide6.QtGui import QGuiApplication, QOpenGLContext
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from probe_nav.gui import style

log = logging.getLogger(__name__)
IMAGE_SHARE = 0.3  # voxels at or above this share of the hottest are drawn
PROBE_ROD_MM = 80.0  # the probe drawn from its tip back along its axis this far
MIN_SPOT_MM = 6.0
TRAIL_POINTS = 600  # tip positions kept for the path (about 20 s at 30 Hz refresh)
NO_GL_PLATFORMS = ("offscreen", "minimal", "vnc")


def opengl_available() -> bool:
    """True when this display can give the 3D scene an OpenGL context."""
    if QGuiApplication.platformName() in NO_GL_PLATFORMS:
        return False
    try:
        import OpenGL  # noqa: F401  (pyqtgraph.opengl needs PyOpenGL)
    except ImportError:
        return False
    context = QOpenGLContext()
    return bool(context.create())


def _rgba(colour: str, alpha: float = 1.0) -> tuple[float, float, float, float]:
    c = colour.lstrip("#")
    return (int(c[0:2], 16) / 255, int(c[2:4], 16) / 255, int(c[4:6], 16) / 255, alpha)


class Scene3D(QWidget):
    """The 3D scene, or a label saying why there is none (module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.view: Any = None
        self._trail: list[np.ndarray] = []
        self._centred = False
        if not opengl_available():
            label = QLabel("3D view unavailable: this display has no OpenGL.\n"
                           "The guide beside it works without it.")
            label.setStyleSheet(f"color: {style.MUTED_TEXT};")
            layout.addWidget(label)
            log.info("3D navigation scene disabled: no OpenGL on platform %s",
                     QGuiApplication.platformName())
            return
        import pyqtgraph.opengl as gl

        self.view = gl.GLViewWidget()
        self.view.setBackgroundColor(style.BACKGROUND)
        self.view.setCameraPosition(distance=220, elevation=28, azimuth=-70)
        grid = gl.GLGridItem()
        grid.setSize(240, 240)
        grid.setSpacing(10, 10)
        self.view.addItem(grid)
        self._image = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), pxMode=False)
        self._spots = gl.GLScatterPlotItem(pos=np.zeros((0, 3)), pxMode=False)
        self._probe = gl.GLLinePlotItem(pos=np.zeros((2, 3)), width=5,
                                        color=_rgba(style.ACCENT), antialias=True)
        self._path = gl.GLLinePlotItem(pos=np.zeros((2, 3)), width=1,
                                       color=_rgba(style.GREY_TEXT, 0.6))
        self._image.setGLOptions("translucent")
        self._spots.setGLOptions("translucent")
        for item in (self._image, self._path, self._spots, self._probe):
            self.view.addItem(item)
        layout.addWidget(self.view)

    @property
    def has_3d(self) -> bool:
        """True when the OpenGL scene is shown."""
        return self.view is not None

    def show_state(self, spots: tuple[Any, ...], selected: int, pose: Any | None,
                   image: Any | None) -> None:
        """Draw spots (probe_nav.navigation.hotspots.Spot), the probe pose (PoseSample or None:
        no rod) and the image (probe_nav.navigation.localise.Image or None)."""
        if self.view is None:
            return
        if spots:
            pos = np.array([[s.x_mm, s.y_mm, s.z_mm] for s in spots])
            # a sphere of the 1-sd radius, at least MIN_SPOT_MM across to be seen at all
            size = np.array([max(2.0 * min(s.sd_mm, 30.0), MIN_SPOT_MM) for s in spots])
            colours = np.array([_rgba(style.HOT, 0.95) if i == selected
                                else _rgba(style.WARNING, 0.7) for i in range(len(spots))])
            self._spots.setData(pos=pos, size=size, color=colours)
            if not self._centred:
                self.view.opts["center"] = type(self.view.opts["center"])(*pos[0])
                self._centred = True
        else:
            self._spots.setData(pos=np.zeros((0, 3)))
        if pose is not None:
            tip = np.asarray(pose.position_mm, float)
            back = tip - PROBE_ROD_MM * np.asarray(pose.axis, float)
            self._probe.setData(pos=np.array([tip, back]))
            self._probe.setVisible(True)
            self._trail.append(tip)
            del self._trail[:-TRAIL_POINTS]
            if len(self._trail) >= 2:
                self._path.setData(pos=np.array(self._trail))
        else:
            self._probe.setVisible(False)  # no pose: no probe drawn where it was
        self._show_image(image)

    def _show_image(self, image: Any | None) -> None:
        if image is None or not np.any(image.activity_bq > 0):
            self._image.setData(pos=np.zeros((0, 3)))
            return
        activity = np.asarray(image.activity_bq, float)
        keep = activity >= IMAGE_SHARE * activity.max()
        centres = image.grid.centres_mm[keep]
        share = activity[keep] / activity.max()
        colours = np.zeros((len(share), 4))
        colours[:] = _rgba(style.HOT)
        colours[:, 3] = 0.15 + 0.45 * share
        voxel = float(abs(image.grid.x_mm[1] - image.grid.x_mm[0])) if len(image.grid.x_mm) > 1 \
            else 3.0
        self._image.setData(pos=centres, size=voxel, color=colours)

    def reset(self) -> None:
        """A new sweep: forget the path and recentre on the next spots."""
        self._trail.clear()
        self._centred = False
