"""Opening a device as the console's LiveSession: recorded, with the user's meter, no
background until the user sets one, and the navigator that gets its frames (if any)."""

from __future__ import annotations

import logging
from typing import Any

from probe_nav.core.pipeline import PipelineConfig
from probe_nav.gui.settings import GuiSettings
from probe_nav.live import LiveSession


def open_session(url: str, protocol: str, settings: GuiSettings,
                 navigator: Any = None) -> LiveSession:
    """Open a device and wrap it in a LiveSession with the user's meter (and the navigator
    that gets its frames, if any)."""
    from probe_nav.cases.session import SessionRecorder
    from probe_nav.drivers.registry import open_device
    from probe_nav.errors import UserError

    device = open_device(url, protocol)
    device.open()
    recorder: SessionRecorder | None
    try:  # every session is recorded (docs/session-files.md): frames and events, appended
        recorder = SessionRecorder.start(label=protocol, device=f"{protocol} {url}")
    except UserError as exc:  # e.g. a read-only data folder: the readout runs, NOT RECORDING
        logging.getLogger(__name__).warning("session not recorded: %s", exc)
        recorder = None
    except Exception:
        device.close()
        raise
    # no background until the user sets one (B, entry, or carried over from this case)
    return LiveSession(device, PipelineConfig(meter=settings.meter), recorder=recorder,
                       navigator=navigator)
