"""The session's recording behind one rule: a failing disk stops the recording, never the readout
(the worst failure is a wrong number shown as live; a recording that cannot go on is said once,
closed with what it holds, and the session runs on without it)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from probe_nav.drivers.frames import CountFrame

if TYPE_CHECKING:
    from probe_nav.cases.session import SessionRecorder

log = logging.getLogger("probe_nav.live")


class GuardedRecording:
    """Frames and events to the session files (cases.session), or nowhere once the disk failed."""

    def __init__(self, recorder: SessionRecorder | None, on_stop: Callable[[str], None]) -> None:
        self.recorder = recorder  # None: not recording (never started, or stopped by a failure)
        self._on_stop = on_stop  # the message for the user when the recording stops

    def event(self, kind: str, t_s: float | None = None, **fields: object) -> None:
        """One event line (link, hot, background_set ...)."""
        recorder = self.recorder
        if recorder is not None:
            self._guarded(lambda: recorder.event(kind, t_s=t_s, **fields))

    def frame(self, frame: CountFrame) -> None:
        """One frame line."""
        recorder = self.recorder
        if recorder is not None:
            self._guarded(lambda: recorder.write(frame))

    def close(self) -> None:
        """Finish the recording (its end line)."""
        recorder = self.recorder
        if recorder is not None:
            recorder.close()
            log.info("session recording closed: %d frames in %s", recorder.frames_written,
                     recorder.directory)

    def _guarded(self, write: Callable[[], None]) -> None:
        try:
            write()
        except OSError as exc:
            self._on_stop(f"session recording stopped: {exc.strerror or exc}")
            log.warning("session recording to %s failed and stopped: %s",
                        self.recorder.directory if self.recorder else "?", exc)
            abort = getattr(self.recorder, "abort", None)
            if abort is not None:
                abort(exc)  # keeps what was written, with an `interrupted` end line
            self.recorder = None
