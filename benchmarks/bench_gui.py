"""Console responsiveness: CPU use while displaying a 100 frames/s stream, and frame-to-screen
latency. Prints figures (not pass/fail); goal: under 15 % of one core.

The simulated probe runs in its own process (`probe-nav sim serve --speed 5`: 50 ms frames at
5x = 100 frames/s on a pty), so the CPU time measured is the console's alone: the driver's reader
thread, the processing core, the display state and Qt painting (offscreen), sound off.
Latency: a frame's arrival at the driver (FrameEvent.host_s, right after the pty read) to the
readout repainted with it, for the newest frame of every refresh.
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


def main() -> None:
    server = subprocess.Popen([sys.executable, "-m", "probe_nav", "sim", "serve", "--scenario",
                               "sln-scan", "--speed", "5"], stdout=subprocess.PIPE, text=True)
    url = server.stdout.readline().strip()
    app = ensure_qt_app(headless=True)
    settings = GuiSettings()
    window = ConsoleWindow(settings, persist=False, audio=AudioBridge(enabled=False))
    window.training.hide()
    window.resize(1600, 1000)
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
    run_for(app, WARM_UP_S)
    frames0 = window.session.device.stats.frames
    measuring = True
    cpu0, wall0 = time.process_time(), time.monotonic()
    run_for(app, MEASURE_S)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    frames = window.session.device.stats.frames - frames0
    window.shutdown()
    window.deleteLater()
    app.processEvents()
    server.terminate()
    server.wait(10)
    latencies_ms.sort()
    p99 = latencies_ms[min(len(latencies_ms) - 1, int(0.99 * len(latencies_ms)))]
    print(f"stream: {frames / wall:.0f} frames/s for {wall:.0f} s ({frames} frames)")
    print(f"console CPU: {100 * cpu / wall:.1f} % of one core (goal < 15 %)")
    print(f"frame-to-screen latency: median {statistics.median(latencies_ms):.1f} ms, "
          f"p99 {p99:.1f} ms over {len(latencies_ms)} refreshes (refresh every 33 ms)")


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    # PySide6 6.12 may abort while garbage-collecting pyqtgraph items at interpreter exit after
    # an event loop ran; the figures are printed, so leave without the teardown.
    os._exit(0)
