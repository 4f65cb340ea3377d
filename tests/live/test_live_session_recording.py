"""A live session records every frame and its events, and the recording replays to the same
readings that were shown live (issue 9: every session is recorded and replayable).

The simulated probe is served in-process with the driver on its device time (tests/served.py):
a loaded machine that pauses the server must not show up as a STALE gap in the session."""

from __future__ import annotations

import time
from collections.abc import Callable

from probe_nav.cases.session import SessionRecorder, read_session_events, read_session_frames
from probe_nav.core.pipeline import PipelineConfig, Reading, process_arrays
from probe_nav.drivers.frames import CountFrame
from probe_nav.live import LiveSession, LiveSnapshot
from tests.served import served_probelink


def _poll_until(session: LiveSession, done: Callable[[LiveSnapshot], bool],
                shown: list[tuple[Reading, CountFrame]], timeout_s: float = 30.0) -> None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        snap = session.poll()
        shown.extend(snap.frames)
        if done(snap):
            return
        time.sleep(0.02)
    raise AssertionError("the live session did not get there in time")


def test_live_session_records_frames_and_events_and_replays_identically(tmp_path):
    config = PipelineConfig(background_s=2.0)
    shown: list[tuple[Reading, CountFrame]] = []
    with served_probelink("sln-scan", seed=4, speed=4.0) as (device, server):
        recorder = SessionRecorder.start(tmp_path, label="test", device=server.url)
        session = LiveSession(device, config, recorder=recorder)
        try:
            _poll_until(session, lambda s: s.reading is not None, shown)
            session.start_background(1.0)
            _poll_until(session, lambda s: s.new_background is not None, shown)
            session.start_timed_count(1.0)
            _poll_until(session, lambda s: s.new_timed is not None, shown)
        finally:
            session.close()

    frames = read_session_frames(recorder.directory)
    assert frames.torn_lines == 0
    table = frames.table
    assert len(table.t_s) == len(shown) == recorder.frames_written > 40
    assert [f.t_s for _, f in shown] == table.t_s.tolist()
    assert [f.total_window0 for _, f in shown] == table.counts.tolist()
    events = read_session_events(recorder.directory).events
    kinds = [e["event"] for e in events]
    assert kinds[0] == "session_start" and kinds[-1] == "session_end"
    assert {"link", "background_taken", "background_set", "timed_count"} <= set(kinds)
    assert events[-1]["frames"] == len(shown)

    # Until the user's background measurement restarted the live processor with a given value,
    # replaying the file gives exactly the readings that were shown live.
    t_restart = next(e["t_s"] for e in events if e["event"] == "background_set")
    replayed = process_arrays(table.t_s, table.live_s, table.counts, real_s=table.real_s,
                              flags=table.flags, config=config)
    before = [r for r, f in shown if f.t_s <= t_restart]
    assert len(before) > 20
    for i, live in enumerate(before):
        assert replayed[i] == live


def test_a_failing_session_file_stops_the_recording_not_the_readout(tmp_path):
    import os

    with served_probelink("sln-static", speed=4.0) as (device, server):
        recorder = SessionRecorder.start(tmp_path, label="broken", device=server.url)
        session = LiveSession(device, PipelineConfig(background_cps=5.0), recorder=recorder)
        try:
            shown: list[tuple[Reading, CountFrame]] = []
            # the frame file starts with the first frame (its columns follow the device)
            _poll_until(session, lambda s: recorder._frames_fd >= 0, shown)
            os.close(recorder._frames_fd)  # the disk goes away under the recorder
            shown.clear()
            _poll_until(session, lambda s: len(shown) > 20, shown)
            snap = session.poll()
            assert session.recorder is None
            assert "session recording stopped" in snap.notice
            assert snap.reading is not None  # the readout goes on
        finally:
            recorder._frames_fd = -1  # already closed above
            session.close()
