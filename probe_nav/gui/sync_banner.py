"""The RECORDS NOT SYNCED banner of a console on a department server.

`not_synced_text` (pure, no Qt) says what the banner shows for a SyncStatus at a time; the
SyncBanner widget shows it like the console's other banners (probe_nav.gui.readout.BannerBar:
bold, large, high contrast, full width) and re-reads the status every second from a QTimer.
Reading the status is an attribute read (the syncer publishes it from its own thread), so the
banner never waits on the network or the disk.

When the banner shows (it is hidden while everything is on the server):
- records queued for longer than GRACE_S (a record normally reaches the server within a round
  trip: a shorter blip is not news), or any queued while the last attempt found the server away;
- records the server refused (they stay on the console; a person must look at them);
- a record the console wrote more than GRACE_S ago that no round has confirmed yet: the
  syncer's status is only as fresh as its last round, and a round with the server away takes
  the connection timeout (10 s), so without this a write made after a synced round would go
  unflagged for that long.

Amber like the console's other warnings, never red: red banners say the live number is not
valid (NO SIGNAL, STALE, ...), and records waiting on a server never make it so.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QWidget

from probe_nav.gui import style
from probe_nav.gui.readout import WrapLabel
from probe_nav.storage.sync import SyncStatus

TITLE = "RECORDS NOT SYNCED"
GRACE_S = 2.0  # queued this long (or a write unconfirmed this long) before the banner says so
REFRESH_MS = 1000  # the banner re-reads the status once a second


def clock_text(unix_s: float, now_unix_s: float) -> str:
    """HH:MM on the console's local clock; with the date too when it is not today's."""
    when, now = time.localtime(unix_s), time.localtime(now_unix_s)
    same_day = (when.tm_year, when.tm_yday) == (now.tm_year, now.tm_yday)
    return time.strftime("%H:%M" if same_day else "%d %b %H:%M", when)


def not_synced_text(status: SyncStatus | None, now_unix_s: float,
                    last_write_unix_s: float = math.nan, grace_s: float = GRACE_S) -> str:
    """The banner's text, '' when it is hidden (see the module docstring)."""
    if status is None:  # not on a department server
        return ""
    counts = status.counts
    parts: list[str] = []
    if counts.pending > 0:
        oldest = counts.oldest_unix_s
        waited_s = now_unix_s - oldest if math.isfinite(oldest) else math.inf
        if not status.server_ok or waited_s > grace_s:
            since = f" since {clock_text(oldest, now_unix_s)}" if math.isfinite(oldest) else ""
            why = "server away" if not status.server_ok else "sending"
            parts.append(f"{counts.pending} waiting{since} ({why})")
    elif _unconfirmed(status, now_unix_s, last_write_unix_s, grace_s):
        why = "server away" if not status.server_ok else "not yet confirmed by the server"
        parts.append(f"records since {clock_text(last_write_unix_s, now_unix_s)} waiting "
                     f"({why})")
    if counts.rejected > 0:
        parts.append(f"{counts.rejected} refused by the server")
    return f"{TITLE}  —  " + "; ".join(parts) if parts else ""


def _unconfirmed(status: SyncStatus, now_unix_s: float, last_write_unix_s: float,
                 grace_s: float) -> bool:
    """A write older than grace_s that no round has seen reach the server (last_sync_unix_s
    is when a round last found the queue empty; NaN: never)."""
    if not math.isfinite(last_write_unix_s) or now_unix_s - last_write_unix_s <= grace_s:
        return False
    last_sync = status.last_sync_unix_s
    return not (math.isfinite(last_sync) and last_sync >= last_write_unix_s)


class SyncBanner(WrapLabel):
    """RECORDS NOT SYNCED, hidden while synced. `source()` gives (status, last write) and is
    read every REFRESH_MS once start() is called; refresh(now) re-reads it at once."""

    def __init__(self, source: Callable[[], tuple[SyncStatus | None, float]],
                 parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.setObjectName("banner_records_not_synced")
        self.source = source
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hide()
        self._shown = ("", 0)  # (text, font pt) on screen
        self.timer = QTimer(self)  # a child: it dies with the banner, never fires late
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(lambda: self.refresh())

    def start(self) -> None:
        """Re-read the status every second."""
        self.refresh()
        self.timer.start()

    def stop(self) -> None:
        """No more re-reading (the window is closing)."""
        self.timer.stop()

    def refresh(self, now_unix_s: float | None = None) -> str:
        """Show what the status says now; returns the text ('' when hidden)."""
        status, last_write_unix_s = self.source()
        now = time.time() if now_unix_s is None else now_unix_s
        text = not_synced_text(status, now, last_write_unix_s)
        window = self.window()
        compact = window is not self and window.height() < style.ROOMY_MIN_H_PX
        font_pt = style.COMPACT_BANNER_PT if compact else style.BANNER_PT
        if (text, font_pt) == self._shown:
            return text
        self._shown = (text, font_pt)
        if not text:
            self.hide()
            return text
        self.setStyleSheet(f"background: {style.WARNING}; color: black; font-size: {font_pt}pt; "
                           "font-weight: bold; border-radius: 4px; padding: 4px 8px;")
        self.setText(text)
        self.setToolTip(status.last_error if status is not None else "")
        self.show()
        return text


__all__ = ["GRACE_S", "TITLE", "SyncBanner", "clock_text", "not_synced_text"]
