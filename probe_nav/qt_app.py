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


NO_SCREEN_PLATFORMS = ("offscreen", "minimal", "minimalegl")  # Qt platforms that draw no window
PROBE_TIMEOUT_S = 30.0  # a bound on a hang, not a speed requirement (~0.5 s normally)
_PROBE = "from PySide6.QtWidgets import QApplication; QApplication(['probe-nav'])"


def requested_platform() -> str:
    """The Qt platform the environment asks for (QT_QPA_PLATFORM without its options), or ''."""
    value = os.environ.get("QT_QPA_PLATFORM", "").strip()
    return value.split(";")[0].split(":")[0].strip().lower()


def display_problem(timeout_s: float = PROBE_TIMEOUT_S, *, headless_ok: bool = False,
                    ) -> str | None:
    """Why Qt cannot open a window here (one line), or None when it can (headless_ok: a platform
    that draws no window, e.g. QT_QPA_PLATFORM=offscreen, counts as one that can).

    Checked before this process creates its QApplication, because Qt aborts the process (exit
    134) when its platform plugin fails: the plain cases from the environment, the rest (no X
    server, missing xcb libraries, a broken plugin) by starting Qt in a subprocess (~0.5 s).
    """
    if sys.platform in ("darwin", "win32"):
        return None
    platform = requested_platform()
    if platform in NO_SCREEN_PLATFORMS:
        return None if headless_ok else f"QT_QPA_PLATFORM={platform} shows no window"
    has_x, has_wayland = bool(os.environ.get("DISPLAY")), bool(os.environ.get("WAYLAND_DISPLAY"))
    if platform == "xcb" and not has_x:
        return "QT_QPA_PLATFORM=xcb but DISPLAY is not set"
    if platform.startswith("wayland") and not has_wayland:
        return f"QT_QPA_PLATFORM={platform} but WAYLAND_DISPLAY is not set"
    if not platform and not (has_x or has_wayland):
        return "neither DISPLAY nor WAYLAND_DISPLAY is set"
    return _probe_qt(timeout_s)


def _probe_qt(timeout_s: float) -> str | None:
    """Start a QApplication in a subprocess: None if it starts, else Qt's first complaint."""
    import subprocess

    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                              timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired:
        return f"Qt did not start within {timeout_s:g} s"
    except OSError as exc:
        return f"cannot start Qt to check the display ({exc})"
    if done.returncode == 0:
        return None
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    qpa = [line for line in lines if line.startswith("qt.qpa")]
    why = (qpa or lines or [f"exit status {done.returncode}"])[0]
    if why.startswith("qt.qpa") and ": " in why:
        why = why.split(": ", 1)[1]
    return f"Qt cannot start: {why}"
