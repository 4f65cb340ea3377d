"""The console's background step, free of Qt: B measures a background (asking once before it
replaces one), a typed value is entered, and each is kept per case and per energy window in a
`BackgroundBook` that is saved beside the console's settings, so it survives reconnects, a switch
of window and back, and a restart of the console (shown as "carried over" with its age).

Nothing here measures: the LiveSession counts; this decides what B means now and remembers the
result.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from probe_nav.core.background import Background
from probe_nav.live import LiveSession
from probe_nav.live.backgrounds import BackgroundBook, BackgroundSource, SetBackground

log = logging.getLogger(__name__)

STATE_FILE = "console-backgrounds.json"
CONFIRM_WINDOW_S = 5.0  # a second B within this many seconds replaces the background
MAX_CARRY_AGE_S = 12 * 3600.0  # a background older than an operation is not carried at start


@dataclass(frozen=True, slots=True)
class Press:
    """What pressing B did: started a measurement, or asks to press again (and the message)."""

    started: bool
    message: str


class BackgroundStep:
    """Backgrounds of the open case, per window; see the module docstring."""

    def __init__(self, state_path: Path | None,
                 clock: Callable[[], float] = time.time) -> None:
        self.state_path = state_path  # None: nothing saved (screenshots, tests)
        self.clock = clock
        self.book = BackgroundBook()
        self._asked_at: float | None = None

    # ------------------------------------------------------------ the book on disk

    def load(self, source: str) -> str | None:
        """Read the saved book; returns its case id (for the console to reopen) or None. A
        missing, unreadable or stale file, or one measured with another probe or simulated
        patient (`source`), is logged and ignored: it only ever loses a carry."""
        if self.state_path is None:
            return None
        try:
            data = json.loads(self.state_path.read_text(encoding="utf-8"))
            book = BackgroundBook.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("%s: saved backgrounds not used (%s)", self.state_path, exc)
            return None
        if book.source != source:
            log.info("%s: saved backgrounds are of %r, not %r: not carried", self.state_path,
                     book.source, source)
            return None
        now = self.clock()
        book.entries = {w: e for w, e in book.entries.items()
                        if e.age_s(now) <= MAX_CARRY_AGE_S}
        self.book = book
        return book.case_id if book.entries else None

    def save(self) -> None:
        """Write the book (atomically, mode 0600); a failure is logged, never raised."""
        if self.state_path is None:
            return
        from probe_nav.files import atomic_write_text

        try:
            self.state_path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_text(self.state_path, json.dumps(self.book.to_dict(), indent=1),
                              overwrite=True)
        except OSError as exc:
            log.warning("%s: backgrounds not saved (%s)", self.state_path, exc)

    # ------------------------------------------------------------ cases and windows

    def case_opened(self, case_id: str | None, source: str | None = None) -> None:
        """Another case (another patient) or probe: its backgrounds, none yet."""
        source = self.book.source if source is None else source
        if case_id != self.book.case_id or source != self.book.source:
            self.book = BackgroundBook(case_id, source=source)
            self.save()

    def apply(self, session: LiveSession, window: str) -> SetBackground | None:
        """Give a (new) session the background kept for this window, or none: BACKGROUND NOT
        SET. Returns what it applied."""
        entry = self.book.get(window)
        if entry is None:
            if session.background is not None:
                session.clear_background()
            return None
        carried = entry.carried()
        session.set_background(carried)
        return carried

    # ------------------------------------------------------------ B and entry

    def press(self, session: LiveSession, duration_s: float) -> Press:
        """B: measure the background now, unless one is set and this is the first press within
        CONFIRM_WINDOW_S: then ask to press again (replacing a background is asked once)."""
        now = self.clock()
        entry = session.background_entry
        if entry is not None and (self._asked_at is None
                                  or now - self._asked_at > CONFIRM_WINDOW_S):
            self._asked_at = now
            b = entry.background
            return Press(False, f"B again within {CONFIRM_WINDOW_S:g} s to replace the background "
                                f"{b.rate_cps:.1f} ± {b.sd_cps:.1f} cps ({entry.describe(now)})")
        self._asked_at = None
        session.start_background(duration_s)
        return Press(True, f"measuring the background for {duration_s:g} s: keep the probe on "
                           "normal tissue")

    def measured(self, background: Background, window: str) -> SetBackground:
        """A B measurement finished: keep it for this window (the session already uses it)."""
        entry = SetBackground(background, BackgroundSource.MEASURED, self.clock(), window)
        self.book.put(entry)
        self.save()
        return entry

    def enter(self, session: LiveSession, rate_cps: float, window: str) -> SetBackground:
        """A typed background (ValueError if it is not a finite rate >= 0)."""
        entry = SetBackground(Background.given(rate_cps), BackgroundSource.ENTERED,
                              self.clock(), window)
        session.set_background(entry)
        self.book.put(entry)
        self.save()
        return entry
