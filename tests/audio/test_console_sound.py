"""The console's sound (gui/audio_bridge.py, through the shared start-up) on a real PulseAudio
null sink: it plays on the default output, and muted it is silent while the count goes on, yet
the NO SIGNAL alarm is heard when the probe is unplugged."""

from __future__ import annotations

import time

import numpy as np
import pytest

from probe_nav.audio.alarms import NO_SIGNAL, PATTERNS
from probe_nav.drivers.frames import LinkState
from tests.audio.conftest import FS, SINK_DESCRIPTION, dominant_hz, reading

FRAME_S = 0.05  # the count is fed at 20 frames/s of the sample clock (watchdog: 1 s)
WAKE_S = 15.0  # bound on a hang while the sound server wakes the sink, not a speed requirement


def play(qapp, bridge, seconds: float, link: LinkState) -> None:
    """Run the event loop until the sink has pulled `seconds` of sound, feeding one frame per
    FRAME_S of the synthesiser's own clock (so the feed keeps pace however slow the machine)."""
    feedback = bridge.feedback
    end = feedback.sample_position + int(seconds * FS)
    next_frame = feedback.sample_position
    deadline = time.monotonic() + WAKE_S + 4 * seconds
    while feedback.sample_position < end:
        assert time.monotonic() < deadline, "the sink stopped pulling samples"
        if feedback.sample_position >= next_frame:
            if link is LinkState.CONNECTED:
                bridge.update(reading(300.0), link, counts=15, live_s=FRAME_S)
            else:
                bridge.update(None, link)
            next_frame += int(FRAME_S * FS)
        qapp.processEvents()
        time.sleep(0.002)


def test_muted_console_is_silent_but_the_alarm_is_heard(qapp, pulse_sink, recorder):
    from probe_nav.gui.audio_bridge import AudioBridge

    bridge = AudioBridge(volume=1.0)
    try:
        assert bridge.available and bridge.status_text == SINK_DESCRIPTION
        assert not bridge.muted  # every launch starts with the sound on
        play(qapp, bridge, 1.0, LinkState.CONNECTED)
        heard = recorder.stop()
        loud = np.flatnonzero(np.abs(heard) > 0.05)
        assert loud.size > FS // 4, "the count tone did not reach the sink"
        recorder.restart()
        bridge.apply("pitch", 1.0, muted=True)
        play(qapp, bridge, 1.5, LinkState.CONNECTED)
        muted = recorder.stop()
        # the count tone at volume 1 peaks at 0.5: silence means nothing above the 16-bit floor
        # (the first 8 ms volume ramp of the mute may still be in the sink's 40 ms buffer)
        assert muted.size > FS  # the recorder really heard the muted second and a half
        assert np.abs(muted[FS // 5:]).max() < 1e-3
        recorder.restart()
        play(qapp, bridge, 1.5, LinkState.DISCONNECTED)
        alarm = recorder.stop()
        recorder.restart()  # the fixture stops a running recording at the end
    finally:
        bridge.stop()
    assert bridge.active_alarm == NO_SIGNAL
    loud = np.flatnonzero(np.abs(alarm) > 0.05)
    assert loud.size > 0, "muted, the NO SIGNAL alarm was not heard"
    pulse = alarm[loud[0]: loud[0] + int(0.12 * FS)]  # inside the first 150 ms pulse
    assert dominant_hz(pulse) == pytest.approx(PATTERNS[NO_SIGNAL].fundamental_hz, rel=0.03)
