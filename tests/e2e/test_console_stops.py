"""Clean stops and fallbacks of the console, as real processes (issue 15, item 4):

* SIGINT / SIGTERM close a running console (`demo --console` on Qt's offscreen platform, with sound
  through a private PulseAudio null sink when there is one, so the signal can land in the audio
  callback): exit 130 / 143, no traceback, and a complete session recording;
* no usable display (DISPLAY unset with QT_QPA_PLATFORM=xcb; DISPLAY naming no X server, where Qt
  itself would abort with status 134): one line on stderr saying why, then the terminal monitor;
* a data folder that cannot be written: the console still starts and runs, one log line.

Waits are for conditions (frames recorded, the process ended); the time-outs only bound a hang.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from probe_nav.cases.session import (
    FRAMES_FILE,
    FRAMES_PARTIAL,
    read_session_events,
    read_session_frames,
)
from tests.conftest import ROOT, cli

HANG_S = 90.0  # a bound on a hang, not a speed requirement
MIN_FRAMES = 20  # frames recorded before the signal: a session with content, not an empty one


@pytest.fixture(scope="module")
def sound_env() -> Iterator[dict[str, str]]:
    """A private PulseAudio null sink for the console's sound (tests/audio/pulse_server.py), or
    no sound at all where PulseAudio is missing (the stop must work either way)."""
    from tests.audio.pulse_server import PrivatePulse, PulseStartError, missing_reason

    if missing_reason() is not None:
        yield {}
        return
    server = PrivatePulse("stops_sink", "probe-nav-stops", 48_000)
    try:
        server.start()
    except PulseStartError:
        yield {}
        return
    try:
        yield server.client_env
    finally:
        server.stop()


def console_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a console process: private data and config folders, no display."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return env | {"PYTHONUNBUFFERED": "1", "PROBE_NAV_DATA_DIR": str(tmp_path / "data"),
                  "PROBE_NAV_CONFIG_DIR": str(tmp_path / "config")} | extra


def recorded_frames(sessions: Path) -> int:
    """Frames in the (one) running session's partial file so far; 0 before it exists."""
    partial = list(sessions.glob(f"*/{FRAMES_PARTIAL}"))
    if not partial:
        return 0
    return len(read_session_frames(partial[0]).table)


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_closes_the_console_and_finishes_the_recording(tmp_path, sound_env, sig, status):
    env = console_env(tmp_path, QT_QPA_PLATFORM="offscreen", **sound_env)
    proc = subprocess.Popen(cli("demo", "--console", "--scenario", "sln-static"), cwd=ROOT,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    sessions = tmp_path / "data" / "sessions"
    try:
        deadline = time.monotonic() + HANG_S
        while recorded_frames(sessions) < MIN_FRAMES:
            assert proc.poll() is None, proc.communicate()[1]
            assert time.monotonic() < deadline, "no frames recorded"
            time.sleep(0.1)
        proc.send_signal(sig)
        _out, err = proc.communicate(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == status, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    (session,) = sessions.iterdir()
    assert (session / FRAMES_FILE).exists() and not (session / FRAMES_PARTIAL).exists()
    table = read_session_frames(session).table
    assert table.complete and table.torn_lines == 0
    assert len(table) >= MIN_FRAMES
    end_line = (session / FRAMES_FILE).read_text().splitlines()[-1]
    assert end_line == f"# end: complete, {len(table)} frames"
    events = read_session_events(session)
    assert events.bad_lines == 0
    assert events.events[0]["event"] == "session_start"
    assert events.events[-1] == events.events[-1] | {"event": "session_end", "frames": len(table)}


def unused_x_display() -> str:
    """A display number no X server on this machine listens on."""
    for n in range(150, 200):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return f":{n}"
    pytest.skip("no free X display number in 150..199")


@pytest.mark.parametrize(("extra", "why"), [
    ({"QT_QPA_PLATFORM": "xcb"}, "QT_QPA_PLATFORM=xcb but DISPLAY is not set"),
    # Qt itself aborts here (status 134): only the probe in a subprocess can tell beforehand
    ({"DISPLAY": "NOSERVER"}, "could not connect to display"),
], ids=["xcb-without-DISPLAY", "DISPLAY-without-server"])
def test_no_usable_display_is_one_line_then_the_terminal_monitor(tmp_path, extra, why):
    if extra.get("DISPLAY") == "NOSERVER":
        extra = {"DISPLAY": unused_x_display()}
    # --log-level error: a loaded machine may make the simulated link go STALE for a moment,
    # which the driver rightly logs as a warning; this test is about the one notice line.
    done = subprocess.run(cli("--log-level", "error", "demo", "--duration", "1.5"), cwd=ROOT,
                          env=console_env(tmp_path, **extra), capture_output=True, text=True,
                          timeout=HANG_S)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "no display available" in done.stderr and why in done.stderr, done.stderr
    assert "terminal monitor" in done.stderr
    assert "link connected" in done.stdout and "cps" in done.stdout


def test_gui_without_a_display_runs_the_terminal_monitor_on_the_device(tmp_path, serve):
    server = serve("--scenario", "sln-static", "--link", "tcp")
    done = subprocess.run(cli("--log-level", "error", "gui", "--device", server.url,
                              "--duration", "1.5"), cwd=ROOT,
                          env=console_env(tmp_path, QT_QPA_PLATFORM="xcb"), capture_output=True,
                          text=True, timeout=HANG_S)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert "no display available (QT_QPA_PLATFORM=xcb but DISPLAY is not set)" in done.stderr
    assert "link connected" in done.stdout and "SIM-0001" in done.stdout


def unwritable_data_dir(tmp_path: Path) -> Path:
    """A data folder nothing can be created in, even by root (whom file modes do not stop): its
    parent is a regular file."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    return blocker / "data"


def test_an_unwritable_data_folder_does_not_stop_the_console(tmp_path):
    env = console_env(tmp_path, QT_QPA_PLATFORM="offscreen",
                      PROBE_NAV_DATA_DIR=str(unwritable_data_dir(tmp_path)))
    proc = subprocess.Popen(cli("demo", "--console", "--scenario", "sln-static"), cwd=ROOT,
                            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        # the console is up once it has said that it does not record (the session is opened
        # while the window is built); stderr is read line by line until then
        assert proc.stderr is not None
        lines = []
        deadline = time.monotonic() + HANG_S
        while not any("session not recorded" in line for line in lines):
            line = proc.stderr.readline()
            assert line, "".join(lines)  # EOF: the process ended without that line
            lines.append(line)
            assert time.monotonic() < deadline
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=HANG_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    err = "".join(lines) + err
    assert proc.returncode == 143, err
    assert "Traceback" not in err, err
    assert len(re.findall("session not recorded", err)) == 1, err
    assert "cannot record a session there" in err
