"""A machine without libpulse.so.0 (QtMultimedia links it): importing the sound output, the
console's sound and `monitor --audio` carry on without sound, with one log line and the plain
NO AUDIO DEVICE state. The missing library is simulated (an import hook that fails the way the
real import does), so this stays tested on machines that have libpulse0 installed."""

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
HOOK = f'''\
import sys


class _NoLibpulse:
    """Fails `import PySide6.QtMultimedia` as a machine without libpulse0 does."""

    def find_spec(self, name, path=None, target=None):
        if name == "PySide6.QtMultimedia":
            raise ImportError({LIBPULSE_ERROR!r})
        return None


sys.meta_path.insert(0, _NoLibpulse())
'''
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


def test_monitor_with_audio_keeps_monitoring(no_libpulse_env) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "probe_nav", "monitor", "--sim", "sln-static", "--audio",
         "--duration", "1.5", "--json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=no_libpulse_env)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count(LOG_LINE) == 1 and "Traceback" not in run.stderr
    snaps = [json.loads(line) for line in run.stdout.splitlines()]
    assert snaps and all(s["audio"] == "NO AUDIO DEVICE" for s in snaps)
    assert any(s["rate_cps"] is not None and s["tone_hz"] is not None for s in snaps)


def test_the_banner_names_the_state_once_and_then_the_reason(qapp, monkeypatch) -> None:
    """The console showed "NO AUDIO DEVICE — NO AUDIO DEVICE": the detail must be the reason."""
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
    assert text.count("NO AUDIO DEVICE") == 1 and "libpulse.so.0" in text, text
    bar.deleteLater()
