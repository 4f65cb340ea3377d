"""Rate-limited logging: a garbage stream or a flapping link must not flood the log.

Events are grouped by a key (e.g. "crc_errors"). The first `burst` events of a key are logged in
full; after that the key is quiet and at most one summary line per `interval_s` says how many more
came and what the last one said. A key with nothing pending that stayed quiet for `interval_s`
starts afresh (its next event is logged in full again). So one key writes at most `burst` lines,
then at most one line per `interval_s`, however fast its events come.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

_Line = tuple[int, str, tuple[object, ...]]  # (level, message, its % arguments)


@dataclass
class _KeyState:
    """What has been logged and held back for one key."""

    shown: int = 0  # events logged in full in the current episode
    pending: int = 0  # events held back since the last line
    pending_level: int = logging.NOTSET
    last_text: str = ""
    total: int = 0
    last_line_s: float = 0.0  # clock at the last line written for this key
    last_event_s: float = 0.0


class RateLimitedLog:
    """Logs through `logger`, at most `burst` lines per key and then one summary per `interval_s`.

    Thread-safe. `clock` is a monotonic clock in seconds (a fake one in tests).
    """

    def __init__(self, logger: logging.Logger, *, burst: int = 3, interval_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1 or interval_s <= 0:
            raise ValueError("burst must be >= 1 and interval_s > 0")
        self.logger = logger
        self.burst = burst
        self.interval_s = interval_s
        self.clock = clock
        self._keys: dict[str, _KeyState] = {}
        self._lock = threading.Lock()

    def log(self, level: int, key: str, msg: str, *args: object, count: int = 1,
            burst: int | None = None) -> bool:
        """Log `msg % args` for `count` events of `key`, or hold it back; True if written now.

        `burst` overrides the instance's for this key (e.g. more lines for rarer events)."""
        burst = self.burst if burst is None else burst
        if count <= 0 or not self.logger.isEnabledFor(level):
            return False
        now = self.clock()
        with self._lock:
            st = self._keys.setdefault(key, _KeyState(last_line_s=now, last_event_s=now))
            if st.pending == 0 and now - st.last_event_s >= self.interval_s:
                st.shown = 0  # quiet for a whole interval: a new episode
            st.total += count
            st.last_event_s = now
            line: _Line | None
            if st.shown < burst:
                st.shown += 1
                st.last_line_s = now
                if st.shown == burst:
                    msg += f" (more of these are summarised every {self.interval_s:g} s)"
                line = (level, msg, args)
            else:
                st.pending += count
                st.pending_level = max(st.pending_level, level)
                st.last_text = msg % args if args else msg
                line = self._take_summary(st, now, force=False)
        if line is None:
            return False
        self._write(line)
        return True

    def flush(self, force: bool = False) -> int:
        """Write the summaries that are due (all of them with `force`); returns how many."""
        now = self.clock()
        with self._lock:
            due = [s for st in self._keys.values()
                   if (s := self._take_summary(st, now, force)) is not None]
        for summary in due:
            self._write(summary)
        return len(due)

    def reset(self, key: str) -> None:
        """Forget `key` (e.g. the condition ended): its next event is logged in full."""
        with self._lock:
            self._keys.pop(key, None)

    def _take_summary(self, st: _KeyState, now: float, force: bool) -> _Line | None:
        if st.pending == 0 or not (force or now - st.last_line_s >= self.interval_s):
            return None
        line = (st.pending_level, "%d more in %.0f s (%d in all), the last: %s",
                (st.pending, now - st.last_line_s, st.total, st.last_text))
        st.pending, st.pending_level, st.last_line_s = 0, logging.NOTSET, now
        return line

    def _write(self, line: _Line) -> None:
        level, msg, args = line
        self.logger.log(level, msg, *args, stacklevel=3)
