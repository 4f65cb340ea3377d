"""Device events -> processing core -> AudioFeedback: what a consumer without its own Processor
(the terminal monitor) uses to drive the sound. No Qt, no threads.

The Processor restarts after every gap in the link (nothing from before a gap is heard as live);
a background already measured is kept across gaps rather than measured again.
"""

from __future__ import annotations

from dataclasses import replace

from probe_nav.audio.feedback import AudioFeedback
from probe_nav.core.pipeline import PipelineConfig, Processor, Reading
from probe_nav.drivers.device import DeviceEvent, FrameEvent, LinkEvent, StatusEvent
from probe_nav.drivers.frames import FaultFlag, LinkState

LOW_BATTERY_PCT = 10  # below this the battery is low even if the device sets no flag


class FeedbackFeeder:
    """Feeds device events to an AudioFeedback through a Processor."""

    def __init__(self, feedback: AudioFeedback, config: PipelineConfig | None = None) -> None:
        self.feedback = feedback
        self.config = config or PipelineConfig()
        self.processor = Processor(self.config)
        self.link = LinkState.CONNECTING
        self._frame_low = False  # the latest frame carries LOW_BATTERY
        self._status_low = False  # the latest status says the battery is low
        self.last_reading: Reading | None = None

    def handle(self, event: DeviceEvent) -> None:
        """Take one device event; the sound follows at once."""
        if isinstance(event, FrameEvent):
            frame = event.frame
            self._frame_low = bool(frame.flags & FaultFlag.LOW_BATTERY)
            reading = self.processor.push(frame)
            self.last_reading = reading
            self.feedback.update(reading, LinkState.CONNECTED, counts=frame.total_window0,
                                 live_s=frame.live_s, battery_low=self.battery_low)
        elif isinstance(event, LinkEvent):
            if event.state is not LinkState.CONNECTED:
                self._restart()
            self.link = event.state
            self.feedback.update(None, event.state, battery_low=self.battery_low)
        elif isinstance(event, StatusEvent):
            status = event.status
            pct = status.battery_pct
            self._status_low = bool(status.faults & FaultFlag.LOW_BATTERY) or (
                pct is not None and pct < LOW_BATTERY_PCT
            )

    @property
    def battery_low(self) -> bool:
        """The device says its battery is low (frame flag or status)."""
        return self._frame_low or self._status_low

    def set_link_state(self, state: LinkState) -> None:
        """The device's link state judged now (host clock), when no event said it yet."""
        if state is not self.link:
            self.handle(LinkEvent(state, "", 0.0))

    def _restart(self) -> None:
        last = self.last_reading
        if self.processor.background_ready and last is not None:
            self.config = replace(self.config, background_cps=last.background_cps,
                                  background_sd_cps=last.background_sd_cps)
        self.processor = Processor(self.config)
        self.last_reading = None
