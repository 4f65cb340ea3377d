"""Settings persistence and the command line (no display on the test machine)."""

from __future__ import annotations

import json
import os

from probe_nav.gui.settings import GuiSettings, load_settings, save_settings, settings_path
from tests.conftest import ROOT, cli
from tests.in_process import run_main


def test_settings_round_trip_in_the_config_dir(private_dirs):
    s = GuiSettings(meter="2", volume=0.3, scenario="roll", show_map=False)
    path = save_settings(s)
    assert path == private_dirs / "config" / "gui.json" == settings_path()
    assert load_settings() == (s, [])
    assert "muted" not in json.loads(path.read_text())  # mute is never remembered


def test_an_old_muted_setting_is_read_and_ignored_with_a_note(private_dirs, caplog):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"volume": 0.4, "muted": True}))
    with caplog.at_level("INFO", logger="probe_nav.gui.settings"):
        settings, problems = load_settings()
    assert problems == [] and settings == GuiSettings(volume=0.4)
    notes = [r for r in caplog.records if "muted=True ignored" in r.getMessage()]
    assert len(notes) == 1 and notes[0].levelname == "INFO"


def test_bad_settings_fall_back_value_by_value(private_dirs):
    path = settings_path()
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"meter": 5, "volume": 1, "audio_mode": 2, "unknown": 1}))
    settings, problems = load_settings()
    assert settings.meter == "adaptive" and settings.volume == 1.0
    assert settings.audio_mode == "pitch"
    assert len(problems) == 2 and any("audio_mode" in p for p in problems)
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


def test_each_launch_starts_unmuted_and_muted_shows_a_banner(make_sim, qtbot):
    """M in one session shows MUTED at once; the next launch (same settings file) starts with
    the sound on and no MUTED banner."""
    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.display_state import Banner
    from probe_nav.gui.window import ConsoleWindow

    sim = make_sim()
    window = ConsoleWindow(GuiSettings(), training=sim, audio=AudioBridge(enabled=False))
    qtbot.addWidget(window)
    try:
        assert not window.muted and not window.controls.mute_button.isChecked()
        window.shortcuts["M"].activated.emit()
        window.tick()
        assert window.muted and window.audio.muted and window.controls.mute_button.isChecked()
        muted = [b for b in window.last_display.banners if b.kind is Banner.MUTED]
        assert len(muted) == 1 and not muted[0].alarm  # amber
        assert "alarms still sound" in window.banners.labels[Banner.MUTED].text()
        assert Banner.MUTED in window.banners.active()
        window.shortcuts["-"].activated.emit()  # a saved change while muted
    finally:
        window.shutdown()
    saved, problems = load_settings()
    assert problems == [] and "muted" not in json.loads(settings_path().read_text())
    again = ConsoleWindow(saved, training=make_sim(), audio=AudioBridge(enabled=False))
    qtbot.addWidget(again)
    try:
        again.tick()
        assert not again.muted and not again.audio.muted
        assert not again.controls.mute_button.isChecked()
        assert Banner.MUTED not in again.banners.active()
    finally:
        again.shutdown()


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
