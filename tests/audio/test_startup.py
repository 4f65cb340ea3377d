"""The one audio start-up of the console and `monitor --audio` (qt_output.start_audio): every way
of having no sound (no QtMultimedia, no Qt at all, no device, a sink that throws) is one WARNING
line and an AudioStart without output whose synthesiser still runs; Qt's own back-end chatter goes
to the debug log instead of stderr."""

from __future__ import annotations

import logging

import numpy as np

from probe_nav.audio import AudioSettings
from probe_nav.drivers.frames import LinkState
from tests.audio.conftest import FS, reading

LIBEGL_ERROR = "libEGL.so.1: cannot open shared object file: No such file or directory"


def warnings_of(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name.startswith("probe_nav.audio") and r.levelno >= logging.WARNING]


def test_without_qtmultimedia_one_line_and_the_synthesiser_still_runs(qapp, monkeypatch,
                                                                       caplog) -> None:
    from probe_nav.audio import qt_output

    monkeypatch.setattr(qt_output, "MULTIMEDIA_ERROR", "libpulse.so.0: cannot open")
    with caplog.at_level(logging.DEBUG):
        start = qt_output.start_audio(AudioSettings(volume=1.0))
    assert start.output is None and not start.available and start.qt_running
    assert start.reason == "QtMultimedia cannot be loaded (libpulse.so.0: cannot open)"
    assert start.status_text == qt_output.NO_DEVICE and start.underruns == 0
    assert warnings_of(caplog) == [f"no audio output available: {start.reason}; running without "
                                   "sound"]
    start.feedback.update(reading(300.0), LinkState.CONNECTED)
    assert start.feedback.tone_target_hz is not None  # the monitor still reports its tone
    start.stop()  # nothing to stop, and no error


def test_when_qt_itself_cannot_start_there_is_no_event_loop(monkeypatch, caplog) -> None:
    from probe_nav.audio import qt_output

    def no_qt(**_kw: object) -> None:
        raise ImportError(LIBEGL_ERROR)

    monkeypatch.setattr(qt_output, "ensure_qt_app", no_qt)
    with caplog.at_level(logging.INFO):
        start = qt_output.start_audio()
    assert not start.qt_running and start.output is None
    assert start.reason == f"Qt cannot start ({LIBEGL_ERROR})"
    assert len(warnings_of(caplog)) == 1


def test_no_device_is_one_line_without_the_state_name(qapp, monkeypatch, caplog) -> None:
    from probe_nav.audio import qt_output

    monkeypatch.setattr(qt_output, "MULTIMEDIA_ERROR", None)
    monkeypatch.setattr(qt_output, "find_output_device", lambda name: None)
    with caplog.at_level(logging.INFO):
        start = qt_output.start_audio()
    assert start.output is None and start.qt_running
    assert start.reason == "no output device found" and start.status_text == "NO AUDIO DEVICE"
    assert len(warnings_of(caplog)) == 1


def test_a_sink_that_throws_does_not_stop_the_program(qapp, monkeypatch, caplog) -> None:
    from probe_nav.audio import qt_output

    def broken(self) -> bool:
        raise RuntimeError("sink exploded")

    monkeypatch.setattr(qt_output.QtAudioOutput, "start", broken)
    with caplog.at_level(logging.INFO):
        start = qt_output.start_audio()
    assert start.output is None and start.reason == "the sound output failed (sink exploded)"
    assert len(warnings_of(caplog)) == 1


def test_qt_messages_go_to_the_debug_log_and_the_old_handler_comes_back(qapp, caplog) -> None:
    from PySide6.QtCore import qInstallMessageHandler, qWarning

    from probe_nav.audio.qt_output import qt_messages_logged

    seen: list[str] = []
    previous = qInstallMessageHandler(lambda mode, context, message: seen.append(message))
    try:
        with caplog.at_level(logging.DEBUG, logger="probe_nav.audio"), qt_messages_logged():
            qWarning("PulseAudioService: pa_context_connect() failed")
        qWarning("after")
    finally:
        qInstallMessageHandler(previous)
    assert seen == ["after"]
    debug = [r for r in caplog.records if "pa_context_connect" in r.getMessage()]
    assert len(debug) == 1 and debug[0].levelno == logging.DEBUG


def test_the_console_bridge_uses_the_start_up_and_mute_keeps_alarms(qapp, monkeypatch,
                                                                    caplog) -> None:
    """Through the console's door: no sound is one line; muted, the count tone is silent while
    the NO SIGNAL alarm still sounds."""
    from probe_nav.audio import qt_output
    from probe_nav.gui.audio_bridge import AudioBridge

    monkeypatch.setattr(qt_output, "MULTIMEDIA_ERROR", "libpulse.so.0: cannot open")
    with caplog.at_level(logging.INFO):
        bridge = AudioBridge(volume=1.0)
    assert not bridge.available and len(warnings_of(caplog)) == 1
    assert bridge.status_text == "QtMultimedia cannot be loaded (libpulse.so.0: cannot open)"
    assert not bridge.muted
    feedback = bridge.feedback
    assert feedback is not None
    bridge.update(reading(300.0), LinkState.CONNECTED, counts=15, live_s=0.05)
    feedback.render(FS // 10)
    assert np.abs(feedback.render(FS // 10)).max() > 0.1  # the count tone at volume 1
    bridge.apply("pitch", 1.0, muted=True)
    assert bridge.muted and feedback.settings.muted
    bridge.update(reading(300.0), LinkState.CONNECTED, counts=15, live_s=0.05)
    feedback.render(FS // 50)  # past the 8 ms volume ramp
    assert np.abs(feedback.render(FS // 10)).max() == 0.0  # muted: silence
    bridge.update(None, LinkState.DISCONNECTED)
    # the NO SIGNAL burst starts with a 150 ms pulse at alarm_min_volume (0.5 x ALARM_LEVEL 0.5)
    assert np.abs(feedback.render(FS // 10)).max() > 0.1
    assert bridge.active_alarm == "NO SIGNAL"
    bridge.stop()


def test_bad_saved_sound_settings_still_give_sound(qapp, monkeypatch, caplog) -> None:
    from probe_nav.audio import qt_output
    from probe_nav.gui.audio_bridge import AudioBridge

    monkeypatch.setattr(qt_output, "MULTIMEDIA_ERROR", "libpulse.so.0: cannot open")
    with caplog.at_level(logging.INFO):
        bridge = AudioBridge(mode="hum", volume=0.5)
    assert bridge.feedback is not None and bridge.feedback.settings.mode == "pitch"
    assert [r.levelno for r in caplog.records if "sound settings ignored" in r.getMessage()] \
        == [logging.WARNING]


def test_disabled_sound_says_so() -> None:
    from probe_nav.gui.audio_bridge import AudioBridge

    bridge = AudioBridge(enabled=False)
    assert not bridge.available and bridge.status_text == "sound disabled"
    assert bridge.feedback is None and bridge.active_alarm is None
    bridge.apply("clicks", 0.2, True)  # remembered even without sound
    assert bridge.muted


def test_banners_say_muted_and_no_audio_with_the_title_once() -> None:
    from probe_nav.core.background import Background
    from probe_nav.drivers.frames import FaultFlag, LinkStats
    from probe_nav.gui.display_state import Banner, BannerState, banners_for
    from probe_nav.live import LiveSnapshot

    snap = LiveSnapshot(
        link=LinkState.CONNECTED, link_reason="frames arriving", reading=reading(20.0),
        last_frame=None, last_frame_host_s=None, info=None, status=None, stats=LinkStats(),
        battery_pct=80, battery_low=False, faults=FaultFlag.NONE, over_range=False,
        background=Background.given(5.0, 0.5), background_progress=None, timed=None,
        timed_preset_s=None, timed_progress=None, new_timed=None, new_background=None,
        new_background_count=None, spectrum=None)
    assert banners_for(snap, True) == ()
    muted = banners_for(snap, True, muted=True)
    assert [b.kind for b in muted] == [Banner.MUTED] and not muted[0].alarm  # amber
    both = banners_for(snap, False, "no output device found", muted=True)
    assert [b.kind for b in both] == [Banner.MUTED, Banner.NO_AUDIO]
    assert both[1].text == "NO AUDIO  —  no output device found"
    # a detail that repeats the title is not said twice
    assert BannerState(Banner.NO_AUDIO, "NO AUDIO: no device").text == "NO AUDIO  —  no device"
    assert BannerState(Banner.NO_AUDIO, "no audio").text == "NO AUDIO"
    assert BannerState(Banner.MUTED, "").text == "MUTED"
