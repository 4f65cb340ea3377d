"""Crash safety: writers killed with SIGKILL at random points of their work lose nothing they
acknowledged.

Each kill point is a point in the writer's own progress (drawn from a seeded RNG), never a time:
right after it was forked, right after it opened the store, or right after its k-th
acknowledged record. The kill then lands wherever the writer has got to by the time the signal
arrives (start-up, mid-transaction, mid-flush), and the same mix of kills happens on a slow,
loaded machine as on a fast one.

SQLite-only: it is about the SQLite file surviving its writer's death; on PostgreSQL a commit's
durability is the server's own (the test cluster even runs with fsync=off).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from probe_nav.cases.session import read_session_frames
from probe_nav.cases.store import CaseStore
from tests.cases.crash_writer import FRAMES_PER_RECORD, expected_counts, frame_counts

ROOT = Path(__file__).resolve().parents[2]
KILLS = 220
SEED = 20260509
MAX_ACKS = 12  # a writer killed after its k-th record: k uniform in 1..MAX_ACKS
P_FORKED, P_OPENED = 0.15, 0.15  # the other 70 % are killed after k records


def kill_plan(rng: random.Random) -> list[tuple[str, int]]:
    """Where each writer dies: ("forked", 0), ("open", 0) or ("ack", k)."""
    plan = []
    for _ in range(KILLS):
        draw = rng.random()
        if draw < P_FORKED:
            plan.append(("forked", 0))  # mid start-up: opening the database
        elif draw < P_FORKED + P_OPENED:
            plan.append(("open", 0))  # the case, the session folder, the first record
        else:
            plan.append(("ack", rng.randint(1, MAX_ACKS)))  # the next record or its frames
    return plan


@dataclass
class Seen:
    """What the writers reported before they died."""

    acked: dict[int, tuple[int, int]] = field(default_factory=dict)  # row id -> (gen, k)
    frames: dict[int, int] = field(default_factory=dict)  # gen -> frames handed to the OS
    acks_of: dict[int, int] = field(default_factory=dict)  # gen -> number of acks
    opened: set[int] = field(default_factory=set)  # gens whose store is open

    def take(self, words: list[str]) -> None:
        """Note one line of a writer (any order: a child may speak before the zygote's "pid")."""
        if words[0] == "open":
            self.opened.add(int(words[1]))
        elif words[0] == "ack":
            gen, k, row = int(words[1]), int(words[2]), int(words[3])
            # A row id handed out twice: the first record was rolled back after its ack.
            assert row not in self.acked, f"row {row}: {self.acked[row]} lost, then {gen, k}"
            self.acked[row] = (gen, k)
            self.acks_of[gen] = self.acks_of.get(gen, 0) + 1
        elif words[0] == "frames":
            self.frames[int(words[1])] = int(words[2])
        elif words[0] == "died":
            raise AssertionError(f"writer {words[1]} failed: {' '.join(words[2:])}")


def run_writers(db: Path, sessions: Path, plan: list[tuple[str, int]]) -> Seen:
    """Fork one writer per plan entry and SIGKILL it at its kill point."""
    seen = Seen()
    zygote = subprocess.Popen([sys.executable, "-m", "tests.cases.crash_writer", str(db),
                               str(sessions)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, bufsize=1)
    assert zygote.stdin is not None and zygote.stdout is not None

    def words() -> list[str]:
        line = zygote.stdout.readline()  # a hang here is bounded by pytest-timeout
        assert line, "the writer zygote died"
        return line.split()

    try:
        for gen, (point, k) in enumerate(plan):
            zygote.stdin.write(f"go {gen}\n")
            zygote.stdin.flush()
            while (w := words())[0] != "pid":  # the child may speak before the zygote does
                seen.take(w)
            pid = int(w[1])
            assert pid > 1
            if point == "open":
                while gen not in seen.opened:
                    seen.take(words())
            elif point == "ack":
                while seen.acks_of.get(gen, 0) < k:
                    seen.take(words())
            os.kill(pid, signal.SIGKILL)
            zygote.stdin.write(f"reap {pid}\n")
            zygote.stdin.flush()
            while (w := words())[0] != "reaped":
                seen.take(w)
    finally:
        zygote.stdin.close()
        zygote.wait(30)
    return seen


def test_sigkill_at_random_points_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    db, sessions = tmp_path / "cases.sqlite3", tmp_path / "sessions"
    sessions.mkdir()
    plan = kill_plan(random.Random(SEED))
    seen = run_writers(db, sessions, plan)

    # The kills really fell both after records and before the first one. After k acks is
    # certain by construction. Before: a start-up kill is sent the moment the test reads "pid" or
    # "open", while the writer still has to open the database, make its session folder and
    # commit a record with an fsync; even if, on a loaded machine, each such kill came too late
    # with probability 1/2, all ~66 of them would with probability 2^-66 ~ 1e-20.
    after_k = [gen for gen, (point, _k) in enumerate(plan) if point == "ack"]
    startup = [gen for gen, (point, _k) in enumerate(plan) if point != "ack"]
    assert all(seen.acks_of.get(gen, 0) >= plan[gen][1] for gen in after_k)
    assert len(seen.acked) >= sum(plan[gen][1] for gen in after_k)
    assert any(gen not in seen.acks_of for gen in startup)
    print(f"{len(seen.acked)} acknowledged records from {len(seen.acks_of)} of {KILLS} writers; "
          f"{sum(gen not in seen.acks_of for gen in startup)} of {len(startup)} start-up kills "
          "before the first record")

    with CaseStore.open(db) as store:
        assert store.integrity_ok()
        stored = {m.measurement_id: m for m in store.measurements("CRASH")}
        assert store.skipped_records == 0  # every row passes its checksum
    for row_id, (gen, k) in seen.acked.items():
        m = stored[row_id]  # a KeyError here is an acknowledged record lost
        assert m.node == f"g{gen}-k{k}"
        assert m.counts == expected_counts(gen, k)

    # Every writer killed after k >= 2 records had flushed frames (a flush every ~6 frames,
    # 7 frames per record), so sessions were recorded.
    assert all(gen in seen.frames for gen in after_k if plan[gen][1] >= 2)
    torn_total = 0
    for gen, written in seen.frames.items():
        frames = read_session_frames(sessions / f"gen-{gen:04d}")
        torn_total += frames.torn_lines
        n = len(frames.table)
        # Nothing handed to the OS is lost; at most the flush in flight when killed is extra.
        assert written <= n <= written + FRAMES_PER_RECORD + 5
        seq = frames.table.seq
        assert seq.tolist() == list(range(1, n + 1))
        assert frames.table.counts.tolist() == [frame_counts(int(s)) for s in seq]
    assert torn_total <= len(seen.frames)  # at most the one line in flight per writer
