"""The one log line of a process that runs without sound (no Qt here, so it can be said even when
Qt or QtMultimedia cannot be loaded). The console's NO AUDIO banner shows the same reason."""

from __future__ import annotations

import logging

log = logging.getLogger("probe_nav.audio")


def log_no_sound(reason: str) -> None:
    """Say once, as a warning, why there is no sound; the caller runs on without it."""
    log.warning("no audio output available: %s; running without sound", reason)
