"""Ground truth beside the stream: one line per counted frame, CSV or JSON Lines.

The CSV starts with the frame-CSV columns (`t_s,live_s,counts`, docs/frames-csv.md) so the file
also replays as frames; truth columns follow, among them the probe's true mid-frame pose as the
frame CSV's pose columns x_mm,y_mm,z_mm,ux,uy,uz (printed with repr, bit-identical). `t_s` is
true scenario time (the device clock in the stream may jump, the truth does not). JSONL carries
the same plus every window's rates.
"""

from __future__ import annotations

import csv
import json
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

from probe_nav.simulator.engine import SimFrame

CSV_TRUTH = ("true_rate_cps", "observed_rate_cps", "total_rate_cps", "x_mm", "y_mm", "z_mm",
             "ux", "uy", "uz", "gain", "extra_rate_cps")  # x_mm..uz: the pose columns


class TruthWriter:
    """Writes the truth of every frame to a .csv or .jsonl file, or to an open text stream
    (CSV unless `jsonl`); thread-safe, flushed line by line."""

    def __init__(self, target: str | Path | TextIO, n_windows: int = 1,
                 jsonl: bool = False) -> None:
        self._owned = isinstance(target, str | Path)
        if isinstance(target, str | Path):
            path = Path(target)
            suffix = path.suffix.lower()
            if suffix not in (".csv", ".jsonl"):
                raise ValueError(f"truth file {path} must end in .csv or .jsonl")
            jsonl = suffix == ".jsonl"
            self._file: TextIO = path.open("w", encoding="utf-8", newline="")
        else:
            self._file = target
        self._jsonl = jsonl
        self._n_windows = n_windows
        self._lock = threading.Lock()
        self._closed = False
        self.lines = 0
        if not self._jsonl:
            self._csv = csv.writer(self._file, lineterminator="\n")
            self._file.write("# probe-nav simulator ground truth, one row per counted frame\n")
            extra = [f"w{i}" for i in range(1, n_windows)]
            self._csv.writerow(["t_s", "live_s", "counts", "real_s", "seq", *extra, "sent",
                                "flags", "over_range", *CSV_TRUTH])
            self._file.flush()

    def __call__(self, frame: SimFrame, extra: dict[str, Any]) -> None:
        """Record one frame (the Emulator truth-sink signature)."""
        with self._lock:
            if self._closed:
                return
            if self._jsonl:
                self._file.write(json.dumps(self._record(frame, extra)) + "\n")
            else:
                self._csv.writerow(self._row(frame, extra))
            self._file.flush()
            self.lines += 1

    def _record(self, frame: SimFrame, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "t_s": round(frame.t_end_s, 9), "real_s": frame.real_s, "live_s": frame.live_s,
            "counts": list(frame.counts), "over_range": frame.over_range,
            "total_counts": frame.total_counts, **extra, "truth": asdict(frame.truth),
        }

    def _row(self, frame: SimFrame, extra: dict[str, Any]) -> list[Any]:
        t = frame.truth
        counts = list(frame.counts[: self._n_windows])
        counts += [""] * (self._n_windows - len(counts))
        return [
            f"{frame.t_end_s:.6f}", f"{frame.live_s:.9f}", counts[0], f"{frame.real_s:.6f}",
            extra.get("frame_seq", ""), *counts[1:], int(bool(extra.get("sent", True))),
            extra.get("flags", 0), int(frame.over_range),
            f"{t.true_rate_cps:.6g}", f"{t.observed_rate_cps:.6g}", f"{t.total_rate_cps:.6g}",
            *(repr(float(x)) for x in t.position_mm), *(repr(float(x)) for x in t.axis),
            f"{t.gain:.4g}", f"{t.extra_rate_cps:.6g}",
        ]

    def close(self) -> None:
        """Flush and close the file."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._file.flush()
                if self._owned:
                    self._file.close()
