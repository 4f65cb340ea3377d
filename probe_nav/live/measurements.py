"""The timed count and the background measurement of a live session: started and cancelled by the
user, fed with every processed frame, abandoned at a gap; apart from the session so that the
counting rules sit in one place."""

from __future__ import annotations

import logging
from collections.abc import Callable

from probe_nav.core.background import Background
from probe_nav.core.timed import TimedCount, TimedCountResult
from probe_nav.drivers.frames import CountFrame

log = logging.getLogger("probe_nav.live")  # the session's logger: its lines keep their name


class Measurements:
    """A timed count and a background measurement of one session, in live time.

    `record(kind, t_s=..., **fields)` writes an event to the session recording."""

    def __init__(self, record: Callable[..., None]) -> None:
        self._record = record
        self.timed: TimedCount | None = None
        self.timed_last: TimedCountResult | None = None
        self.background: TimedCount | None = None

    def start_background(self, duration_s: float) -> None:
        """Measure the background for `duration_s` of live time, from the next frame."""
        log.info("background measurement of %g s live started", duration_s)
        self.background = TimedCount(duration_s, "live")

    def cancel_background(self) -> None:
        """Abandon a background measurement in progress."""
        if self.background is not None:
            log.info("background measurement cancelled")
        self.background = None

    def start_timed_count(self, preset_s: float, background: Background) -> None:
        """Count for `preset_s` of live time from the next frame, against `background`."""
        self.timed = TimedCount(preset_s, "live", background)
        self.timed_last = None
        log.info("timed count of %g s live started (background %.4g cps)", preset_s,
                 self.timed.background.rate_cps)

    def cancel_timed_count(self) -> None:
        """Abandon a timed count in progress."""
        if self.timed is not None and not self.timed.complete:
            log.info("timed count cancelled")
        self.timed = None

    def abandon(self) -> str:
        """The link was lost: drop what is in progress; the notice for the user ('' if none)."""
        notice = ""
        if self.timed is not None and not self.timed.complete:
            notice = "timed count abandoned: the link was lost"
            log.info(notice)
            self.timed = None
        if self.background is not None:
            notice = "background measurement abandoned: the link was lost"
            log.info(notice)
            self.background = None
        return notice

    def feed(self, frame: CountFrame) -> tuple[TimedCountResult | None, TimedCountResult | None]:
        """Add a processed frame; the timed count and background measurement it completed."""
        new_timed = new_background = None
        counts, live = frame.total_window0, frame.live_s
        if self.timed is not None and not self.timed.complete:
            self.timed.add(counts, live, frame.real_s, frame.t_s)
            if self.timed.complete:
                new_timed = self.timed_last = self.timed.result
                log.info("timed count done: %d counts in %.3f s live, net %.4g +- %.2g cps%s",
                         new_timed.counts, new_timed.live_s, new_timed.net_cps,
                         new_timed.net_sd_cps, " (significant)" if new_timed.significant else "")
                self._record("timed_count", t_s=frame.t_s, counts=new_timed.counts,
                             live_s=new_timed.live_s, rate_cps=new_timed.rate_cps,
                             net_cps=new_timed.net_cps)
        if self.background is not None:
            self.background.add(counts, live, frame.real_s, frame.t_s)
            if self.background.complete:
                new_background = self.background.result
                self._record("background_taken", t_s=frame.t_s, counts=new_background.counts,
                             live_s=new_background.live_s, rate_cps=new_background.rate_cps)
                self.background = None
        return new_timed, new_background

    # ------------------------------------------------------------ what a snapshot shows

    @property
    def timed_result(self) -> TimedCountResult | None:
        """The timed count running or just finished."""
        timed = self.timed
        if timed is not None and not timed.complete:
            return timed.result
        return self.timed_last

    @property
    def timed_preset_s(self) -> float | None:
        return self.timed.preset_s if self.timed is not None else None

    @property
    def timed_progress(self) -> float | None:
        """0..1 while a timed count runs, else None."""
        timed = self.timed
        if timed is not None and not timed.complete:
            return min(1.0, timed.live_s / timed.preset_s)
        return None

    @property
    def background_progress(self) -> float | None:
        """The fraction of a background measurement running, else None."""
        measuring = self.background
        return None if measuring is None else min(1.0, measuring.live_s / measuring.preset_s)
