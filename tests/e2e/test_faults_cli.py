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


FAULTS = "garbage@1x100,drop@2x3,lowbat@2,unplug@3+3"
FIRST_FAULT_S = 1.0  # device time of the first fault in FAULTS
LAST_FAULT_BEFORE_UNPLUG_S = 2.5  # a frame ending after this was sent after drop@2x3 and lowbat@2
HANG_S = 120.0  # wall-clock bound on watching one server: only a hang gets near it


@dataclass
class Watched:
    """What the host saw of a `sim serve --faults FAULTS` process."""

    stats: LinkStats
    states: list[LinkState]
    first_frame_t_s: float
    heard_before_unplug_t_s: float  # the last frame heard before the port was lost (device time)
    low_battery: bool
    exit_status: int


def watch_faulty_server(serve, truth: Path) -> Watched:
    """Serve FAULTS at 5x real time and watch until the device is back after its unplug and 60
    frames came after it (the wall clock only bounds a hang)."""
    server = serve("--faults", FAULTS, "--speed", "5", "--truth", str(truth), "--seed", "4")
    # An unplug on a pty needs a stable URL: the server made a symlink for it.
    assert not server.url.startswith("/dev/pts/")
    device = open_device(server.url, "probelink")
    device.open()
    states: list[LinkState] = []
    first_t_s, low_battery, frames_after, before_unplug_t_s = None, False, 0, 0.0
    try:
        deadline = time.monotonic() + HANG_S
        while not (LinkState.DISCONNECTED in states and states[-1] is LinkState.CONNECTED
                   and frames_after > 60):
            assert time.monotonic() < deadline, states
            for event in device.poll(0.05):
                if isinstance(event, LinkEvent):
                    states.append(event.state)
                elif isinstance(event, FrameEvent):
                    first_t_s = event.frame.t_s if first_t_s is None else first_t_s
                    if LinkState.DISCONNECTED in states:
                        frames_after += 1
                    else:
                        before_unplug_t_s = event.frame.t_s
                elif isinstance(event, StatusEvent):
                    low_battery |= bool(event.status.faults & FaultFlag.LOW_BATTERY)
        stats = device.stats
    finally:
        device.close()
    assert first_t_s is not None
    return Watched(stats, states, first_t_s, before_unplug_t_s, low_battery, server.stop())


def test_serve_with_faults_and_truth(serve, tmp_path) -> None:
    # The server's device clock starts before it prints its URL, and its first fault comes
    # 1 device s (0.2 s at 5x) later. Bytes sent before the host opens the port are flushed when
    # it does, and bytes still unread when the device is unplugged (0.6 s after the start) are
    # lost with its pty, so a host that this process could not run in time (a loaded machine)
    # cannot see the faults. The frames heard tell: the first counted before 1 s and one ending
    # after 2.5 s heard before the unplug mean the host read the whole faulty stretch; otherwise
    # the run is repeated on a fresh server (5 late hosts in a row would be a real fault).
    for attempt in range(5):
        truth = tmp_path / f"truth-{attempt}.csv"
        seen = watch_faulty_server(serve, truth)
        if (seen.first_frame_t_s < FIRST_FAULT_S
                and seen.heard_before_unplug_t_s > LAST_FAULT_BEFORE_UNPLUG_S):
            break
    else:
        pytest.fail("the host never read the faulty stretch (1 to 2.5 device s) in 5 runs")
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
