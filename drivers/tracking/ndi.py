"""NDI trackers (Polaris, Vega optical; Aurora electromagnetic) through scikit-surgerynditracker
(the optional extra `probe-nav[ndi]`), as a PoseSource.

```
[tracker]
source = "ndi"
tracker_type = "polaris"        # polaris, vega or aurora
romfiles = ["probe.rom"]        # the probe's tool definition (optical trackers), relative paths
serial_port = "/dev/ttyUSB0"    # polaris / aurora (omit to let the library search)
ip_address = "169.254.10.10"    # vega
port = 8765                     # vega
tool = 0                        # which tool is the probe (order of romfiles / ports)
```

A thread asks the tracker for a frame at its rate (`rate_hz`, 60 Hz by default: NDI's frame
clock); a tool the tracker does not see comes back as NaN and becomes `valid=False` at the last
known pose. The sample's time is the host's monotonic clock when the reply arrived, less
`latency_ms` (NDI's own advice: the reply's delay is not constant; temporal calibration measures
what remains). The tracker's quality figure (the marker fit's RMS error, mm, for optical tools)
goes to `error_mm`. Tested against a stand-in with the library's get_frame() contract: no NDI
hardware was at hand.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.drivers.tracking.registry import COMMON_KEYS, CommonOptions

log = logging.getLogger(__name__)
TYPES = ("polaris", "vega", "aurora")
KEYS = {"tracker_type", "romfiles", "serial_port", "ip_address", "port", "tool", "rate_hz"}
QUEUE_LEN = 4096  # about a minute at 60 Hz when nobody polls


class NdiPoseSource:
    """PoseSource of one tool of an NDI tracker (module docstring). `tracker` is an object with
    scikit-surgerynditracker's NDITracker interface (get_frame, stop_tracking, close), already
    tracking."""

    def __init__(self, tracker: Any, tool: int = 0, common: CommonOptions | None = None,
                 rate_hz: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 name: str = "ndi") -> None:
        self.name = name
        self.tracker, self.tool = tracker, int(tool)
        self.common = common or CommonOptions()
        self.period_s = 1.0 / float(rate_hz)
        self._clock = clock
        self._queue: deque[PoseSample] = deque(maxlen=QUEUE_LEN)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last: PoseSample | None = None
        self.frames = self.missing = self.rejected = 0
        self._log = RateLimitedLog(log, clock=clock)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def poll(self) -> list[PoseSample]:
        """The samples since the last call, oldest first."""
        with self._lock:
            out = list(self._queue)
            self._queue.clear()
        return out

    def close(self) -> None:
        """Stop the thread and the tracker (idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join(timeout=2.0)
        for step in ("stop_tracking", "close"):
            try:
                getattr(self.tracker, step)()
            except Exception as exc:  # a tracker unplugged already: nothing left to stop
                log.info("%s: %s at close: %s", self.name, step, exc)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.tracker.get_frame()
            except Exception as exc:  # a serial error: said (rate-limited), retried
                self._log.log(logging.WARNING, "frame", "%s: no frame from the tracker: %s",
                              self.name, exc)
                self._stop.wait(0.5)
                continue
            sample = self.sample(frame, self._clock())
            if sample is not None:
                with self._lock:
                    self._queue.append(sample)
            self._stop.wait(self.period_s)

    def sample(self, frame: tuple[list[Any], ...], host_s: float) -> PoseSample | None:
        """The probe's PoseSample of one get_frame() reply (None: no tool or a bad reply)."""
        self.frames += 1
        try:
            matrix = np.asarray(frame[3][self.tool], dtype=float)
            quality = float(frame[4][self.tool]) if len(frame) > 4 else math.nan
        except (IndexError, TypeError, ValueError):
            self.rejected += 1
            return None
        when = host_s - self.common.latency_s
        if matrix.shape != (4, 4):
            self.rejected += 1
            return None
        if not np.all(np.isfinite(matrix[:3])):  # the tool is not seen
            self.missing += 1
            last = self._last
            if last is None:
                return None
            return PoseSample(when, last.position_mm, last.axis, valid=False)
        try:
            sample = PoseSample.from_matrix(matrix, when, self.common.tip_offset_mm,
                                            self.common.tool_axis,
                                            error_mm=quality if math.isfinite(quality)
                                            else math.nan)
        except ValueError as exc:
            self.rejected += 1
            self._log.log(logging.WARNING, "bad", "%s: pose refused: %s", self.name, exc)
            return None
        self._last = sample
        return sample


def from_config(table: dict[str, Any], base_dir: Path, common: CommonOptions) -> NdiPoseSource:
    """An NdiPoseSource from a [tracker] table (module docstring)."""
    unknown = sorted(set(table) - KEYS - set(COMMON_KEYS))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} for source ndi ({', '.join(sorted(KEYS))})")
    kind = table.get("tracker_type")
    if kind not in TYPES:
        raise ValueError(f"tracker_type must be one of {', '.join(TYPES)}, got {kind!r}")
    settings: dict[str, Any] = {"tracker type": kind}
    roms = table.get("romfiles", [])
    if not isinstance(roms, list) or not all(isinstance(r, str) for r in roms):
        raise ValueError("romfiles must be a list of file names")
    if roms:
        settings["romfiles"] = [str(base_dir / r) for r in roms]
    for key, name in (("serial_port", "serial port"), ("ip_address", "ip address"),
                      ("port", "port")):
        if key in table:
            settings[name] = table[key]
    tool = table.get("tool", 0)
    rate = table.get("rate_hz", 60.0)
    if isinstance(tool, bool) or not isinstance(tool, int) or tool < 0:
        raise ValueError("tool must be a tool's index (0, 1, ...)")
    if isinstance(rate, bool) or not isinstance(rate, int | float) or not 1 <= rate <= 400:
        raise ValueError("rate_hz must be 1-400")
    try:
        from sksurgerynditracker.nditracker import NDITracker
    except ImportError:
        raise ValueError("NDI trackers need the optional extra: pip install "
                         "'probe-nav[ndi]' (scikit-surgerynditracker)") from None
    try:
        tracker = NDITracker(settings)
        tracker.start_tracking()
    except Exception as exc:  # the library raises IOError, KeyError, OSError, ValueError ...
        raise ValueError(f"the NDI {kind} did not start: {exc}") from None
    return NdiPoseSource(tracker, tool, common, float(rate), name=f"ndi {kind}")
