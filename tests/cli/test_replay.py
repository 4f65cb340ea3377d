"""`probe-nav replay`: error handling (as a real process) and the JSON Lines outputs."""

from __future__ import annotations

import json

import numpy as np
import pytest

import probe_nav.core.pipeline as pipeline
from probe_nav.cli.main import main
from probe_nav.cli.replay import tick_indices
from tests.conftest import run_cli
from tests.core.fakes import CusumDetector
from tests.in_process import run_main

FRAME_S = 0.05


def write_recording(path, n: int = 1200, seed: int = 2, node=(30.0, 35.0)) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.round((np.arange(n) + 1) * FRAME_S, 6)
    rate = np.where((t > node[0]) & (t <= node[1]), 300.0, 20.0)
    counts = rng.poisson(rate * FRAME_S)
    lines = ["# test recording", "t_s,live_s,counts,real_s"]
    lines += [f"{a!r},{FRAME_S!r},{c},{FRAME_S!r}" for a, c in zip(t.tolist(), counts.tolist(),
                                                                  strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return t


def assert_one_line_error(result, *needles: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0]


def test_missing_file(tmp_path) -> None:
    missing = tmp_path / "nope.csv"
    assert_one_line_error(run_main("replay", str(missing), "--events"), str(missing))


@pytest.mark.parametrize(("body", "needle"), [
    ("t_s,live_s,counts\n0.05,0.05,1\n0.1,0.05,x\n", "line 3"),
    ("t_s,counts\n0.05,1\n", "line 1"),
    ("# just a comment\n", "no header"),
])
def test_malformed_file_names_file_and_line(tmp_path, body: str, needle: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(body)
    assert_one_line_error(run_main("replay", str(bad), "--json"), str(bad), needle)


def test_binary_file_and_bad_options(tmp_path) -> None:
    binary = tmp_path / "bin.csv"
    binary.write_bytes(b"\xff\xfe\x00\x81garbage")
    assert_one_line_error(run_main("replay", str(binary), "--events"), str(binary))
    good = tmp_path / "ok.csv"
    write_recording(good, n=10)
    assert_one_line_error(run_main("replay", str(good), "--events", "--tick", "1"), "--tick")
    assert_one_line_error(run_main("replay", str(good), "--json", "--background-cps", "-3"),
                          "--background-cps")
    assert_one_line_error(run_main("replay", str(good)), "--events")  # one output mode required
    assert_one_line_error(run_main("replay", str(good), "--json", "--meter", "3"), "--meter")


@pytest.fixture
def fake_detector(monkeypatch):
    monkeypatch.setattr(pipeline, "default_detector_factory", CusumDetector)


def run_in_process(capsys, *args: str) -> list[dict]:
    assert main(["replay", *args]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_events_mark_the_node(tmp_path, capsys, fake_detector) -> None:
    path = tmp_path / "rec.csv"
    t = write_recording(path)
    # no background set: no decision, and stderr says why
    assert run_in_process(capsys, str(path), "--events") == []
    # the user says the first 10 s are background (the recording starts away from the node)
    events = run_in_process(capsys, str(path), "--events", "--background-s", "10")
    assert [e["event"] for e in events][:2] == ["hot", "cold"]
    assert 30.0 < events[0]["t_s"] < 32.0 and 35.0 <= events[1]["t_s"] < 40.0
    assert all(e["t_s"] in set(t.tolist()) for e in events)  # the t_s of the causing frame
    # background given: decisions start with the first frame, same node found
    given = run_in_process(capsys, str(path), "--events", "--background-cps", "20")
    assert given[0]["event"] == "hot" and 30.0 < given[0]["t_s"] < 32.0


def test_json_ticks_are_causal(tmp_path, capsys, fake_detector) -> None:
    path = tmp_path / "rec.csv"
    write_recording(path)
    bare = run_in_process(capsys, str(path), "--json", "--tick", "0.25")
    assert all(t["background_cps"] is None and t["hot"] is None for t in bare)  # none set
    assert all(t["rate_cps"] is not None for t in bare)  # the gross rate is still there
    ticks = run_in_process(capsys, str(path), "--json", "--tick", "0.25", "--background-s", "10")
    assert len(ticks) == 240 and ticks[0]["t_s"] == 0.25 and ticks[-1]["t_s"] == 60.0
    for key in ("rate_cps", "rate_sd_cps", "net_cps", "net_sd_cps", "z", "hot", "over_range"):
        assert key in ticks[0]
    assert ticks[10]["background_sd_cps"] is None or ticks[10]["background_sd_cps"] > 0
    # what is reported at 31.0 s is the same whether or not later frames exist in the file
    lines = path.read_text().splitlines()
    cut = tmp_path / "cut.csv"
    cut.write_text("\n".join(lines[: 2 + 620]) + "\n")  # frames up to t = 31.0 s
    head = run_in_process(capsys, str(cut), "--json", "--tick", "0.25", "--background-s", "10")
    assert head[-1]["t_s"] == 31.0 and head[-1] == ticks[123]


def test_tick_indices_never_use_later_frames() -> None:
    t = np.array([0.05, 0.1, 0.3, 0.3, 0.45])
    ticks, idx = tick_indices(t, 0.1)
    np.testing.assert_allclose(ticks, [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_array_equal(idx, [1, 1, 3, 3])
    assert np.all(t[idx] <= ticks)


def test_replay_subprocess_with_the_real_detector(tmp_path) -> None:
    pytest.importorskip("probe_nav.core.detect", reason="detector not importable yet",
                        exc_type=ImportError)
    path = tmp_path / "rec.csv"
    write_recording(path)
    result = run_cli("replay", str(path), "--events", "--background-s", "10")
    assert result.returncode == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events and events[0]["event"] == "hot" and 30.0 < events[0]["t_s"] < 33.0


def test_simulator_recording_replays_and_finds_the_node(tmp_path) -> None:
    """`sim run` writes truth columns beside the frames; replay ignores them and finds the node."""
    import json
    import subprocess
    import sys

    out = tmp_path / "scan.csv"
    run = subprocess.run(
        [sys.executable, "-m", "probe_nav", "sim", "run", "--scenario", "sln-scan",
         "--duration", "60", "--seed", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=120,
    )
    assert run.returncode == 0, run.stderr
    replay = subprocess.run(
        [sys.executable, "-m", "probe_nav", "replay", str(out), "--events",
         "--background-cps", "5"],
        capture_output=True, text=True, timeout=120,
    )
    assert replay.returncode == 0, replay.stderr
    events = [json.loads(line) for line in replay.stdout.splitlines()]
    # The 21 s loop: towards the node (5 s background) from 2 s, over it (~5x) from 6 to 11 s,
    # the second-echelon node near 14-17 s, the way back passes over the node at 19 s.
    onsets = [e["t_s"] for e in events if e["event"] == "hot"]
    assert all(4.5 <= t % 21 <= 12 or 13 <= t % 21 <= 21 for t in onsets), onsets
    dwells_found = {int(t // 21) for t in onsets if 4.5 <= t % 21 <= 11}
    assert dwells_found == {0, 1, 2}, onsets
