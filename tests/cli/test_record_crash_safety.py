"""`probe-nav record` killed with SIGKILL 200 times at points of its own progress: every earlier
recording stays intact, and every new file is either absent or a readable prefix of the true
frames that the reader calls incomplete (or, past its end line, a whole recording). Ctrl-C and
SIGTERM keep the partial recording with an `interrupted` end line and exit 130 / 143.

Kill points are points in the recorder's progress (its PROBE_NAV_RECORD_TRACE lines), drawn from
a seeded RNG, never times: right after it is ready (device opening), right after its k-th flush or
first fsync (the kill lands wherever it has got to: mid-acquisition, mid-write), or exactly at a
named point where it stops itself (SIGSTOP) - the file made but not named, the end line written,
the rename begun, both names linked, the file published, the N42 written - so the same mix of
kills happens on a slow, loaded machine as on a fast one. Recorders run as forks of a zygote
(tests/cli/record_zygote.py) that imported probe-nav once: ~0.2 s per recording.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from probe_nav.io.frames_csv import FrameTable, read_frames_csv
from probe_nav.io.n42 import read_n42

ROOT = Path(__file__).resolve().parents[2]
KILLS = 200
SEED = 20261128
SPEED, DURATION_S = "20", "3"  # 60 frames of 50 ms: 3 flushes of 1 s, an fsync every 2 s
REFERENCE_S = "60"  # the truth: 1,200 frames, so frames after a gap (below) are checked too
RECORD = ("record", "--sim", "sln-static", "--seed", "3", "--speed", SPEED)
STOPS = ("opened", "ended", "publishing", "linked", "published")


class Zygote:
    """The forking recorder process and the lines its children print."""

    def __init__(self, data_dir: Path) -> None:
        env = os.environ | {"PROBE_NAV_DATA_DIR": str(data_dir)}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.cli.record_zygote"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     cwd=ROOT, env=env, bufsize=1)
        self.pending: list[list[str]] = []
        self.messages: list[str] = []  # lines that are neither traces nor exits (stderr)

    def send(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def words(self) -> list[str]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # a hang here is bounded by pytest-timeout
        assert line, "the zygote died"
        words = line.split()
        assert words[:1] != ["traceback"], line
        return words

    def start(self, trace: str, *args: str) -> int:
        self.send(f"go {trace} {' '.join(args)}")
        while (w := self.words())[0] != "pid":
            self.pending.append(w)  # a child may speak before the zygote does
        return int(w[1])

    def next_of(self, pid: int) -> list[str]:
        """The next line of child `pid` (its trace: [point, detail...]; ["exit", status])."""
        while True:
            w = self.pending.pop(0) if self.pending else self.words()
            if w[0] == "probe-nav-trace" and int(w[1]) == pid:
                return w[2:]
            if w[0] == "exit" and int(w[1]) == pid:
                return ["exit", w[2]]
            self.messages.append(" ".join(w))

    def reap(self, pid: int) -> int:
        self.send(f"reap {pid}")
        while True:
            w = self.words()
            if w[0] == "reaped" and int(w[1]) == pid:
                return int(w[2])
            self.messages.append(" ".join(w))

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Run:
    """One recorder: where it writes and where it is to be killed."""

    out: Path
    force: bool
    kill: tuple[str, int] | None  # ("ready"|"flushed"|"fsynced", k) or ("stop", 0); None: finish
    stop: str = ""
    duration_s: str = DURATION_S
    flushed: int = 0  # frames the recorder said it had handed to the OS before it was killed


@dataclass
class Tally:
    kills: Counter = field(default_factory=Counter)  # kill point -> kills
    outcomes: Counter = field(default_factory=Counter)  # what each kill left
    finished: int = 0  # runs that got to exit before their kill point (or had none)
    frames_checked: int = 0
    torn_lines: int = 0  # kills that landed mid-write
    seq_gaps: int = 0  # frames the simulator's pty dropped while the recorder was not scheduled


def plan_run(rng: random.Random, i: int, directory: Path, complete: list[Path]) -> Run:
    """Every 6th run finishes; the others are killed at a drawn point."""
    force_targets = [p for p in complete if p.suffix == ".csv"
                     and not p.with_name(f"{p.stem}.partial.csv").exists()]
    draw = rng.random()
    if draw < 0.12 and force_targets:
        out, force = rng.choice(force_targets), True
    elif draw < 0.24:
        out, force = directory / f"r{i:04d}.n42", False
    else:
        out, force = directory / f"r{i:04d}.csv", False
    if i % 6 == 5:
        return Run(out, force, None)
    draw = rng.random()
    if draw < 0.10:
        return Run(out, force, ("ready", 0))
    if draw < 0.50:
        return Run(out, force, ("flushed", rng.randint(1, 4)))
    if draw < 0.60:
        return Run(out, force, ("fsynced", 1))
    stops = STOPS + (("n42-written",) if out.suffix == ".n42" else ())
    return Run(out, force, ("stop", 0), rng.choice(stops))


def drive(zygote: Zygote, run: Run) -> tuple[int, str]:
    """Start the run and kill it at its point; (status, where it was killed or 'finished')."""
    args = [*RECORD, "--duration", run.duration_s, "--out", str(run.out)]
    if run.out.suffix == ".n42":
        args.append("--no-spectrum")
    if run.force:
        args.append("--force")
    pid = zygote.start(f"stop:{run.stop}" if run.stop else "on", *args)
    seen: Counter = Counter()
    where = "finished"
    while True:
        w = zygote.next_of(pid)
        if w[0] == "exit":
            break
        seen[w[0]] += 1
        if w[0] == "flushed":
            run.flushed = int(w[1])
        point, k = run.kill or ("", 0)
        if (point == "stop" and w[0] == run.stop) or (point and point != "stop"
                                                       and w[0] == point and seen[point] >= k):
            os.kill(pid, signal.SIGKILL)
            where = run.stop if point == "stop" else f"{point} {k}"
            break
    status = zygote.reap(pid)
    if where != "finished" and status == 0 and point != "stop":
        # Trace lines are read as they come; a run whose last ones were read late had already
        # finished when the kill was sent (a stop point holds the run until killed: never).
        where = "finished"
    if where != "finished":
        assert status == -signal.SIGKILL, (where, status)
    return status, where


def check_rows(table: FrameTable, reference: dict[int, tuple[int, float]],
               tally: Tally | None = None) -> None:
    """The rows are true frames of the simulated probe, in order, with its counts and live
    times. Seqs rise by one but for gaps where the simulator's pty (~14 KB, no flow control, as a
    UART) dropped frames while a loaded host did not schedule the recorder: what the recorder was
    given is checked by its own count (Run.flushed), not by the seqs."""
    assert table.seq is not None
    seqs = table.seq.tolist()
    steps = [b - a for a, b in itertools.pairwise(seqs)]
    assert all(step >= 1 for step in steps), seqs
    if tally is not None:
        tally.seq_gaps += sum(step - 1 for step in steps)
    for seq, counts, live in zip(seqs, table.counts.tolist(), table.live_s.tolist(),
                                 strict=True):
        if seq in reference:
            assert reference[seq] == (counts, live), seq


def check_new(run: Run, reference: dict[int, tuple[int, float]], tally: Tally) -> list[Path]:
    """What a killed (or finished) run left: each file readable, prefixes called incomplete."""
    partial = run.out.with_name(f"{run.out.stem}.partial.csv")
    left = []
    if partial.exists():
        table = read_frames_csv(partial)
        check_rows(table, reference, tally)
        assert len(table) >= run.flushed, (len(table), run.flushed)  # nothing handed over lost
        tally.frames_checked += len(table)
        tally.torn_lines += table.torn_lines
        if table.end is None:
            assert "incomplete: recording interrupted after" in table.notice
            tally.outcomes["partial, incomplete"] += 1
        elif table.end == "complete":  # killed between its end line and its rename
            tally.outcomes["partial, complete end line"] += 1
        else:
            # the recorder lost the device (a starved host can miss frames long enough for the
            # link to be judged gone), said so in its end line, and was killed before its rename
            assert table.end.startswith("interrupted (device lost"), table.end
            tally.outcomes["partial, ended by a lost device"] += 1
        left.append(partial)
    if run.out.exists() and run.out.suffix == ".n42":
        recording = read_n42(run.out)
        assert any(r.startswith("end: complete") for r in recording.remarks)
        tally.outcomes["N42 written"] += 1
        left.append(run.out)
    elif run.out.exists():
        table = read_frames_csv(run.out)
        assert table.complete and len(table) == 60, (table.end, len(table))
        check_rows(table, reference, tally)
        tally.frames_checked += len(table)
        tally.outcomes["published, complete"] += 1
        left.append(run.out)
    if not left:
        tally.outcomes["nothing written"] += 1
    return left


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_200_sigkills_of_record_lose_no_recording(tmp_path: Path) -> None:
    directory = tmp_path / "recordings"
    directory.mkdir()
    zygote = Zygote(tmp_path / "data")
    rng = random.Random(SEED)
    tally = Tally()
    try:
        # The truth: a complete recording of the same seeded probe, counts and live time by seq.
        ref_run = Run(directory / "reference.csv", False, None, duration_s=REFERENCE_S)
        assert drive(zygote, ref_run) == (0, "finished")
        ref = read_frames_csv(ref_run.out)
        reference = {int(s): (int(c), float(v))
                     for s, c, v in zip(ref.seq, ref.counts, ref.live_s, strict=True)}
        known = {ref_run.out: digest(ref_run.out)}  # every earlier file and its content
        complete = [ref_run.out]
        i = 0
        while sum(tally.kills.values()) < KILLS:
            i += 1
            run = plan_run(rng, i, directory, complete)
            before = dict(known)
            status, where = drive(zygote, run)
            if where == "finished":
                tally.finished += 1
                assert status == 0, (run, status, zygote.messages[-5:])
            else:
                tally.kills[where.split()[0]] += 1
            # Every earlier recording is intact; a --force target is intact or a whole new one.
            for path, sha in before.items():
                if path == run.out and run.force and digest(path) != sha:
                    table = read_frames_csv(path)
                    assert table.complete and len(table) == 60
                    tally.outcomes["replaced by a complete recording (--force)"] += 1
                    continue
                assert path.exists(), f"{path} lost (run {i}, killed at {where})"
                assert digest(path) == sha, f"{path} changed (run {i}, killed at {where})"
            left = check_new(run, reference, tally) if not run.force else []
            if run.force:
                partial = run.out.with_name(f"{run.out.stem}.partial.csv")
                if partial.exists():
                    left.append(partial)
                    table = read_frames_csv(partial)
                    check_rows(table, reference)
                    assert table.end in (None, "complete")
            # Nothing else appeared: no temporary or hidden file anywhere.
            names = {p.name for p in directory.iterdir()}
            assert names == {p.name for p in [*known, *left]}, names ^ {p.name for p in known}
            for path in left:
                known[path] = digest(path)
                if path.suffix in (".csv", ".n42") and not path.name.endswith(".partial.csv"):
                    complete.append(path)
            known.update({p: digest(p) for p in complete if p.exists()})
    finally:
        zygote.close()
    print(f"{sum(tally.kills.values())} SIGKILLs {dict(tally.kills)}, {tally.finished} runs "
          f"finished; left: {dict(tally.outcomes)}; {tally.frames_checked} frames checked, "
          f"{tally.torn_lines} torn lines, {tally.seq_gaps} frames dropped by the pty")
    # Kills landed at every kind of point, and left every kind of file.
    assert set(tally.kills) >= {"ready", "flushed", "fsynced", *STOPS, "n42-written"}
    assert tally.outcomes["partial, incomplete"] >= 20
    assert tally.outcomes["partial, complete end line"] >= 5
    assert tally.outcomes["published, complete"] >= 5
    assert tally.outcomes["nothing written"] >= 5


@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_and_sigterm_keep_the_partial_recording(tmp_path: Path, sig: int,
                                                       status: int) -> None:
    zygote = Zygote(tmp_path / "data")
    out = tmp_path / "cut.csv"
    try:
        pid = zygote.start("on", *RECORD, "--duration", "600", "--out", str(out))
        while zygote.next_of(pid) != ["flushed", "40"]:
            pass
        os.kill(pid, sig)
        while (w := zygote.next_of(pid))[0] != "exit":
            pass
        assert int(w[1]) == status
        assert zygote.reap(pid) == status
    finally:
        zygote.close()
    table = read_frames_csv(out)
    name = signal.Signals(sig).name
    assert table.end == f"interrupted ({name})" and len(table) >= 40
    assert table.notice == f"{out}: recording interrupted ({name}) after {len(table)} frames"
    said = [m for m in zygote.messages if m.startswith("probe-nav: interrupted")]
    assert len(said) == 1, zygote.messages
    head, _, rest = said[0].partition(" frames (")
    kept_s, _, where = rest.partition(" s) in ")
    assert (head, where) == (f"probe-nav: interrupted: kept {len(table)}", str(out))
    # shown to 0.1 s: the recorder sums real_s flush by flush, numpy pairwise (2.15 -> 2.1 / 2.2)
    assert abs(float(kept_s) - table.real_s.sum()) <= 0.05 + 1e-9, said
    assert not out.with_name("cut.partial.csv").exists()
    assert oct(out.stat().st_mode & 0o777) == "0o600"
