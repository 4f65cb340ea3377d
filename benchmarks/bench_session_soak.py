"""Soak: an 8-hour session at 100 frames/s (2.88 M frames) through SessionRecorder, faster than
real time. Prints peak RSS at 1 h and 8 h (memory must stay flat) and verifies the recording is
complete (every frame read back, sequence unbroken).

Run: .venv/bin/python benchmarks/bench_session_soak.py [--hours 8] [--rate 100]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from probe_nav.cases.session import RecorderConfig, SessionRecorder
from probe_nav.drivers.frames import CountFrame
from probe_nav.io.frames_csv import FrameCsvError


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB (Linux reports kB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1024 if sys.platform != "darwin" else peak / 1024 / 1024


def count_rows(path: Path) -> tuple[int, int, int]:
    """Frames in the file streamed (low memory), seq checked: (rows, first seq, last seq)."""
    rows, first, last = 0, -1, -1
    with path.open("rb") as fh:
        header_seen = False
        for line in fh:
            if line.startswith(b"#"):
                continue
            if not header_seen:
                header_seen = True
                continue
            seq = int(line.split(b",", 5)[4])
            if seq != last + 1 and last >= 0:
                raise FrameCsvError(f"{path}: sequence broken at {last} -> {seq}")
            first = seq if first < 0 else first
            last = seq
            rows += 1
    return rows, first, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--hours", type=float, default=8.0)
    parser.add_argument("--rate", type=float, default=100.0, help="frames per second")
    args = parser.parse_args()
    period_s = 1.0 / args.rate
    n_frames = round(args.hours * 3600 * args.rate)
    per_hour = round(3600 * args.rate)
    rng = np.random.default_rng(8)
    with tempfile.TemporaryDirectory() as tmp:
        rec = SessionRecorder(Path(tmp) / "soak", device="soak benchmark",
                              config=RecorderConfig(flush_period_s=0.1))
        start = time.perf_counter()
        block = 100_000
        done = 0
        while done < n_frames:
            counts = rng.poisson(20.0 * period_s, size=min(block, n_frames - done)).tolist()
            for i, c in enumerate(counts):
                seq = done + i
                rec.write(CountFrame(seq, round((seq + 1) * period_s, 9), period_s,
                                     period_s * 0.999, (c,)))
                if (seq + 1) % per_hour == 0:
                    hour = (seq + 1) // per_hour
                    if hour in (1, 8) or hour == round(args.hours):
                        print(f"hour {hour}: peak RSS {peak_rss_mb():.1f} MB after "
                              f"{time.perf_counter() - start:.1f} s", flush=True)
            done += len(counts)
        rec.close()
        elapsed = time.perf_counter() - start
        size_mb = rec.frames_path.stat().st_size / 1e6
        rows, first, last = count_rows(rec.frames_path)
        complete = rows == n_frames and first == 0 and last == n_frames - 1
        print(f"frames {n_frames:,} recorded in {elapsed:.1f} s "
              f"({n_frames / elapsed / 1e3:.0f} k frames/s, "
              f"{args.hours * 3600 / elapsed:.0f}x real time); file {size_mb:.0f} MB")
        print(f"recording complete: {complete} ({rows:,} rows, seq {first}..{last})")
        if not complete:
            sys.exit(1)


if __name__ == "__main__":
    main()
