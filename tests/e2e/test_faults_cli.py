"""`probe-nav sim serve --faults SPEC --truth FILE` and `probe-nav sim run` as real processes."""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from probe_nav.drivers.device import FrameEvent, LinkEvent, StatusEvent
from probe_nav.drivers.frames import FaultFlag, LinkState, LinkStats
from probe_nav.drivers.registry import open_device
from tests.conftest import run_cli
from tests.in_process import run_main


@pytest.mark.parametrize(
    ("spec", "needle"),
    [
        ("unplg@10", "unknown fault 'unplg'"),
        ("unplug@ten", "expected KIND@START"),
        ("clockjump@60", "needs :PARAM"),
        ("bitflip@8-4", "END must be after START"),
    ],
)
def test_malformed_fault_spec_is_one_line_and_exit_2(spec: str, needle: str) -> None:
    result = run_main("sim", "serve", "--faults", spec)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "--faults" in lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_bad_truth_file_is_refused(tmp_path) -> None:
    result = run_main("sim", "serve", "--truth", str(tmp_path / "truth.txt"))
    assert result.returncode == 2 and ".csv or .jsonl" in result.stderr


# The first fault 4 device s (0.8 s at 5x) after the server starts: time for this process to open
# the port even on a loaded machine.
FAULTS = "garbage@4x100,drop@5x3,lowbat@5,unplug@6+3"
FIRST_FAULT_S = 4.0  # device time of the first fault in FAULTS
LAST_FAULT_BEFORE_UNPLUG_S = 5.5  # a frame ending after this was sent after drop@5x3 and lowbat@5
HANG_S = 120.0  # wall-clock bound on watching one server: only a hang gets near it


@dataclass
class Watched:
    """What the host saw of a `sim serve --faults FAULTS` process."""

    stats: LinkStats
    states: list[LinkState]
    caught_up_t_s: float  # the newest frame of the first batch the host read
    last_before_unplug_t_s: float  # the last frame decoded before the link went down
    low_battery: bool
    exit_status: int
    host_fell_behind: bool  # the server dropped bytes the host did not read in time


def watch_faulty_server(serve, truth: Path) -> Watched:
    """Serve FAULTS at 5x real time and watch until the device is back after its unplug and 60
    frames came after it (the wall clock only bounds a hang)."""
    server = serve("--faults", FAULTS, "--speed", "5", "--truth", str(truth), "--seed", "4")
    # An unplug on a pty needs a stable URL: the server made a symlink for it.
    assert not server.url.startswith("/dev/pts/")
    device = open_device(server.url, "probelink")
    device.open()
    states: list[LinkState] = []
    caught_up_t_s, last_t_s, low_battery, frames_after = None, 0.0, False, 0
    try:
        deadline = time.monotonic() + HANG_S
        while not (LinkState.DISCONNECTED in states and states[-1] is LinkState.CONNECTED
                   and frames_after > 60):
            assert time.monotonic() < deadline, states
            events = device.poll(0.05)
            frames = [e.frame.t_s for e in events if isinstance(e, FrameEvent)]
            if caught_up_t_s is None and frames:
                caught_up_t_s = max(frames)
            for event in events:
                if isinstance(event, LinkEvent):
                    states.append(event.state)
                elif isinstance(event, FrameEvent):
                    if LinkState.DISCONNECTED not in states:
                        last_t_s = event.frame.t_s
                    frames_after += 1 if LinkState.DISCONNECTED in states else 0
                elif isinstance(event, StatusEvent):
                    low_battery |= bool(event.status.faults & FaultFlag.LOW_BATTERY)
        stats = device.stats
    finally:
        device.close()
    assert caught_up_t_s is not None
    exit_status = server.stop()
    return Watched(stats, states, caught_up_t_s, last_t_s, low_battery, exit_status,
                   "dropped because the host did not read" in (server.stderr or ""))


def test_serve_with_faults_and_truth(serve, tmp_path) -> None:
    # The server's device clock starts before it prints its URL. A host that this process could
    # not start in time (a loaded machine) may miss the garbage: what the device sent before the
    # host's driver had finished connecting is not all decoded. The first batch of frames the
    # host read tells: if it reaches the first fault, the host was late. A host starved of CPU
    # later loses what the device sent meanwhile: with the unplug, whatever was still unread in
    # the pty (its last frame before the unplug must come after the faults), and whatever did not
    # fit in it (the server says so). Such a run is repeated on a
    # fresh server (5 in a row would be a real fault).
    for attempt in range(5):
        truth = tmp_path / f"truth-{attempt}.csv"
        seen = watch_faulty_server(serve, truth)
        if (seen.caught_up_t_s < FIRST_FAULT_S
                and seen.last_before_unplug_t_s > LAST_FAULT_BEFORE_UNPLUG_S
                and not seen.host_fell_behind):
            break
    else:
        pytest.fail("the host never read the link from before the garbage to after it "
                    f"(last run: caught up at {seen.caught_up_t_s:g} s, last frame before the "
                    f"unplug at {seen.last_before_unplug_t_s:g} s)")
    assert seen.exit_status == 0
    stats = seen.stats
    # One reconnection for the unplug; on a loaded machine also one per silent-port reopen (a
    # handshake that took the host longer than the start-up allowance), each counted as such.
    assert stats.reconnects - stats.silent_reopens == 1
    assert stats.bad_frames >= 1 and stats.dropped_frames >= 3
    assert seen.low_battery
    with truth.open() as fh:
        assert fh.readline().startswith("#")
        rows = list(csv.DictReader(fh))
    assert list(rows[0])[:3] == ["t_s", "live_s", "counts"]
    assert sum(row["sent"] == "0" for row in rows) == 3
    assert len(rows) > 100 and all(float(r["true_rate_cps"]) > 30 for r in rows)


def test_sim_run_writes_frames_and_truth(tmp_path) -> None:
    result = run_cli("sim", "run", "--scenario", "sln-scan", "--duration", "5", "--seed", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("#") and lines[1].startswith("t_s,live_s,counts,")
    assert lines[-1] == "# end: complete, 100 frames"  # the CSV ends like a whole recording
    rows = list(csv.DictReader(lines[1:-1]))
    assert len(rows) == 100
    assert float(rows[-1]["t_s"]) == pytest.approx(5.0)
    counted = sum(int(r["counts"]) for r in rows)
    expected = sum(float(r["observed_rate_cps"]) * 0.05 for r in rows)
    assert abs(counted - expected) < 4.5 * expected**0.5
    out = tmp_path / "run.jsonl"
    result = run_cli("sim", "run", "--scenario", "rsl-dual-isotope", "--duration", "1",
                     "--faults", "saturate@0.5+0.2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 20 and len(records[0]["counts"]) == 2
    assert [r["over_range"] for r in records] == [False] * 10 + [True] * 4 + [False] * 6
