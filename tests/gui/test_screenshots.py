"""Screenshots rendered offscreen: size, not blank, banner colours where expected."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage

from probe_nav.gui.display_state import Banner
from tests.conftest import run_cli
from tests.gui.conftest import WAIT_MS, shown_rate

RED = (0xD5, 0x00, 0x00)
AMBER = (0xFF, 0xAB, 0x00)


def pixels(image: QImage) -> np.ndarray:
    """H x W x 3 RGB array of an image."""
    img = image.convertToFormat(QImage.Format.Format_RGB888)
    buf = np.frombuffer(img.constBits(), dtype=np.uint8)
    stride = img.bytesPerLine()
    return buf.reshape(img.height(), stride)[:, : 3 * img.width()].reshape(
        img.height(), img.width(), 3).copy()


def share_of(rgb: np.ndarray, colour: tuple[int, int, int]) -> float:
    """Fraction of pixels within 8 levels of a colour."""
    return float(np.mean(np.all(np.abs(rgb.astype(int) - colour) <= 8, axis=2)))


def test_render_screenshot_writes_a_real_png(tmp_path):
    from probe_nav.gui.app import SCREENSHOT_SIZE, render_screenshot

    out = render_screenshot(tmp_path / "training.png", "sln-scan", after_s=3.0, speed=4.0)
    image = QImage(str(out))
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert image.width() >= SCREENSHOT_SIZE[0] and image.height() >= SCREENSHOT_SIZE[1]
    rgb = pixels(image)
    colours = np.unique(rgb.reshape(-1, 3)[::97], axis=0)
    assert len(colours) > 50  # not blank
    assert share_of(rgb, AMBER) > 0.005  # NO AUDIO DEVICE: sound is off in screenshots
    assert share_of(rgb, RED) == 0.0  # the simulator is live: no NO SIGNAL banner


def test_no_signal_banner_is_red_on_the_grabbed_window(make_sim, make_console, qtbot):
    sim = make_sim()
    window = make_console(sim)
    qtbot.waitUntil(lambda: shown_rate(window) is not None, timeout=WAIT_MS)
    live = pixels(window.grab().toImage())
    sim.stop()  # the device vanishes for good (how fast it shows: test_console.py)
    qtbot.waitUntil(lambda: Banner.NO_SIGNAL in window.banners.active(), timeout=WAIT_MS)
    lost = pixels(window.grab().toImage())
    assert share_of(live, RED) == 0.0
    assert share_of(lost, RED) > 0.005
    top = lost[: lost.shape[0] // 5]  # the banner sits at the top of the window
    assert share_of(top, RED) > 0.02


def test_demo_screenshot_command(tmp_path):
    out = tmp_path / "main.png"
    done = run_cli("demo", "--screenshot", str(out), "--after", "2", "--view", "main",
                   "--speed", "4", timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(out)
    image = QImage(str(out))
    assert image.width() >= 1200 and len(np.unique(pixels(image).reshape(-1, 3)[::97],
                                                   axis=0)) > 50
