"""Clean stops and fallbacks of the console, in-process (issue 15, item 4): the signal bridge that
never raises inside Qt, the audio callback that never raises, NOT RECORDING on an unwritable data
folder, `demo --view main` on the console, and the display check made before Qt can abort.

(The real-process runs: tests/e2e/test_console_stops.py.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from probe_nav.gui.display_state import Banner
from probe_nav.gui.settings import GuiSettings
from probe_nav.gui.stops import WAKE_MS, StopSignals, exit_status_for
from probe_nav.qt_app import display_problem
from tests.gui.conftest import WAIT_MS
from tests.in_process import run_main

# ------------------------------------------------------------ the signal bridge


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_is_only_noted_then_acted_on_once_in_the_event_loop(qtbot, sig, status):
    before = signal.getsignal(sig)
    calls: list[int] = []
    with StopSignals() as stops:
        stops.watch(lambda: calls.append(1))
        signal.raise_signal(sig)  # no KeyboardInterrupt: the handler only notes it
        signal.raise_signal(signal.SIGINT)  # a second signal changes nothing
        assert stops.received == sig and stops.exit_status == status
        qtbot.waitUntil(lambda: bool(calls), timeout=WAIT_MS)
        qtbot.wait(3 * WAKE_MS)  # a few more wake-ups: still called once
        assert calls == [1]
    assert signal.getsignal(sig) == before
    assert exit_status_for(signal.SIGINT) == 130


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_the_console_takes_the_signals_before_qt_is_touched(monkeypatch, sig, status):
    """`demo` installs the noting handlers before the display check (and before any Qt import:
    a KeyboardInterrupt inside PySide6's import aborts the process); a signal there ends the
    command with its status, and no terminal monitor is started."""
    import probe_nav.qt_app

    def checking(**_kwargs) -> str:
        assert signal.getsignal(sig).__qualname__ == "StopSignals._note"
        signal.raise_signal(sig)  # noted, not raised
        return "no display here"

    monkeypatch.setattr(probe_nav.qt_app, "display_problem", checking)
    done = run_main("demo", "--duration", "60")
    assert done.returncode == status, done.stderr
    assert done.stdout == "" and "Traceback" not in done.stderr


def test_the_audio_callback_never_raises_into_qt(monkeypatch, caplog):
    qt_output = pytest.importorskip("probe_nav.audio.qt_output")
    if qt_output.MULTIMEDIA_ERROR is not None:
        pytest.skip(f"QtMultimedia cannot be loaded: {qt_output.MULTIMEDIA_ERROR}")
    from probe_nav.audio.feedback import AudioFeedback

    stream = qt_output.FeedbackStream(AudioFeedback(), channels=2)
    assert len(stream.readData(400)) == 400  # 100 stereo 16-bit frames, rendered

    def broken(n: int):
        raise ValueError("broken renderer")

    monkeypatch.setattr(stream.feedback, "render", broken)
    assert stream.readData(401) == bytes(400)  # silence, whole frames only
    assert "broken renderer" in caplog.text

    quits: list[int] = []

    class App:
        @staticmethod
        def quit() -> None:
            quits.append(1)

    def interrupted(n: int):
        raise KeyboardInterrupt

    monkeypatch.setattr(qt_output, "QCoreApplication", App)
    monkeypatch.setattr(stream.feedback, "render", interrupted)
    assert stream.readData(400) == bytes(400)  # Ctrl-C landing here ends the loop instead
    assert quits == [1]


# ------------------------------------------------------------ NOT RECORDING


def test_an_unwritable_data_folder_shows_not_recording(make_sim, make_console, qtbot, tmp_path,
                                                       monkeypatch, caplog):
    blocker = tmp_path / "not-a-folder"  # a regular file: nothing is created below it, even
    blocker.write_text("")  # by root, whom file modes do not stop
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(blocker / "data"))
    window = make_console(make_sim())
    assert window.session.recorder is None
    qtbot.waitUntil(lambda: window.last_display is not None and window.last_display.live,
                    timeout=WAIT_MS)
    assert Banner.NOT_RECORDING in window.banners.active()
    assert window.banners.labels[Banner.NOT_RECORDING].isVisible()
    lines = [r for r in caplog.records if "session not recorded" in r.getMessage()]
    assert len(lines) == 1 and "cannot record a session there" in lines[0].getMessage()


def test_a_writable_data_folder_records_and_shows_no_such_banner(make_sim, make_console, qtbot):
    window = make_console(make_sim())
    assert window.session.recorder is not None
    qtbot.waitUntil(lambda: window.last_display is not None and window.last_display.live,
                    timeout=WAIT_MS)
    assert Banner.NOT_RECORDING not in window.banners.active()


def test_an_unwritable_settings_folder_is_one_log_line(make_sim, qtbot, tmp_path, monkeypatch,
                                                       caplog):
    """Settings the console cannot save do not stop what the user asked for (switching scenario
    saves the choice before starting the new simulated patient)."""
    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.window import ConsoleWindow

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("PROBE_NAV_CONFIG_DIR", str(blocker / "config"))
    window = ConsoleWindow(GuiSettings(background_s=1.0), training=make_sim(), persist=True,
                           audio=AudioBridge(enabled=False),
                           case_store_path=str(tmp_path / "cases.sqlite3"))
    qtbot.addWidget(window)
    try:
        window.set_meter("1")
        window.switch_scenario("sln-static")
        assert window.training_sim is not None and window.session is not None
        assert window.settings.meter == "1"
    finally:
        window.shutdown()
    lines = [r for r in caplog.records if "settings not saved" in r.getMessage()]
    assert len(lines) == 1


# ------------------------------------------------------------ demo --view


@pytest.mark.parametrize(("view", "training_shown"), [("main", False), ("training", True)])
def test_demo_view_applies_to_the_console(qapp, view, training_shown):
    """`demo --console --view V` through the command line, in this process: once the readout
    shows live numbers from the simulator, note what is shown and close the window."""
    from probe_nav.gui.window import ConsoleWindow

    seen: dict[str, object] = {}

    def look() -> None:
        windows = [w for w in QApplication.topLevelWidgets()
                   if isinstance(w, ConsoleWindow) and w.isVisible()]
        if not windows:
            return
        window = windows[0]
        snap = window.last_snapshot
        if snap is None or window.last_display is None or not window.last_display.live:
            return
        if "t0_s" not in seen:
            seen["t0_s"] = window.training_sim.device_t_s
            return
        if window.training_sim.device_t_s < seen["t0_s"] + 1.0:  # the simulator runs on
            return
        seen["training_visible"] = window.training.isVisible()
        seen["rate_text"] = window.readout.rate_label.text()
        window.close()

    poll = QTimer()
    poll.timeout.connect(look)
    poll.start(50)
    bound = QTimer()  # a bound on a hang: closes whatever is open
    bound.setSingleShot(True)
    bound.timeout.connect(QApplication.closeAllWindows)
    bound.start(WAIT_MS)
    try:
        done = run_main("demo", "--console", "--scenario", "sln-static", "--view", view)
    finally:
        poll.stop()
        bound.stop()
    assert done.returncode == 0, done.stderr
    assert "training_visible" in seen, f"the console never showed live numbers: {done.stderr}"
    assert seen["training_visible"] is training_shown
    assert seen["rate_text"] not in ("", "—")


# ------------------------------------------------------------ the display check


def no_display(monkeypatch) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(("env", "why"), [
    ({"QT_QPA_PLATFORM": "offscreen"}, "QT_QPA_PLATFORM=offscreen shows no window"),
    ({"QT_QPA_PLATFORM": "minimal:fontengine=freetype"}, "QT_QPA_PLATFORM=minimal shows no"),
    ({}, "neither DISPLAY nor WAYLAND_DISPLAY is set"),
    ({"QT_QPA_PLATFORM": "xcb"}, "QT_QPA_PLATFORM=xcb but DISPLAY is not set"),
    ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, "but WAYLAND_DISPLAY is not set"),
])
def test_display_problems_told_by_the_environment(monkeypatch, env, why):
    no_display(monkeypatch)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    problem = display_problem()
    assert problem is not None and why in problem and "\n" not in problem


def test_a_broken_platform_plugin_is_found_by_the_probe(monkeypatch):
    no_display(monkeypatch)
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.setenv("QT_QPA_PLATFORM", "no-such-plugin")  # Qt would abort: status 134
    problem = display_problem()
    assert problem is not None and "\n" not in problem
    assert problem.startswith("Qt cannot start:") and "no-such-plugin" in problem


def test_console_insists_on_the_console(monkeypatch):
    """`--console` opens the console on a platform that shows no window, and where Qt cannot
    start at all it is one line and status 2 (not Qt's abort, not the terminal monitor)."""
    no_display(monkeypatch)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    assert display_problem(headless_ok=True) is None
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    done = run_main("demo", "--console", "--duration", "1")
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and "the console cannot open" in done.stderr
    assert "DISPLAY is not set" in done.stderr and done.stdout == ""


def test_a_running_x_server_is_a_usable_display(monkeypatch):
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb not installed (Debian package xvfb)")
    read_fd, write_fd = os.pipe()
    server = subprocess.Popen([xvfb, "-displayfd", str(write_fd), "-nolisten", "tcp"],
                              pass_fds=(write_fd,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(write_fd)
    try:
        with os.fdopen(read_fd) as numbers:
            number = numbers.readline().strip()  # Xvfb writes it once it accepts clients
        assert number.isdigit(), "Xvfb did not start"
        no_display(monkeypatch)
        monkeypatch.setenv("DISPLAY", f":{number}")
        assert display_problem() is None
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_the_probe_costs_a_subprocess_only_when_the_environment_cannot_tell(monkeypatch):
    no_display(monkeypatch)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    started: list[object] = []
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: started.append(a))
    display_problem()
    assert started == []
