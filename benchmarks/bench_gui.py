"""Console responsiveness: CPU use while displaying a 100 frames/s stream, and frame-to-screen
latency. Prints figures (not pass/fail); goal: under 15 % of one core.

The simulated probe runs in its own process (`probe-nav sim serve --speed 5`: 50 ms frames at
5x = 100 frames/s on a pty), so the CPU time measured is the console's alone: the driver's reader
thread, the processing core, the display state and Qt painting (offscreen), sound off.
Latency: a frame's arrival at the driver (FrameEvent.host_s, right after the pty read) to the
readout repainted with it, for the newest frame of every refresh. Then the same stream with the
window hidden: the console's cost without painting (driver, processing core, display state), so
the painting's share is the difference. Repaints per second of the readout and of the window.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("PROBE_NAV_CONFIG_DIR", "/tmp/probe-nav-bench-config")
os.environ.setdefault("PROBE_NAV_DATA_DIR", "/tmp/probe-nav-bench-data")

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QWidget

from probe_nav.drivers.transport import monotonic_s
from probe_nav.gui.audio_bridge import AudioBridge
from probe_nav.gui.settings import GuiSettings
from probe_nav.gui.window import ConsoleWindow, open_session
from probe_nav.qt_app import ensure_qt_app

WARM_UP_S = 2.0
MEASURE_S = 15.0


def run_for(app, seconds: float) -> None:
    """Run the Qt event loop (as the console does) for some seconds."""
    from PySide6.QtCore import QTimer

    QTimer.singleShot(int(seconds * 1000), lambda: app.exit(0))  # quit() would close windows
    app.exec()


class PaintCounter(QObject):
    """Counts paint events of the readout panel and of the window itself (a repaint that
    reaches the window means a label's update repainted everything under it)."""

    def __init__(self, readout: QObject) -> None:
        super().__init__()
        self.readout_widget = readout
        self.reset()

    def reset(self) -> None:
        self.readout = self.window = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            if watched is self.readout_widget:
                self.readout += 1
            elif isinstance(watched, QWidget) and watched.isWindow():
                self.window += 1
        return False


def main() -> None:
    server = subprocess.Popen([sys.executable, "-m", "probe_nav", "sim", "serve", "--scenario",
                               "sln-scan", "--speed", "5"], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    app = ensure_qt_app(headless=True)
    settings = GuiSettings()
    window = ConsoleWindow(settings, persist=False, audio=AudioBridge(enabled=False))
    window.training.hide()
    window.resize(1600, 900)
    window.show()
    window.use_session(open_session(url, "probelink", settings))
    latencies_ms: list[float] = []
    original_tick = window.tick
    measuring = False

    def tick() -> None:
        original_tick()
        window.readout.rate_label.repaint()  # paint the number now, synchronously
        snap = window.last_snapshot
        if measuring and snap is not None and snap.frames and snap.last_frame_host_s:
            latencies_ms.append(1000.0 * (monotonic_s() - snap.last_frame_host_s))

    window.timer.timeout.disconnect()
    window.timer.timeout.connect(tick)
    paints = PaintCounter(window.readout)
    app.installEventFilter(paints)
    run_for(app, WARM_UP_S)
    frames0 = window.session.device.stats.frames
    measuring = True
    paints.reset()
    cpu0, wall0 = time.process_time(), time.monotonic()
    run_for(app, MEASURE_S)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    frames = window.session.device.stats.frames - frames0
    window_paints_hz, readout_paints_hz = paints.window / wall, paints.readout / wall
    # the same stream with the window hidden: what the console costs without painting
    measuring = False
    window.hide()
    run_for(app, WARM_UP_S / 2)
    cpu0, wall0 = time.process_time(), time.monotonic()
    run_for(app, MEASURE_S)
    hidden_cpu, hidden_wall = time.process_time() - cpu0, time.monotonic() - wall0
    window.shutdown()
    window.deleteLater()
    app.processEvents()
    server.terminate()
    server.wait(10)
    latencies_ms.sort()
    p99 = latencies_ms[min(len(latencies_ms) - 1, int(0.99 * len(latencies_ms)))]
    print(f"stream: {frames / wall:.0f} frames/s for {wall:.0f} s ({frames} frames)")
    print(f"console CPU: {100 * cpu / wall:.1f} % of one core (goal < 15 %); without painting "
          f"(window hidden): {100 * hidden_cpu / hidden_wall:.1f} %")
    print(f"repaints: readout {readout_paints_hz:.1f} /s (the 33 ms refresh: 30), whole window "
          f"{window_paints_hz:.1f} /s")
    print(f"frame-to-screen latency: median {statistics.median(latencies_ms):.1f} ms, "
          f"p99 {p99:.1f} ms over {len(latencies_ms)} refreshes (refresh every 33 ms)")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # PySide6 6.12 may abort while garbage-collecting pyqtgraph items at interpreter exit after
    # an event loop ran; the figures are printed, so leave without the teardown.
    os._exit(0)
