"""LiveSession snapshots -> AudioFeedback: how the terminal monitor drives the sound. No Qt, no
threads, no processing of its own: the sound follows exactly the readings the monitor shows
(one path: device events -> LiveSession -> snapshot -> display and sound).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from probe_nav.audio.feedback import AudioFeedback
from probe_nav.core.pipeline import Reading
from probe_nav.drivers.frames import CountFrame, FaultFlag, LinkState


class SessionSnapshot(Protocol):
    """The fields of probe_nav.live.LiveSnapshot the feeder reads."""

    link: LinkState
    battery_low: bool
    frames: Sequence[tuple[Reading, CountFrame]]


class FeedbackFeeder:
    """Feeds what a LiveSession processed to an AudioFeedback."""

    def __init__(self, feedback: AudioFeedback) -> None:
        self.feedback = feedback
        self.link = LinkState.CONNECTING
        self.last_reading: Reading | None = None

    def feed(self, snap: SessionSnapshot) -> None:
        """One poll of the session: every frame it processed, then its link state."""
        for reading, frame in snap.frames:
            low = snap.battery_low or bool(frame.flags & FaultFlag.LOW_BATTERY)
            self.last_reading = reading
            self.link = LinkState.CONNECTED
            self.feedback.update(reading, LinkState.CONNECTED, counts=frame.total_window0,
                                 live_s=frame.live_s, battery_low=low)
        if snap.link is not self.link:
            self.link = snap.link
            if snap.link is not LinkState.CONNECTED:
                self.last_reading = None  # nothing from before a gap is heard as live
            self.feedback.update(None, snap.link, battery_low=snap.battery_low)
