"""How `demo` and `gui` start the console: stop signals first (before Qt is imported:
gui/stops.py says why), then the display check (before Qt can abort the process), then the
console, or one line saying why and the terminal monitor instead."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from probe_nav.errors import UserError

if TYPE_CHECKING:
    from probe_nav.gui.stops import StopSignals


def console_or_monitor(*, console_only: bool, console: Callable[[StopSignals], int],
                       no_display_line: Callable[[str], str],
                       monitor: Callable[[], int]) -> int:
    """`console(stops)` when a display can be used; else print `no_display_line(problem)` on
    stderr and run `monitor()` (with `console_only`: UserError instead). A signal received while
    the display was being checked ends with its status (130/143)."""
    from probe_nav.gui.stops import StopSignals
    from probe_nav.qt_app import display_problem

    stops = StopSignals().install()
    try:
        problem = display_problem(headless_ok=console_only)
        if problem is None:
            return console(stops)
    finally:
        stops.restore()
    if stops.exit_status is not None:  # stopped while the display was being checked
        return stops.exit_status
    if console_only:
        raise UserError(f"the console cannot open: {problem}")
    print(no_display_line(problem), file=sys.stderr, flush=True)
    return monitor()
