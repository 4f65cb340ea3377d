"""A live session, free of Qt: device events -> Processor -> what a display and audio need.

The console (or any other front end) calls `poll()` often (e.g. from a 30 Hz timer); each call
drains the device's event queue, runs every frame through the processing core, feeds a running
timed count or background measurement, and returns a `LiveSnapshot`. A reading is only ever
returned while the link is CONNECTED: after any gap the estimator restarts (a known background is
kept) and a timed count or background measurement in progress is abandoned, so nothing from
before a gap is passed off as live.

The package: `session` (LiveSession), `snapshot` (LiveSnapshot), `trend` (the trend buffer) and
`measurements` (timed counts and background measurements); every public name is imported from
here, as `from probe_nav.live import LiveSession, LiveSnapshot`.
"""

from probe_nav.live.session import LiveSession
from probe_nav.live.snapshot import LOW_BATTERY_PCT, LiveSnapshot
from probe_nav.live.trend import CLOCK_JUMP_S, TREND_CAPACITY

__all__ = ["CLOCK_JUMP_S", "LOW_BATTERY_PCT", "TREND_CAPACITY", "LiveSession", "LiveSnapshot"]
