"""Settings persistence and the command line (no display on the test machine)."""

from __future__ import annotations

import json
import os

from probe_nav.gui.settings import GuiSettings, load_settings, save_settings, settings_path
from tests.conftest import ROOT, cli
from tests.in_process import run_main


def test_settings_round_trip_in_the_config_dir(private_dirs):
    s = GuiSettings(meter="2", volume=0.3, muted=True, scenario="roll", show_map=False)
    path = save_settings(s)
    assert path == private_dirs / "config" / "gui.json" == settings_path()
    assert load_settings() == (s, [])


def test_bad_settings_fall_back_value_by_value(private_dirs):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"meter": 5, "volume": 1, "muted": "yes", "unknown": 1}))
    settings, problems = load_settings()
    assert settings.meter == "adaptive" and settings.volume == 1.0 and settings.muted is False
    assert len(problems) == 2 and any("muted" in p for p in problems)
    path.write_text("{not json")
    assert load_settings()[0] == GuiSettings() and "unreadable" in load_settings()[1][0]


def test_console_changes_are_remembered(make_sim, qtbot):
    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.window import ConsoleWindow

    window = ConsoleWindow(GuiSettings(), training=make_sim(), audio=AudioBridge(enabled=False))
    qtbot.addWidget(window)
    try:
        window.controls.meter_buttons["5"].click()
        window.shortcuts["H"].activated.emit()
        window.shortcuts["-"].activated.emit()
    finally:
        window.shutdown()
    saved, problems = load_settings()
    assert problems == [] and saved.meter == "5" and saved.show_map is False
    assert abs(saved.volume - 0.6) < 1e-9


def no_display_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    return env | {"PYTHONUNBUFFERED": "1"}


def test_demo_without_display_says_so_and_runs_the_terminal_monitor():
    import subprocess

    # --log-level error: a loaded machine may make the simulated link go STALE for a moment,
    # which the driver rightly logs as a warning; this test is about the notice line.
    done = subprocess.run(cli("--log-level", "error", "demo", "--duration", "1.5"),
                          capture_output=True, text=True, timeout=120, cwd=ROOT,
                          env=no_display_env())
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("\n") == 1 and "no display available" in done.stderr
    assert "terminal monitor" in done.stderr
    assert "link connected" in done.stdout and "cps" in done.stdout


def test_bad_arguments_are_one_line_and_status_2(tmp_path):
    for args, words in ((("demo", "--scenario", "nope"), "unknown scenario"),
                        (("demo", "--screenshot", str(tmp_path / "x.jpg")), ".png"),
                        (("gui", "--device", str(tmp_path / "missing")), "cannot open"),
                        (("gui", "--device", "loop://", "--protocol", "bogus"),
                         "unknown protocol")):
        done = run_main(*args)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.count("\n") <= 2 and words in done.stderr, done.stderr
        assert "Traceback" not in done.stderr
