"""Writer process for the crash-safety test: forks writers on command so each starts fast.

Protocol on stdin/stdout (one line each): `go GEN` -> forks a child that writes records and
session frames forever and prints `pid P`; the child prints `open GEN` once its store is open,
`ack GEN K ID` after each committed measurement and `frames GEN N` after each flush of its session
file (or `died GEN ERROR` if it fails). `reap P` -> waits for the (killed) child and prints
`reaped P`. The parent test kills children with SIGKILL at points of this progress.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from probe_nav.cases.session import RecorderConfig, SessionRecorder
from probe_nav.cases.store import CaseStore
from probe_nav.core.timed import TimedCountResult
from probe_nav.drivers.frames import CountFrame

FRAMES_PER_RECORD = 7


def expected_counts(gen: int, k: int) -> int:
    """Counts of measurement K of writer GEN (the test checks them)."""
    return (gen * 7919 + k * 104729) % 100000


def frame_counts(seq: int) -> int:
    """Counts of frame SEQ in every session file."""
    return (seq * 31) % 97


def _say(text: str) -> None:
    os.write(1, (text + "\n").encode())


def child(db: Path, sessions: Path, gen: int) -> None:
    store = CaseStore.open(db)
    _say(f"open {gen}")
    if not store.cases():
        store.create_case("CRASH", "sln-breast", "Tc-99m", created_unix_s=0.0)
    rec = SessionRecorder(sessions / f"gen-{gen:04d}",
                          config=RecorderConfig(flush_period_s=0.05, fsync_interval_s=1e9))
    k, seq = 0, 0
    while True:
        counts = expected_counts(gen, k)
        result = TimedCountResult(counts, 10.0, 10.0, counts / 10, 1.0, 0.0, 0.0, counts / 10,
                                  1.0, True, True, None)
        m = store.record("CRASH", f"g{gen}-k{k}", "ex_vivo", result, measured_unix_s=float(k))
        _say(f"ack {gen} {k} {m.measurement_id}")
        k += 1
        for _ in range(FRAMES_PER_RECORD):
            seq += 1
            before = rec.frames_written
            rec.write(CountFrame(seq, seq * 0.01, 0.01, 0.0099, (frame_counts(seq),)))
            if rec.frames_written != before:
                _say(f"frames {gen} {rec.frames_written}")


def main() -> None:
    db, sessions = Path(sys.argv[1]), Path(sys.argv[2])
    for line in sys.stdin:
        cmd, arg = line.split()
        if cmd == "go":
            pid = os.fork()
            if pid == 0:
                try:
                    child(db, sessions, int(arg))
                except BaseException as exc:  # tell the test at once instead of leaving it waiting
                    _say(f"died {arg} {exc!r}".replace("\n", " "))
                finally:
                    os._exit(0)
            _say(f"pid {pid}")
        elif cmd == "reap":
            os.waitpid(int(arg), 0)
            _say(f"reaped {arg}")


if __name__ == "__main__":
    main()
