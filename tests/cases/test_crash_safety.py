"""Crash safety: writers killed with SIGKILL at random moments lose nothing they acknowledged."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from probe_nav.cases.session import read_session_frames
from probe_nav.cases.store import CaseStore
from tests.cases.crash_writer import FRAMES_PER_RECORD, expected_counts, frame_counts

ROOT = Path(__file__).resolve().parents[2]
KILLS = 220
SEED = 20260509


def test_sigkill_at_random_moments_keeps_every_acknowledged_record(tmp_path: Path) -> None:
    db, sessions = tmp_path / "cases.sqlite3", tmp_path / "sessions"
    sessions.mkdir()
    rng = random.Random(SEED)
    zygote = subprocess.Popen([sys.executable, "-m", "tests.cases.crash_writer", str(db),
                               str(sessions)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, bufsize=1)
    acked: dict[int, tuple[int, int]] = {}  # measurement id -> (gen, k)
    frames_acked: dict[int, int] = {}
    try:
        for gen in range(KILLS):
            zygote.stdin.write(f"go {gen}\n")
            zygote.stdin.flush()
            pid = int(zygote.stdout.readline().split()[1])
            # Kill anywhere from mid-start-up (import done, DB opening) to many records in.
            time.sleep(rng.choice([0.0, rng.uniform(0, 0.005), rng.uniform(0, 0.06),
                                   rng.uniform(0, 0.06)]))
            os.kill(pid, signal.SIGKILL)
            zygote.stdin.write(f"reap {pid}\n")
            zygote.stdin.flush()
            while True:
                words = zygote.stdout.readline().split()
                if words[0] == "reaped":
                    break
                if words[0] == "ack":
                    acked[int(words[3])] = (int(words[1]), int(words[2]))
                elif words[0] == "frames":
                    frames_acked[int(words[1])] = int(words[2])
    finally:
        zygote.stdin.close()
        zygote.wait(10)

    gens_with_acks = {gen for gen, _k in acked.values()}
    assert len(acked) > KILLS  # the writers really wrote between kills
    assert 20 <= len(gens_with_acks) < KILLS  # kills both before and after first records
    print(f"{len(acked)} acknowledged records from {len(gens_with_acks)} of {KILLS} writers")
    with CaseStore.open(db) as store:
        assert store.integrity_ok()
        stored = {m.measurement_id: m for m in store.measurements("CRASH")}
        assert store.skipped_records == 0  # every row passes its checksum
    for row_id, (gen, k) in acked.items():
        m = stored[row_id]
        assert m.node == f"g{gen}-k{k}"
        assert m.counts == expected_counts(gen, k)

    torn_total = 0
    for gen, written in frames_acked.items():
        frames = read_session_frames(sessions / f"gen-{gen:04d}")
        torn_total += frames.torn_lines
        n = len(frames.table)
        # Nothing handed to the OS is lost; at most the flush in flight when killed is extra.
        assert written <= n <= written + FRAMES_PER_RECORD + 5
        seq = frames.table.seq
        assert seq.tolist() == list(range(1, n + 1))
        assert frames.table.counts.tolist() == [frame_counts(int(s)) for s in seq]
    assert frames_acked  # sessions were recorded
    assert torn_total == 0 or torn_total <= len(frames_acked)
