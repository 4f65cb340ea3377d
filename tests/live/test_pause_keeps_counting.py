"""A STALE pause blanks the readout but, when frames resume with none lost, what was being
counted goes on (a late host or slow link loses no counts); frames lost in it end the count.
ProbeLink's driver against its emulator on a pty, in lock step with a fake clock."""

from __future__ import annotations

from probe_nav.drivers.frames import LinkState
from probe_nav.live import LiveSession
from tests.drivers.lockstep import Lockstep

STEP_S = 0.025


def paused_timed_count(lose_frames: bool):
    """A 1 s timed count with a pause of 0.25 s in it: past the stale bound (0.1 s on this
    regular link), short of the silent-port reopen (0.35 s); returns the snapshots of the pause
    and of the end."""
    with Lockstep("probelink", collect_events=False) as ls:
        session = LiveSession(ls.device)
        ls.advance_to(2.0, STEP_S)
        assert session.poll().link is LinkState.CONNECTED
        session.start_timed_count(1.0)
        ls.advance_to(2.3, STEP_S)
        session.poll()
        if lose_frames:  # the device counts on, but its frames never come
            ls.emulator.advance(2.55)
        ls.clock.now_s = 2.55  # the host's clock moves on; nothing was read meanwhile
        paused = session.poll()  # the link is judged on that clock
        ls.advance_to(4.0, STEP_S)  # the device's frames come in (a burst first)
        ended = session.poll()
        return paused, ended


def test_a_pause_without_lost_frames_blanks_but_keeps_the_timed_count():
    paused, ended = paused_timed_count(lose_frames=False)
    assert paused.link is LinkState.STALE and paused.reading is None  # nothing shown
    assert paused.timed_progress is not None  # still counting
    assert ended.link is LinkState.CONNECTED
    assert ended.timed_progress is None and ended.new_timed is not None  # it completed
    assert "abandoned" not in ended.notice


def test_a_pause_that_lost_frames_abandons_the_timed_count():
    _paused, ended = paused_timed_count(lose_frames=True)
    assert "timed count abandoned" in ended.notice
