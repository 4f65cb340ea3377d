"""The Navigate tab: the guide shows numbers only with a live pose, says why not otherwise, picks
the chosen spot, and the panel renders real widgets (offscreen: the 3D scene says it has no
OpenGL; tests/gui/test_scene3d_gl.py draws it on a real X display)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from PySide6.QtGui import QColor

from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.gui import style
from probe_nav.gui.guide_state import (
    CLOCK,
    GUIDING,
    LOST,
    NO_POSE,
    NO_SPOT,
    OFF,
    guide_display,
)
from probe_nav.navigation.hotspots import Spot

DOWN = (0.0, 0.0, -1.0)
SPOTS = (Spot(20.0, 0.0, -15.0, 2.5, 12000.0, 1.0), Spot(-10.0, 30.0, -12.0, 4.0, 6000.0, 0.5))


def snapshot(tracking: str = "tracking", spots=SPOTS, pose=None) -> SimpleNamespace:
    pose = pose if pose is not None else PoseSample(1.0, (0.0, 0.0, 0.0), DOWN)
    recon = SimpleNamespace(spots=spots, image=None, background_cps=20.0, n_frames=300,
                            spots_age_frames=0)
    return SimpleNamespace(recon=recon, pose=None if tracking == "no pose" else pose,
                           pose_age_s=0.05, tracking=tracking, update_hz=4.0, unposed_frames=0)


def test_guiding_gives_the_geometry_to_the_chosen_spot() -> None:
    d = guide_display(snapshot(), selected=0)
    assert d.status == GUIDING
    assert d.guidance is not None
    assert d.guidance.dx_mm == pytest.approx(20.0) and d.guidance.depth_mm == pytest.approx(15.0)
    assert 0 < d.aim < 1  # 53 deg off axis: some pips, not on target
    second = guide_display(snapshot(), selected=1)
    assert second.guidance.dy_mm == pytest.approx(30.0)
    assert second.spot_label.startswith("spot 2 of 2")
    assert guide_display(snapshot(), selected=2).selected == 0  # wraps


@pytest.mark.parametrize("tracking,status", [("no pose", NO_POSE), ("lost", LOST)])
def test_no_numbers_without_a_live_pose(tracking: str, status: str) -> None:
    d = guide_display(snapshot(tracking), selected=0)
    assert d.status == status
    assert d.guidance is None and d.aim is None
    assert d.spot_label  # the spots stay listed: they are not stale, the pose is


def test_a_clock_at_the_wrong_rate_shows_no_numbers_and_no_spots(qtbot) -> None:
    from probe_nav.gui.navigation_panel import NavigationPanel

    snap = snapshot()
    snap.clock_rate, snap.assumed_clock_rate = 4.0, 1.0
    d = guide_display(snap)
    assert d.status == CLOCK and d.guidance is None and d.aim is None and d.selected == -1
    assert "4x" in d.detail and "1x" in d.detail and not d.spot_label
    panel = NavigationPanel()
    qtbot.addWidget(panel)
    shown = []
    snap.recon.image = object()  # made from frames posed at the wrong times
    panel.scene.show_state = lambda spots, selected, pose, image: shown.append((spots, image))
    panel.show_snapshot(snap)
    assert shown == [((), None)]  # neither the spots nor the image are drawn
    assert band_colour(panel) == QColor(style.ALARM)
    snap.clock_rate = None  # agrees again
    assert panel.show_snapshot(snap).status == GUIDING and shown[-1] == (SPOTS, snap.recon.image)


def test_a_spot_the_sweep_did_not_go_around_is_not_guided_to() -> None:
    import dataclasses

    beside = dataclasses.replace(SPOTS[0], swept_around=False)
    d = guide_display(snapshot(spots=(beside,)))
    assert d.status == NO_SPOT and d.guidance is None and d.aim is None
    assert d.spot_label == "sweep across and around it" and "1 beside the sweep" in d.detail
    d = guide_display(snapshot(spots=(beside, SPOTS[1])))  # the other one is guided to
    assert d.status == GUIDING and d.spot_label.startswith("spot 1 of 1")
    assert d.guidance.dy_mm == pytest.approx(30.0)


def test_no_spot_and_no_navigation() -> None:
    d = guide_display(snapshot(spots=()))
    assert d.status == NO_SPOT and d.guidance is None and d.aim is None
    assert guide_display(None).status == OFF


def test_on_target_gives_full_aim() -> None:
    pose = PoseSample(1.0, (20.0, 0.0, 0.0), DOWN)
    d = guide_display(snapshot(pose=pose))
    assert d.guidance.on_target and d.aim == 1.0


def band_colour(panel) -> QColor:
    image = panel.guide.grab().toImage()
    return image.pixelColor(4, 4)


def test_panel_renders_status_colours_and_cycles_spots(qtbot) -> None:
    from probe_nav.gui.navigation_panel import NavigationPanel

    panel = NavigationPanel()
    qtbot.addWidget(panel)
    panel.resize(1000, 600)
    panel.show()
    assert not panel.scene.has_3d  # offscreen: the label instead of the scene
    d = panel.show_snapshot(snapshot())
    assert d.status == GUIDING
    assert band_colour(panel) == QColor(style.NOT_HOT)
    panel.next_spot.click()
    assert panel.show_snapshot(snapshot()).selected == 1
    panel.show_snapshot(snapshot("lost"))
    assert band_colour(panel) == QColor(style.ALARM)
    fired = []
    panel.new_sweep_requested.connect(lambda: fired.append(True))
    panel.new_sweep.click()
    assert fired == [True] and panel.selected == 0


def test_an_uncertain_spot_is_not_guided_to() -> None:
    """The fit's best point early in a sweep may be hundreds of mm uncertain: no arrow to it."""
    vague = (Spot(0.0, 0.0, -13.0, 347.0, 100.0, 1.0),)
    d = guide_display(snapshot(spots=vague))
    assert d.status == NO_SPOT and d.guidance is None and d.aim is None
    assert "1 uncertain" in d.detail
    mixed = guide_display(snapshot(spots=(*vague, SPOTS[1])))
    assert mixed.status == GUIDING and mixed.guidance.dy_mm == pytest.approx(30.0)
