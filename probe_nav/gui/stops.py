"""Ctrl-C and SIGTERM for a Qt event loop: the Python handlers only note the signal, and a Qt timer
wakes the interpreter every WAKE_MS to act on it (close the console, which finishes the session
recording). A handler that raised KeyboardInterrupt would raise it inside whatever Qt callback the
interpreter happened to be running (the audio output's readData, a paint), where it is printed as
a traceback and lost, and the window stays open; raised while PySide6 is being imported it aborts
the process (shiboken: "could not initialize part 2", status 134). So the console's commands
install these handlers first, before Qt is imported (this module imports Qt only in `watch`).
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QObject, QTimer

log = logging.getLogger(__name__)

WAKE_MS = 200  # how long a noted signal may wait for the event loop to act on it
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_status_for(signum: int) -> int:
    """128 + the signal number, as a shell reports a process ended by it (SIGINT 130, SIGTERM
    143)."""
    return 128 + int(signum)


class StopSignals:
    """While installed, SIGINT and SIGTERM only set `received` (the first one counts); `watch`
    turns that into a call on the Qt event loop."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._old: dict[int, object] = {}
        self._acted = False
        self._timer: QTimer | None = None

    @property
    def exit_status(self) -> int | None:
        """130 / 143 once a stop signal came, else None."""
        return None if self.received is None else exit_status_for(self.received)

    def _note(self, signum: int, _frame: object) -> None:
        # nothing else here: this runs between two bytecodes of whatever Python code is running
        if self.received is None:
            self.received = signum

    def install(self) -> StopSignals:
        """Take over SIGINT and SIGTERM (main thread only; elsewhere they are left alone)."""
        for sig in STOP_SIGNALS:
            with contextlib.suppress(ValueError):  # not the main thread
                self._old.setdefault(sig, signal.signal(sig, self._note))
        return self

    def watch(self, on_stop: Callable[[], None], parent: QObject | None = None) -> QTimer:
        """Every WAKE_MS, call `on_stop()` once if a signal was noted. The timer also gives the
        interpreter the chance to run the handler at all while Qt sits in its event loop."""
        from PySide6.QtCore import QTimer

        timer = QTimer(parent)
        timer.setInterval(WAKE_MS)

        def check() -> None:
            if self.received is None or self._acted:
                return
            self._acted = True
            log.info("stopping on %s", signal.Signals(self.received).name)
            try:
                on_stop()
            except Exception:  # a Qt callback must not raise: log it, the loop goes on
                log.exception("error while stopping")

        timer.timeout.connect(check)
        timer.start()
        self._timer = timer
        return timer

    def restore(self) -> None:
        """Stop watching and give the signals their previous handlers back."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        for sig, old in self._old.items():
            signal.signal(sig, old)  # type: ignore[arg-type]
        self._old.clear()

    def __enter__(self) -> StopSignals:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.restore()
