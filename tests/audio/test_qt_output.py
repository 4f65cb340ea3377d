"""The QtMultimedia output on a real PulseAudio null sink, and without any audio device."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from probe_nav.audio import AudioFeedback, AudioSettings
from probe_nav.audio.pitch import rate_to_pitch_hz
from probe_nav.drivers.frames import LinkState
from tests.audio.conftest import FS, ROOT, SINK_DESCRIPTION, dominant_hz, reading

# A sound server that does not exist (Qt told to use PulseAudio, not the user's PipeWire).
NO_PULSE = os.environ | {"PULSE_SERVER": "unix:/nonexistent/probe-nav-no-sound",
                         "QT_AUDIO_BACKEND": "pulseaudio", "QT_QPA_PLATFORM": "offscreen"}


def spin(qapp, seconds: float) -> None:
    """Run the Qt event loop (the sink pulls samples from it) for a while."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.002)


def test_plays_on_the_null_sink_and_the_recording_has_the_tone(qapp, pulse_sink, recorder):
    from probe_nav.audio.qt_output import QtAudioOutput, list_output_devices

    assert SINK_DESCRIPTION in list_output_devices()
    fb = AudioFeedback(AudioSettings(volume=1.0))
    fb.update(reading(300.0), LinkState.CONNECTED)
    out = QtAudioOutput(fb, device=SINK_DESCRIPTION, buffer_ms=40.0)
    try:
        assert out.start() and out.available and out.status_text == SINK_DESCRIPTION
        # The sound server may take a moment to wake the sink; then 1 s of sound.
        deadline = time.monotonic() + 15.0
        while fb.sample_position < int(1.2 * FS) and time.monotonic() < deadline:
            spin(qapp, 0.05)
        assert fb.sample_position >= int(1.2 * FS), "the sink pulled no samples"
        assert out.buffered_s() <= 0.2
        spin(qapp, 0.2)
    finally:
        out.stop()
    assert not out.available
    x = recorder.stop()
    loud = x[np.abs(x) > 0.05]
    assert loud.size > FS // 2, "nothing reached the sink"
    start = np.flatnonzero(np.abs(x) > 0.05)[0]
    seg = x[start + FS // 10: start + FS // 10 + FS // 2]
    assert dominant_hz(seg) == pytest.approx(rate_to_pitch_hz(300.0), rel=0.01)


def test_unknown_device_name_is_a_clear_state(qapp, pulse_sink, caplog):
    from probe_nav.audio.qt_output import QtAudioOutput

    out = QtAudioOutput(AudioFeedback(), device="no such speaker")
    with caplog.at_level("WARNING", logger="probe_nav.audio"):
        assert out.start() is False
        assert out.start() is False
    assert not out.available and "not found" in out.status_text
    assert len(caplog.records) == 1  # one log line, however often it is tried


def test_without_any_audio_device_the_program_keeps_working() -> None:
    """A process whose sound server does not exist: no devices, a plain state, one log line."""
    code = (
        "from probe_nav.audio import AudioFeedback\n"
        "from probe_nav.audio.qt_output import QtAudioOutput, list_output_devices\n"
        "from probe_nav.drivers.frames import LinkState\n"
        "out = QtAudioOutput(AudioFeedback())\n"
        "print(list_output_devices(), out.start(), out.available, out.status_text)\n"
        "out.feedback.update(None, LinkState.DISCONNECTED)\n"
        "print(out.feedback.active_alarm)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=ROOT, env=NO_PULSE)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == ["[] False False NO AUDIO DEVICE", "NO SIGNAL"]
    # One line: "no output device found" with QtMultimedia, or why QtMultimedia cannot be loaded
    # on a machine without libpulse0 (test_without_libpulse covers that case everywhere).
    assert run.stderr.count("no audio output available: ") == 1
    assert run.stderr.count("running without sound") == 1
    assert "Traceback" not in run.stderr


def test_monitor_with_audio_but_no_device_still_monitors() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "probe_nav", "monitor", "--sim", "sln-static", "--audio",
         "--duration", "1.5", "--json"],
        capture_output=True, text=True, timeout=60, cwd=ROOT, env=NO_PULSE)
    assert run.returncode == 0, run.stderr
    assert run.stderr.count("no audio output available: ") == 1
    assert "Traceback" not in run.stderr
    assert "PulseAudioService" not in run.stderr  # Qt's own chatter goes to the debug log
    import json

    snaps = [json.loads(line) for line in run.stdout.splitlines()]
    assert snaps and all(s["audio"] == "NO AUDIO DEVICE" for s in snaps)
    assert any(s["rate_cps"] is not None and s["tone_hz"] is not None for s in snaps)


def test_monitor_audio_arguments_are_checked(pulse_sink) -> None:
    from tests.conftest import run_cli

    bad = run_cli("monitor", "--sim", "sln-static", "--audio", "--volume", "2")
    assert bad.returncode == 2 and "--volume" in bad.stderr and "Traceback" not in bad.stderr
    bad = run_cli("monitor", "--sim", "sln-static", "--audio", "--audio-device", "nowhere")
    assert bad.returncode == 2 and "nowhere" in bad.stderr and SINK_DESCRIPTION in bad.stderr
    assert bad.stderr.strip().count("\n") == 0
    bad = run_cli("monitor", "--sim", "sln-static", "--audio", "--audio-mode", "hum")
    assert bad.returncode == 2 and "hum" in bad.stderr
