"""The one Qt application object of a process, created on demand.

Every part that needs Qt (GUI, audio output, PDF reports) gets its application here, so a process
never ends up with a QGuiApplication where widgets later need a QApplication. Commands that only
render offscreen (PDF reports, screenshots) ask for `headless=True`, which selects Qt's offscreen
platform when no display is available.
"""

from __future__ import annotations

import os
import sys


def display_available() -> bool:
    """True when a window system is reachable (X11 or Wayland), or on macOS and Windows."""
    if sys.platform in ("darwin", "win32"):
        return True
    if os.environ.get("QT_QPA_PLATFORM", "").startswith("offscreen"):
        return False
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def ensure_qt_app(*, headless: bool = False):  # -> QApplication (PySide6 imported lazily)
    """Return the process's QApplication, creating it if needed.

    headless: when no display is available, use the offscreen platform (for rendering to files).
    """
    if headless and not display_available() and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication([sys.argv[0] if sys.argv else "probe-nav"])
        app.setApplicationName("probe-nav")
        app.setOrganizationName("probe-nav")
    return app
