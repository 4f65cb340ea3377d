"""Live-session and alarm logging: session start and stop, background set (value and how it was
measured), timed counts, the recording opened, closed or failed; alarms raised and cleared."""

from __future__ import annotations

import logging
from pathlib import Path

from probe_nav.audio.alarms import LOW_BATTERY, NO_SIGNAL, AlarmSequencer
from probe_nav.cases.session import SessionRecorder
from probe_nav.core.background import Background
from probe_nav.core.pipeline import PipelineConfig
from probe_nav.drivers.frames import CountFrame
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.live import LiveSession


def info_lines(caplog, logger: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == logger]


def feed(device: ProbeLinkDevice, first: int, n: int, counts: int = 10) -> None:
    """n frames of 0.1 s (all live) handed to the device's event queue as if they had arrived."""
    for i in range(first, first + n):
        device.emit_frame(CountFrame(seq=i, t_s=0.1 * (i + 1), real_s=0.1, live_s=0.1,
                                     counts=(counts,)))


def test_session_logs_its_background_timed_counts_and_recording(tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.INFO, logger="probe_nav.live")
    device = ProbeLinkDevice("fake://probe")  # never opened: frames are handed in by `feed`
    recorder = SessionRecorder.start(tmp_path, label="log")
    session = LiveSession(device, PipelineConfig(), recorder=recorder)
    session.set_background(Background.given(5.0, 0.5))
    session.start_timed_count(1.0)
    feed(device, 0, 10)  # exactly 1.0 s of live time, 100 counts
    session.poll()
    session.start_background(2.0)
    feed(device, 10, 20, counts=3)  # 2.0 s, 60 counts
    session.poll()
    session.close()
    lines = info_lines(caplog, "probe_nav.live")
    assert lines[0] == ("session started on fake://probe (meter adaptive, background None cps, "
                        f"recording to {recorder.directory})")
    assert "background set to 5 +- 0.5 cps (entered)" in lines
    assert "timed count of 1 s live started (background 5 cps)" in lines
    # 100 counts in 1 s against 5 +- 0.5 cps: net 95 cps, sd sqrt(100 + 0.5**2) = 10.01 cps
    assert "timed count done: 100 counts in 1.000 s live, net 95 +- 10 cps (significant)" in lines
    assert "background measurement of 2 s live started" in lines
    # 60 counts in 2 s: 30 cps with sd sqrt(60)/2 = 3.873 cps
    assert "background set to 30 +- 3.9 cps (measured: 60 counts in 2 s live)" in lines
    assert lines[-2:] == [f"session recording closed: 30 frames in {recorder.directory}",
                          "session on fake://probe stopped"]


class FullDisk:
    """A recorder whose disk is full."""

    directory = Path("/full/disk/session")

    def write(self, frame: CountFrame) -> None:
        raise OSError(28, "No space left on device")

    def event(self, kind: str, **fields: object) -> None:
        raise OSError(28, "No space left on device")


def test_a_failing_recording_is_logged_as_a_warning(caplog) -> None:
    caplog.set_level(logging.INFO, logger="probe_nav.live")
    device = ProbeLinkDevice("fake://probe")
    session = LiveSession(device, recorder=FullDisk())  # type: ignore[arg-type]
    feed(device, 0, 1)
    snap = session.poll()
    assert "session recording stopped" in snap.notice
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == ("session recording to /full/disk/session failed and stopped: "
                                    "[Errno 28] No space left on device")


def test_alarms_raised_acknowledged_and_cleared_are_logged_once(caplog) -> None:
    caplog.set_level(logging.INFO, logger="probe_nav.audio")
    alarms = AlarmSequencer(48000, realarm_s=120.0)
    alarms.set_present({NO_SIGNAL}, 0)
    alarms.set_present({NO_SIGNAL}, 4800)  # still present: nothing new to say
    alarms.acknowledge(9600)
    alarms.set_present({NO_SIGNAL, LOW_BATTERY}, 14400)
    alarms.set_present(set(), 19200)
    assert info_lines(caplog, "probe_nav.audio.alarms") == [
        "alarm raised: NO SIGNAL (priority 3)",
        "alarm acknowledged: NO SIGNAL (silenced for 120 s)",
        "alarm raised: LOW BATTERY (priority 1)",
        "alarm cleared: LOW BATTERY",
        "alarm cleared: NO SIGNAL",
    ]
