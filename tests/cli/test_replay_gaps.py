"""`probe-nav replay --json` on recordings with gaps and clock jumps: ticks only where frames are
(issue 14: a t_s jump to 1e15 s made it allocate 74.5 GiB of ticks), and bounded outputs."""

from __future__ import annotations

import json
from itertools import pairwise

from probe_nav.io.frames_csv import END_COMPLETE, end_line
from tests.in_process import run_main

FRAME_S = 0.1


def write_jumping(path, jump_to_s: float, n: int = 300) -> None:
    """n frames of 3 counts; from the middle on the device clock reads jump_to_s onwards."""
    lines = ["t_s,live_s,counts,real_s"]
    for i in range(n):
        t = (i + 1) * FRAME_S if i < n // 2 else jump_to_s + (i - n // 2) * FRAME_S
        lines.append(f"{t!r},{FRAME_S!r},3,{FRAME_S!r}")
    path.write_text("\n".join(lines) + "\n" + end_line(END_COMPLETE, n))


def test_a_clock_jump_adds_no_ticks(tmp_path) -> None:
    # the case: `sim serve --faults clockjump@30:1000000000` recorded, then replayed
    path = tmp_path / "jump.csv"
    write_jumping(path, 1e9)
    result = run_main("replay", str(path), "--json")
    assert result.returncode == 0, result.stderr
    ticks = [json.loads(line) for line in result.stdout.splitlines()]
    # one tick per frame, plus at most one in the jump: nothing for the 1e9 s in between
    assert 300 <= len(ticks) <= 302
    assert ticks[149]["t_s"] == 15.0 and ticks[-1]["t_s"] >= 1e9
    assert all(b["t_s"] > a["t_s"] for a, b in pairwise(ticks))


def test_ticks_times_cannot_resolve_are_one_line_and_exit_2(tmp_path) -> None:
    # at t_s = 1e15 float times are 0.125 s apart: 0.1 s ticks would repeat; 10 s ticks work
    path = tmp_path / "far.csv"
    write_jumping(path, 1e15)
    for extra in ((), ("--tick", "1e-9")):
        result = run_main("replay", str(path), "--json", *extra)
        assert result.returncode == 2, result
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "--tick" in lines[0] and "Traceback" not in result.stderr
    result = run_main("replay", str(path), "--json", "--tick", "10")
    assert result.returncode == 0, result.stderr
    ticks = [json.loads(line)["t_s"] for line in result.stdout.splitlines()]
    assert 0 < len(ticks) <= 300 and all(b > a for a, b in pairwise(ticks))
