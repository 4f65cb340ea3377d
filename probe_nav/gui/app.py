"""Starting the console: interactively (training or a real device) or offscreen for a screenshot.

The Qt application always comes from probe_nav.qt_app.ensure_qt_app().
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from probe_nav.gui.settings import GuiSettings, load_settings
from probe_nav.qt_app import ensure_qt_app

if TYPE_CHECKING:
    from probe_nav.gui.stops import StopSignals
    from probe_nav.live.dual import Dual

SCREENSHOT_SIZE = (1600, 900)  # a common laptop screen; make screenshots renders others


def _settings() -> GuiSettings:
    settings, problems = load_settings()
    for problem in problems:
        print(f"probe-nav: settings: {problem}")
    return settings


def run_training(scenario: str | None = None, seed: int = 0, duration_s: float | None = None,
                 view: str = "training", stops: StopSignals | None = None,
                 slicer: tuple[str, int] | None = None, dual: Dual | None = None) -> int:
    """The console on the built-in simulator until the window closes (or duration_s); view
    "main" hides the training panel (the simulated patient keeps being scanned). `stops`: the
    caller's installed StopSignals (install them before Qt is imported: gui/stops.py)."""
    from probe_nav.gui.stops import StopSignals

    with (StopSignals() if stops is None else stops) as stops:
        from probe_nav.gui.training_sim import TrainingSim
        from probe_nav.gui.window import ConsoleWindow

        app = ensure_qt_app()
        settings = _settings()
        if scenario is not None:
            settings = settings.updated(scenario=scenario)
        window = ConsoleWindow(settings, training=TrainingSim(settings.scenario, seed=seed))
        if dual is not None:
            window.dual.enable(*dual)
        if slicer is not None:
            window.navigation.connect_slicer(*slicer)
        if view == "main":
            window.training.hide()
        return _exec(app, window, duration_s, stops)


def run_device(url: str, protocol: str, duration_s: float | None = None,
               stops: StopSignals | None = None,
               navigation: tuple[Any, str, Any, float, tuple[str, int] | None] | None = None,
               dual: Dual | None = None) -> int:
    """The console on a device (DriverError if it cannot be opened); `stops` as for
    run_training; `navigation` = (ProbeModel, nuclide, opened PoseSource, skin z mm, Slicer
    HOST:PORT or None) adds it."""
    from probe_nav.gui.stops import StopSignals

    with (StopSignals() if stops is None else stops) as stops:
        from probe_nav.gui.window import ConsoleWindow, open_session

        app = ensure_qt_app()
        settings = _settings()
        window = ConsoleWindow(settings.updated(device_url=url, protocol=protocol))
        window.training.hide()
        if dual is not None:
            window.dual.enable(*dual)
        navigator = None
        if navigation is not None:
            probe, nuclide_name, source, skin_z_mm, slicer = navigation
            navigator = window.navigation.start(probe, nuclide_name, source, 0.0, skin_z_mm)
            if slicer is not None:
                window.navigation.connect_slicer(*slicer)
        session = open_session(url, protocol, settings, navigator)
        window.use_session(session)
        return _exec(app, window, duration_s, stops)


def _exec(app, window, duration_s: float | None, stops: StopSignals) -> int:
    """Show the window and run the event loop until it closes: by the user, after duration_s,
    or on SIGINT/SIGTERM (status 130/143). The session recording is finished in every case."""
    from PySide6.QtCore import QTimer

    def stop() -> None:
        try:
            window.close()  # the same path as the user closing it: the session is finished
        finally:
            app.quit()

    window.show()
    stops.watch(stop, window)
    if duration_s is not None:
        QTimer.singleShot(int(duration_s * 1000), window.close)
    try:
        status = int(app.exec())
    finally:
        window.shutdown()
    return stops.exit_status if stops.exit_status is not None else status


def render_screenshot(path: str | Path, scenario: str = "sln-scan", after_s: float = 20.0,
                      view: str = "training", seed: int = 0, speed: float = 4.0,
                      timeout_s: float = 120.0, size: tuple[int, int] = SCREENSHOT_SIZE,
                      scale: float = 1.0, dual: Dual | None = None) -> Path:
    """Run the console offscreen on the simulator for `after_s` simulated seconds (at `speed`
    times real time) and save the window as PNG; returns the path. `size` is the screen in
    device pixels, `scale` its scaling (1.5: 150 %, the window is size/1.5 logical pixels);
    a scale must be chosen before the process's Qt application exists (QT_SCALE_FACTOR)."""
    import os

    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.training_sim import TrainingSim
    from probe_nav.gui.window import ConsoleWindow

    if scale != 1.0:
        from PySide6.QtWidgets import QApplication

        started = QApplication.instance() is not None
        if started and os.environ.get("QT_SCALE_FACTOR") != f"{scale:g}":
            raise ValueError("render_screenshot: the scale is fixed when Qt starts; render "
                             "scaled screenshots in a process of their own")
        os.environ["QT_SCALE_FACTOR"] = f"{scale:g}"
    app = ensure_qt_app(headless=True)
    import tempfile

    # screenshots depend on no user's settings or cases: the case B opens is a throwaway
    scratch = tempfile.TemporaryDirectory(prefix="probe-nav-screenshot-")
    settings = GuiSettings(scenario=scenario)  # B counts the default 10 s, as in theatre
    sim = TrainingSim(scenario, seed=seed, speed=speed)
    window = ConsoleWindow(settings, training=sim, persist=False,
                           audio=AudioBridge(enabled=False),
                           case_store_path=str(Path(scratch.name) / "cases.sqlite3"))
    if view == "main":
        window.training.hide()
    if dual is not None:
        window.dual.enable(*dual)
    window.resize(int(size[0] / scale), int(size[1] / scale))
    window.show()
    # B as a surgeon does it: the probe on normal tissue (a corner of the map, away from every
    # source), then back to the scenario's scripted scan
    area = sim.bounds(margin_mm=200.0)
    sim.hold(area.x_min_mm, area.y_min_mm)
    window.start_background()
    deadline = time.monotonic() + timeout_s
    try:
        while (window.session is not None and window.session.background is None
               and time.monotonic() < deadline):
            app.processEvents()
            time.sleep(0.01)
        sim.release()
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
        scratch.cleanup()
