"""Starting the console: interactively (training or a real device) or offscreen for a screenshot.

The Qt application always comes from probe_nav.qt_app.ensure_qt_app().
"""

from __future__ import annotations

import time
from pathlib import Path

from probe_nav.gui.settings import GuiSettings, load_settings
from probe_nav.qt_app import ensure_qt_app

SCREENSHOT_SIZE = (1600, 1000)


def _settings() -> GuiSettings:
    settings, problems = load_settings()
    for problem in problems:
        print(f"probe-nav: settings: {problem}")
    return settings


def run_training(scenario: str | None = None, seed: int = 0, duration_s: float | None = None,
                 ) -> int:
    """The console on the built-in simulator until the window closes (or duration_s)."""
    from probe_nav.gui.training_sim import TrainingSim
    from probe_nav.gui.window import ConsoleWindow

    app = ensure_qt_app()
    settings = _settings()
    if scenario is not None:
        settings = settings.updated(scenario=scenario)
    window = ConsoleWindow(settings, training=TrainingSim(settings.scenario, seed=seed))
    return _exec(app, window, duration_s)


def run_device(url: str, protocol: str, duration_s: float | None = None) -> int:
    """The console on a device (DriverError if it cannot be opened)."""
    from probe_nav.gui.window import ConsoleWindow, open_session

    app = ensure_qt_app()
    settings = _settings()
    session = open_session(url, protocol, settings)
    window = ConsoleWindow(settings.updated(device_url=url, protocol=protocol))
    window.training.hide()
    window.use_session(session)
    return _exec(app, window, duration_s)


def _exec(app, window, duration_s: float | None) -> int:
    from PySide6.QtCore import QTimer

    window.show()
    if duration_s is not None:
        QTimer.singleShot(int(duration_s * 1000), window.close)
    try:
        return int(app.exec())
    finally:
        window.shutdown()


def render_screenshot(path: str | Path, scenario: str = "sln-scan", after_s: float = 20.0,
                      view: str = "training", seed: int = 0, speed: float = 4.0,
                      timeout_s: float = 120.0) -> Path:
    """Run the console offscreen on the simulator for `after_s` simulated seconds (at `speed`
    times real time) and save the window as PNG; returns the path."""
    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.training_sim import TrainingSim
    from probe_nav.gui.window import ConsoleWindow

    app = ensure_qt_app(headless=True)
    # screenshots do not depend on a user's settings; the scripted scans start over background
    settings = GuiSettings(scenario=scenario, background_s=2.0)
    sim = TrainingSim(scenario, seed=seed, speed=speed)
    window = ConsoleWindow(settings, training=sim, persist=False,
                           audio=AudioBridge(enabled=False))
    if view == "main":
        window.training.hide()
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    deadline = time.monotonic() + timeout_s
    try:
        while sim.device_t_s < after_s and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        window.tick()
        app.processEvents()
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        from probe_nav.files import open_private

        open_private(out, "w").close()  # mode 0600 (Qt truncates it and keeps the mode)
        if not window.grab().save(str(out), "PNG"):
            raise OSError(f"cannot write {out}")
        return out
    finally:
        window.shutdown()
        window.deleteLater()
        app.processEvents()
