"""The console's Navigate tab: the 3D scene beside the 2D guide, with New sweep (start the
reconstruction again, e.g. after the node was removed) and Next spot (guide to another spot).
It renders a probe_nav.live.navigation.NavigationSnapshot and returns the aim for the sound."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from probe_nav.gui.guide_state import CLOCK, GuideDisplay, guide_display, is_guided
from probe_nav.gui.guide_view import GuideView
from probe_nav.gui.scene3d import Scene3D


class NavigationPanel(QWidget):
    """3D scene + guide + two buttons (module docstring)."""

    new_sweep_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scene = Scene3D()
        self.guide = GuideView()
        self.new_sweep = QPushButton("New sweep")
        self.next_spot = QPushButton("Next spot (G)")
        self.selected = 0
        self.skin_z_mm = 0.0
        self.display: GuideDisplay = guide_display(None)
        buttons = QHBoxLayout()
        buttons.addWidget(self.new_sweep)
        buttons.addWidget(self.next_spot)
        right = QVBoxLayout()
        right.addWidget(self.guide, 1)
        right.addLayout(buttons)
        layout = QHBoxLayout(self)
        layout.addWidget(self.scene, 3)
        layout.addLayout(right, 2)
        self.new_sweep.clicked.connect(self._new_sweep)
        self.next_spot.clicked.connect(self.select_next)

    def select_next(self) -> None:
        """Guide to the next spot (wraps around)."""
        self.selected += 1

    def _new_sweep(self) -> None:
        self.selected = 0
        self.scene.reset()
        self.new_sweep_requested.emit()

    def show_snapshot(self, snapshot: Any | None, draw_scene: bool = True) -> GuideDisplay:
        """Render the navigation state; returns what the guide shows (its aim feeds the sound).
        `draw_scene` False skips the 3D redraw (the guide is cheap, the scene less so)."""
        display = guide_display(snapshot, self.selected, self.skin_z_mm)
        if display.selected >= 0:
            self.selected = display.selected
        self.display = display
        self.guide.show_display(display)
        if draw_scene and snapshot is not None:
            recon = snapshot.recon
            spots = tuple(s for s in recon.spots if is_guided(s)) \
                if recon is not None and display.status != CLOCK else ()
            pose = snapshot.pose if snapshot.tracking == "tracking" else None
            # with the clock's rate wrong the image was made from frames posed at wrong times
            image = recon.image if recon is not None and display.status != CLOCK else None
            self.scene.show_state(spots, display.selected, pose, image)
        return display
