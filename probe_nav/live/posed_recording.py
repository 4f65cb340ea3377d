"""`posed.csv` beside a session's frames: every frame navigation handled, with the pose it was
given (docs/session-files.md). It is a frame CSV with the pose columns, so `probe-nav locate
SESSION/posed.csv` re-localises a case after the fact; a frame that got no pose has six empty
pose cells (docs/frames-csv.md). Crash-safe as the session's frames are (probe_nav.io.recording:
written as posed.partial.csv, renamed when closed). A write failure ends this file only, logged
once: the console and the session's own recording go on.
"""

from __future__ import annotations

import logging
from pathlib import Path

from probe_nav.drivers.frames import CountFrame
from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.io.recording import Durability, RecordingFile, end_reason

POSED_FILE = "posed.csv"
POSED_PARTIAL = "posed.partial.csv"
log = logging.getLogger(__name__)


class PosedRecording:
    """Appends posed frames to SESSION/posed.partial.csv; close() publishes posed.csv."""

    def __init__(self, directory: Path, n_windows: int = 1,
                 durability: Durability | None = None) -> None:
        self.directory = Path(directory)
        self._file: RecordingFile | None = RecordingFile(
            self.directory / POSED_PARTIAL, self.directory / POSED_FILE,
            durability=durability or Durability(flush_period_s=0.1, fsync_period_s=1.0))
        self._n_windows = n_windows  # at least; the first frame may bring more (all are kept)
        self.frames = 0

    def _start(self, n_windows: int) -> None:
        assert self._file is not None
        self._file.start(max(self._n_windows, n_windows),
                         ("probe-nav posed frames: the pose each frame was given (tip mm, unit "
                          "axis; tracker frame)",), pose=True)

    @property
    def path(self) -> Path | None:
        """Where the file is now (None once it failed)."""
        return None if self._file is None else self._file.path

    def write(self, frame: CountFrame, pose: PoseSample | None) -> None:
        """One frame and its pose (None: no pose at its time)."""
        if self._file is None:
            return
        try:
            if not self._file.started:
                self._start(len(frame.counts))
            self._file.write(frame, None if pose is None else (pose.position_mm, pose.axis))
            self.frames += 1
        except OSError as exc:
            log.error("posed frames no longer recorded (%s): %s kept", exc, self._file.path)
            self._file.abort(exc)
            self._file = None

    def close(self) -> None:
        """Finish the file as complete (idempotent)."""
        if self._file is None:
            return
        file, self._file = self._file, None
        try:
            if not file.started:
                self._file = file
                self._start(1)
                self._file = None
            file.finish()
        except OSError as exc:
            log.error("posed frames not finished cleanly: %s", end_reason(exc))
            file.abort(exc)
