"""What one poll of a live session hands to a display and audio: the `LiveSnapshot` value type,
kept apart from the session so readers of snapshots need not read the session's machinery."""

from __future__ import annotations

from dataclasses import dataclass

from probe_nav.core.background import Background
from probe_nav.core.pipeline import Reading
from probe_nav.core.timed import TimedCountResult
from probe_nav.drivers.frames import (
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    FaultFlag,
    LinkState,
    LinkStats,
)
from probe_nav.live.backgrounds import SetBackground

LOW_BATTERY_PCT = 10


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """The state of a session after one poll (rates in cps)."""

    link: LinkState
    link_reason: str
    reading: Reading | None  # None unless the link is CONNECTED and a frame came since
    last_frame: CountFrame | None
    last_frame_host_s: float | None  # host clock at the arrival of last_frame
    info: DeviceInfo | None
    status: DeviceStatus | None
    stats: LinkStats
    battery_pct: int | None
    battery_low: bool
    faults: FaultFlag  # device flags of the last frame and status
    over_range: bool
    background: Background | None  # the background in use (None: BACKGROUND NOT SET)
    background_progress: float | None  # fraction of a background measurement running, else None
    timed: TimedCountResult | None  # the timed count running or just finished
    timed_preset_s: float | None
    timed_progress: float | None  # 0..1 while running, None when no timed count runs
    new_timed: TimedCountResult | None  # a timed count that completed in this very poll
    new_background: Background | None  # a background measurement that completed in this poll
    new_background_count: TimedCountResult | None  # the same measurement as a timed count
    spectrum: tuple[int, ...] | None  # the last spectrum received
    frames: tuple[tuple[Reading, CountFrame], ...] = ()  # what this poll processed, in order
    notice: str = ""  # the latest message for the user (abandoned count, command refused...)
    background_entry: SetBackground | None = None  # `background` with how and when it was set

    @property
    def live(self) -> bool:
        """True when `reading` may be shown as a live number."""
        return self.link is LinkState.CONNECTED and self.reading is not None


def device_health(frame: CountFrame | None,
                  status: DeviceStatus | None) -> tuple[FaultFlag, int | None, bool]:
    """(fault flags of the last frame and status, battery %, battery low) for a snapshot."""
    faults = FaultFlag.NONE
    if frame is not None:
        faults |= frame.flags
    if status is not None:
        faults |= status.faults
    battery = status.battery_pct if status is not None else None
    battery_low = bool(faults & FaultFlag.LOW_BATTERY) or (
        battery is not None and battery < LOW_BATTERY_PCT)
    return faults, battery, battery_low
