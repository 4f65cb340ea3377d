"""A machine without libpulse.so.0 (QtMultimedia links it), or without Qt's GUI libraries, or with
a dead X display: importing the sound output, the console's sound and `monitor --audio` carry on
without sound, with one log line (the only line on stderr) and the plain NO AUDIO DEVICE state.
The missing library is simulated (an import hook that fails the way the real import does), so
this stays tested on machines that have libpulse0 installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from probe_nav.core.background import Background
from probe_nav.drivers.frames import FaultFlag, LinkState, LinkStats
from probe_nav.live import LiveSnapshot
from tests.audio.conftest import ROOT

LIBPULSE_ERROR = "libpulse.so.0: cannot open shared object file: No such file or directory"
LIBGL_ERROR = "libGL.so.1: cannot open shared object file: No such file or directory"
HOOK_TEMPLATE = '''\
import sys


class _NoLibrary:
    """Fails `import {module}` as a machine without the library it links does."""

    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise ImportError({error!r})
        return None


sys.meta_path.insert(0, _NoLibrary())
'''
HOOK = HOOK_TEMPLATE.format(module="PySide6.QtMultimedia", error=LIBPULSE_ERROR)
LOG_LINE = f"no audio output available: QtMultimedia cannot be loaded ({LIBPULSE_ERROR}); " \
           "running without sound"


@pytest.fixture
def no_libpulse_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a process in which PySide6.QtMultimedia cannot be imported; the sound
    server is one that does not exist, so nothing can reach a real one either way."""
    (tmp_path / "sitecustomize.py").write_text(HOOK)
    path = os.pathsep.join(p for p in (str(tmp_path), os.environ.get("PYTHONPATH")) if p)
    return os.environ | {"PYTHONPATH": path, "QT_QPA_PLATFORM": "offscreen",
                         "PULSE_SERVER": "unix:/nonexistent/probe-nav-no-sound",
                         "QT_AUDIO_BACKEND": "pulseaudio"}


def stderr_lines(stderr: str) -> list[str]:
    """The lines of stderr without timestamps, less the link's own warnings (a loaded machine may
    see the simulated link go STALE for a moment; that is the driver's business, not sound's)."""
    return [line.split(" probe_nav.audio: ")[-1] for line in stderr.splitlines()
            if " probe_nav.drivers." not in line]


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=env)


def test_the_hook_really_hides_qtmultimedia(no_libpulse_env) -> None:
    run = run_python("import PySide6.QtMultimedia", no_libpulse_env)
    assert run.returncode == 1 and f"ImportError: {LIBPULSE_ERROR}" in run.stderr


def test_the_output_imports_and_says_why_there_is_no_sound(no_libpulse_env) -> None:
    code = (
        "from probe_nav.audio import AudioFeedback\n"
        "from probe_nav.audio.qt_output import QtAudioOutput, list_output_devices\n"
        "from probe_nav.drivers.frames import LinkState\n"
        "out = QtAudioOutput(AudioFeedback(), device='probe-nav-null')\n"
        "print(list_output_devices(), out.start(), out.start(), out.available)\n"
        "print(out.status_text)\n"
        "print(out.reason)\n"
        "out.feedback.update(None, LinkState.DISCONNECTED)\n"
        "print(out.feedback.active_alarm)\n"
        "out.stop()\n"
    )
    run = run_python(code, no_libpulse_env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "[] False False False", "NO AUDIO DEVICE",
        f"QtMultimedia cannot be loaded ({LIBPULSE_ERROR})", "NO SIGNAL"]
    assert run.stderr.strip() == LOG_LINE  # one line however often it is tried, no traceback


def test_the_console_sound_says_no_audio_device_once(no_libpulse_env) -> None:
    code = (
        "from probe_nav.gui.audio_bridge import AudioBridge\n"
        "bridge = AudioBridge()\n"
        "print(bridge.available)\n"
        "print(bridge.status_text)\n"
        "bridge.stop()\n"
    )
    run = run_python(code, no_libpulse_env)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["False", f"QtMultimedia cannot be loaded ({LIBPULSE_ERROR})"]
    assert run.stderr.strip() == LOG_LINE


def monitor_with_audio(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`probe-nav monitor --audio --json` for 1.5 s on the simulator, in this environment."""
    return subprocess.run(
        [sys.executable, "-m", "probe_nav", "monitor", "--sim", "sln-static", "--audio",
         "--duration", "1.5", "--json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)


def test_monitor_with_audio_keeps_monitoring(no_libpulse_env) -> None:
    run = monitor_with_audio(no_libpulse_env)
    assert run.returncode == 0, run.stderr
    # the one line on stderr: no traceback, no Qt chatter
    assert stderr_lines(run.stderr) == [LOG_LINE]
    snaps = [json.loads(line) for line in run.stdout.splitlines()]
    assert snaps and all(s["audio"] == "NO AUDIO DEVICE" for s in snaps)
    assert any(s["rate_cps"] is not None and s["tone_hz"] is not None for s in snaps)


def test_the_banner_names_the_state_once_and_then_the_reason(qapp, monkeypatch) -> None:
    """The console showed "NO AUDIO DEVICE — NO AUDIO DEVICE": the title once, then the reason."""
    from probe_nav.audio import qt_output
    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.display_state import Banner, banners_for
    from probe_nav.gui.readout import BannerBar

    monkeypatch.setattr(qt_output, "MULTIMEDIA_ERROR", LIBPULSE_ERROR)  # never opens a device
    bridge = AudioBridge()
    snap = LiveSnapshot(
        link=LinkState.CONNECTED, link_reason="frames arriving", reading=None, last_frame=None,
        last_frame_host_s=None, info=None, status=None, stats=LinkStats(), battery_pct=80,
        battery_low=False, faults=FaultFlag.NONE, over_range=False,
        background=Background.given(5.0, 0.5), background_progress=None, timed=None,
        timed_preset_s=None, timed_progress=None, new_timed=None, new_background=None,
        new_background_count=None, spectrum=None)
    bar = BannerBar()
    bar.show_banners(banners_for(snap, bridge.available, bridge.status_text))
    text = bar.labels[Banner.NO_AUDIO].text()
    assert Banner.NO_AUDIO in bar.active()
    assert text.count("NO AUDIO") == 1 and "libpulse.so.0" in text, text
    assert text.startswith(f"{Banner.NO_AUDIO.value}  —  QtMultimedia cannot be loaded"), text
    bar.deleteLater()


def test_monitor_with_audio_without_qt_gui_libraries_keeps_monitoring(tmp_path: Path) -> None:
    """No libGL (a headless server): Qt's application cannot start, so there is no sound loop;
    one line says why and the monitor runs as without --audio."""
    (tmp_path / "sitecustomize.py").write_text(
        HOOK_TEMPLATE.format(module="PySide6.QtWidgets", error=LIBGL_ERROR))
    env = os.environ | {"PYTHONPATH": str(tmp_path), "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, "-m", "probe_nav", "monitor", "--sim", "sln-static", "--audio",
         "--duration", "1.5", "--json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert run.returncode == 0, run.stderr
    assert stderr_lines(run.stderr) == [f"no audio output available: Qt cannot start "
                                        f"({LIBGL_ERROR}); running without sound"], run.stderr
    snaps = [json.loads(line) for line in run.stdout.splitlines()]
    assert snaps and any(s["rate_cps"] is not None for s in snaps)


def test_monitor_with_audio_ignores_a_dead_x_display(no_libpulse_env) -> None:
    """DISPLAY set but unreachable (an ssh session without X forwarding): the terminal monitor
    needs no window, so Qt must not try the display (that aborts the process, exit 134)."""
    env = {k: v for k, v in no_libpulse_env.items() if k != "QT_QPA_PLATFORM"}
    env |= {"DISPLAY": ":1999", "XAUTHORITY": "/nonexistent/probe-nav-xauth"}
    run = monitor_with_audio(env)
    assert run.returncode == 0, run.stderr
    assert stderr_lines(run.stderr) == [LOG_LINE]
    assert [json.loads(line)["audio"] for line in run.stdout.splitlines()][-1] \
        == "NO AUDIO DEVICE"
