"""Session recording: replay gives what was shown live; torn and unreadable files are handled."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from probe_nav.cases.session import (
    RecorderConfig,
    SessionRecorder,
    read_session_events,
    read_session_frames,
    repair_frames_file,
)
from probe_nav.core.pipeline import PipelineConfig, Processor, Readings, process_arrays
from probe_nav.drivers.frames import CountFrame, FaultFlag
from probe_nav.errors import UserError
from probe_nav.io.frames_csv import read_frames_csv
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.scenario import load
from tests.conftest import run_cli

# the background the user gave (sln-scan's tissue background is ~5 cps): no hot decision without
CONFIG = PipelineConfig(background_cps=5.0)


def _sim_frames(scenario: str, duration_s: float, seed: int) -> list[CountFrame]:
    sim = Simulation(load(scenario), seed)
    frames = []
    seq = 0
    while sim.t_s < duration_s:
        f = sim.step()
        flags = FaultFlag.OVER_RANGE if f.over_range else FaultFlag.NONE
        # As on the wire (ProbeLink carries microseconds): the engine's float live time can
        # exceed real_s by an ulp, which the frame CSV reader rightly refuses.
        live_s = min(round(f.live_s, 6), f.real_s)
        frames.append(CountFrame(seq, f.t_end_s, f.real_s, live_s, f.counts, flags=flags))
        seq += 1
    return frames


@pytest.fixture(scope="module")
def live_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list, list[dict]]:
    """A simulated sweep over a node processed live and recorded, with hot/cold events."""
    directory = tmp_path_factory.mktemp("s") / "session"
    processor = Processor(CONFIG)
    shown = []
    events = []
    with SessionRecorder(directory, device="simulator sln-scan seed 7") as rec:
        hot = False
        for frame in _sim_frames("sln-scan", 90.0, seed=7):
            rec.write(frame)
            reading = processor.push(frame)
            shown.append(reading)
            if reading.hot != hot:
                hot = reading.hot
                kind = "hot" if hot else "cold"
                rec.event(kind, t_s=frame.t_s)
                events.append({"t_s": frame.t_s, "event": kind})
    return directory, shown, events


def test_replay_of_recording_equals_live_readings(live_session) -> None:
    directory, shown, _events = live_session
    table = read_frames_csv(directory / "frames.csv")
    assert len(table) == len(shown)
    replayed = process_arrays(table.t_s, table.live_s, table.counts, table.real_s, table.flags,
                              CONFIG)
    live = Readings(*(np.array([getattr(r, name) for r in shown])
                      for name in Readings.__dataclass_fields__))
    for name, values in live.as_dict().items():
        np.testing.assert_array_equal(getattr(replayed, name), values, err_msg=name)
    assert live.hot.any() and not live.hot.all()  # the sweep really found the node


def test_replay_cli_events_match_live_events(live_session) -> None:
    directory, _shown, events = live_session
    done = run_cli("replay", str(directory / "frames.csv"), "--events", "--background-cps",
                   str(CONFIG.background_cps))
    assert done.returncode == 0, done.stderr
    replayed = [json.loads(line) for line in done.stdout.splitlines()]
    assert [e["event"] for e in replayed] == [e["event"] for e in events]
    assert [e["t_s"] for e in replayed] == pytest.approx([e["t_s"] for e in events], abs=1e-6)
    recorded = read_session_events(directory)
    assert [e["event"] for e in recorded.events if e["event"] in ("hot", "cold")] == [
        e["event"] for e in events]
    assert recorded.events[0]["event"] == "session_start"
    assert recorded.events[-1]["event"] == "session_end"
    assert recorded.events[-1]["frames"] == len(_shown)


def _frame(seq: int) -> CountFrame:
    return CountFrame(seq, seq * 0.01, 0.01, 0.0098, (seq % 13, 1))


def test_frames_reach_the_file_every_flush_period(tmp_path: Path) -> None:
    rec = SessionRecorder(tmp_path / "s", config=RecorderConfig(flush_period_s=0.05,
                                                                n_windows=2))
    for seq in range(1, 24):
        rec.write(_frame(seq))
        on_disk = len(read_session_frames(tmp_path / "s").table)
        assert on_disk == rec.frames_written
        assert rec.frames_pending <= 6  # never more than one period (5 frames) + the current
    rec.close()
    table = read_session_frames(tmp_path / "s").table
    assert table.seq.tolist() == list(range(1, 24))
    assert table.windows["w1"].tolist() == [1] * 23


def test_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    with SessionRecorder(tmp_path / "s") as rec:
        for seq in range(1, 11):
            rec.write(_frame(seq))
    path = tmp_path / "s" / "frames.csv"
    data = path.read_bytes()
    path.write_bytes(data + b"0.11,0.0098,7,0.0")  # a write torn by a crash
    frames = read_session_frames(path)
    assert (len(frames.table), frames.torn_lines) == (10, 1)
    assert repair_frames_file(path) == len(b"0.11,0.0098,7,0.0")
    assert path.read_bytes() == data
    assert len(read_frames_csv(path)) == 10


def test_unreadable_session_file_gets_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "frames.csv"
    bad.write_text("t_s,live_s,counts\n0.1,0.1,5\n0.2,0.1,five\n0.3,0.1,7\n")
    with pytest.raises(UserError, match="line 3") as err:
        read_session_frames(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match="cannot read"):
        read_session_frames(tmp_path / "missing.csv")
    (tmp_path / "events.jsonl").write_bytes(b'{"event": "hot", "t_s": 1}\n{"ev\xff\n\n'
                                            b'{"event": "cold", "t_s": 2}\n')
    events = read_session_events(tmp_path)
    assert [e["event"] for e in events.events] == ["hot", "cold"] and events.bad_lines == 1


def test_session_directory_is_not_reused(tmp_path: Path) -> None:
    SessionRecorder(tmp_path / "s").close()
    with pytest.raises(UserError, match="already"):
        SessionRecorder(tmp_path / "s")
    first = SessionRecorder.start(tmp_path / "all", label="case C-1")
    second = SessionRecorder.start(tmp_path / "all", label="case C-1")
    assert first.directory != second.directory
    assert first.directory.name.endswith("case_C-1")
    first.close()
    second.close()
