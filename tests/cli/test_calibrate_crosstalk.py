"""`probe-nav calibrate crosstalk` in-process: on the simulator's bench, from files and on a
(stand-in) device; stored as the probe's crosstalk calibration; bad input and a source too weak
to measure store nothing. Every test runs on a SQLite file and on PostgreSQL
(tests/backends.py)."""

from __future__ import annotations

import io
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from probe_nav.calibration.crosstalk import SpillMatrix
from probe_nav.cli.acquire import Acquisition
from probe_nav.drivers.frames import CountFrame, DeviceInfo, EnergyWindow
from probe_nav.qc.crosstalk import active_spill
from probe_nav.qc.store import QcStore
from tests.backends import QC_SCHEMA, Db, backend_fixture
from tests.in_process import run_main

WINDOWS = (EnergyWindow(20.0, 45.0, "I-125"), EnergyWindow(126.0, 155.0, "Tc-99m"))


def _csv(path: Path, window_counts: list[list[int]], live_s: float = 0.99,
         real_s: float = 1.0) -> Path:
    """A frame CSV: one row per frame, columns counts, w1, ..."""
    extra = [f"w{i}" for i in range(1, len(window_counts[0]))]
    lines = [",".join(["t_s", "live_s", "counts", "real_s", *extra])]
    for i, row in enumerate(window_counts):
        cells = [repr(real_s * (i + 1)), repr(live_s), str(row[0]), repr(real_s)]
        lines.append(",".join(cells + [str(c) for c in row[1:]]))
    lines.append(f"# end: complete, {len(window_counts)} frames")
    path.write_text("\n".join(lines) + "\n")
    return path


db = backend_fixture("qc.sqlite", QC_SCHEMA)


def _records(db: Db) -> int:
    """The records stored (a SQLite file that was never made holds none)."""
    if db.path is not None and not db.path.exists():
        return 0
    with QcStore(db.arg) as store:
        return len(store.records())


def _common(db: Db) -> list[str]:
    return ["--db", db.arg, "--operator", "ann"]


def test_on_the_simulator_bench(db: Db) -> None:
    done = run_main("calibrate", "crosstalk", "--sim", "rsl-dual-isotope", "--duration", "20",
                    "--seed", "4", *_common(db), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["n_windows"] == 2 and [w["name"] for w in out["windows"]] == ["I-125", "Tc-99m"]
    matrix = SpillMatrix.parse(out["spills"], 2)
    tc = out["sources"][1]
    assert tc["nuclide"] == "Tc-99m" and tc["window"] == 1
    found, truth = matrix.fraction(1, 0), tc["expected_spill"][0]
    assert abs(found.fraction - truth) < 4 * found.sd, (found, truth)  # counting noise only
    assert 0.085 < truth < 0.105  # the physics at 20 mm: 9.6 % (issue 18: 9.5 %)
    with QcStore(db.arg) as store:
        probe = store.find_probe("probe-nav simulated probe", "SIM-0001")
        assert active_spill(store, probe, 2, WINDOWS) == matrix
        assert store.latest(probe, "calibration", "crosstalk").id == out["record"]


def test_on_the_bench_text_output_and_deeper_source(db: Db) -> None:
    done = run_main("calibrate", "crosstalk", "--sim", "rsl-dual-isotope", "--duration", "5",
                    "--nuclide", "Tc-99m", "--depth-mm", "40", "--probe", "PN-3:7", *_common(db))
    assert done.returncode == 0, done.stderr
    assert "spill 1:0:" in done.stdout and "spill matrix: 1:0=" in done.stdout
    assert "stored as record 1 (calibration crosstalk of PN-3 #7)" in done.stdout
    with QcStore(db.arg) as store:
        rec = store.latest(store.find_probe("PN-3", "7"), "calibration", "crosstalk")
    assert rec.result["depth_mm"] == 40.0 and len(rec.result["sources"]) == 1


def test_from_files_with_a_background(tmp_path: Path, db: Db) -> None:
    rng = np.random.default_rng(18)
    i125 = _csv(tmp_path / "i125.csv", rng.poisson([4000, 1], (10, 2)).tolist())
    tc = _csv(tmp_path / "tc.csv", rng.poisson([240, 2500], (10, 2)).tolist())
    bg = _csv(tmp_path / "bg.csv", rng.poisson([2, 1], (30, 2)).tolist())
    done = run_main("calibrate", "crosstalk", "--file", f"{i125},{tc}", "--nuclide",
                    "I-125,Tc-99m", "--background-file", str(bg), "--probe", "PN-2:SN1",
                    *_common(db), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    src = out["sources"][1]
    n0, n1 = src["counts"]
    b0, b1 = src["background_counts"]
    expected = (n0 / 9.9 - b0 / 29.7) / (n1 / 9.9 - b1 / 29.7)  # live 10 x 0.99, 30 x 0.99
    matrix = SpillMatrix.parse(out["spills"], 2)
    assert matrix.fraction(1, 0).fraction == pytest.approx(expected, rel=1e-12)
    assert src["live_s"] == pytest.approx(9.9) and src["background_live_s"] == pytest.approx(29.7)
    with QcStore(db.arg) as store:
        rec = store.latest(store.find_probe("PN-2", "SN1"), "calibration", "crosstalk")
    assert rec.raw_data.count(",") == 2 and rec.source.startswith("file ")


def test_from_files_without_background_says_so(tmp_path: Path, db: Db) -> None:
    tc = _csv(tmp_path / "tc.csv", [[100, 1000]] * 4)
    done = run_main("calibrate", "crosstalk", "--file", str(tc), "--nuclide", "Tc-99m",
                    "--windows", "I-125,Tc-99m", "--probe", "PN", *_common(db), "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    (spill,) = SpillMatrix.parse(out["spills"], 2).spills
    assert spill.fraction == pytest.approx(0.1)  # 400 / 4000 counts, nothing subtracted
    assert spill.sd == pytest.approx(0.1 * (1 / 400 + 1 / 4000) ** 0.5)
    assert "nothing subtracted" in out["background_note"]


def test_a_source_its_window_cannot_see_is_refused(tmp_path: Path, db: Db) -> None:
    tc = _csv(tmp_path / "tc.csv", [[3, 4]] * 4)  # 16 counts: 4 sd
    done = run_main("calibrate", "crosstalk", "--file", str(tc), "--nuclide", "Tc-99m",
                    "--windows", "I-125,Tc-99m", "--probe", "PN", *_common(db))
    assert done.returncode == 1
    assert "need 5" in done.stderr and "nothing stored" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert _records(db) == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--file", "{i125},{tc}", "--nuclide", "Tc-99m"], "one isotope per file"),
    (["--file", "{tc}", "--nuclide", "Tc-99"], "Tc-99"),
    (["--file", "{tc}", "--nuclide", "Tc-99m", "--windows", "I-125,Tc-99m,In-111"],
     "3 are named"),
    (["--file", "{tc}", "--nuclide", "Tc-99m", "--windows", "I-125,I-125"], "named twice"),
    (["--file", "{tc}", "--nuclide", "Co-57", "--windows", "I-125,Tc-99m"],
     "no window is Co-57"),
    (["--file", "{plain}", "--nuclide", "Tc-99m"], "no w1, w2"),
    (["--file", "{gap}", "--nuclide", "Tc-99m"], "without gaps"),
    (["--file", "{n42}", "--nuclide", "Tc-99m"], "give a frame CSV"),
    (["--file", "{missing}", "--nuclide", "Tc-99m"], "missing.csv"),
    (["--file", "{tc}", "--nuclide", "Tc-99m", "--windows", "I-125,Tc-99m",
      "--background-file", "{three}"], "3 windows"),
    (["--file", "{tc}", "--nuclide", "Tc-99m", "--windows", "I-125,Tc-99m",
      "--probe", ":x"], "give MODEL"),
    (["--sim", "rsl-dual-isotope", "--background-file", "{tc}"], "goes with --file"),
    (["--sim", "no-such-scenario"], "unknown scenario"),
    (["--sim", "rsl-dual-isotope", "--seed", "-1"], "--seed"),
    (["--sim", "rsl-dual-isotope", "--nuclide", "Co-57"], "no window is Co-57"),
    (["--sim", "rsl-dual-isotope", "--depth-mm", "500"], "--depth-mm"),
    (["--sim", "rsl-dual-isotope", "--windows", "Tc-99m"], "2 or more"),
])
def test_bad_input_one_line_exit_2_nothing_stored(tmp_path: Path, db: Db, extra: list[str],
                                                  message: str) -> None:
    files = {"i125": _csv(tmp_path / "i125.csv", [[4000, 1]] * 3),
             "tc": _csv(tmp_path / "tc.csv", [[240, 2500]] * 3),
             "three": _csv(tmp_path / "three.csv", [[1, 1, 1]] * 3),
             "plain": _csv(tmp_path / "plain.csv", [[240]] * 3),
             "n42": tmp_path / "x.n42", "missing": tmp_path / "missing.csv",
             "gap": tmp_path / "gap.csv"}
    files["gap"].write_text("t_s,live_s,counts,w2\n1.0,1.0,240,2500\n# end: complete, 1 frames\n")
    args = [a.format(**files) for a in extra]
    if "--probe" not in args:
        args += ["--probe", "PN"]
    done = run_main("calibrate", "crosstalk", *args, "--duration", "1", *_common(db))
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr
    assert _records(db) == 0


def test_files_without_a_probe_name_store_nothing(tmp_path: Path, db: Db) -> None:
    tc = _csv(tmp_path / "tc.csv", [[240, 2500]] * 3)
    done = run_main("calibrate", "crosstalk", "--file", str(tc), "--nuclide", "Tc-99m",
                    "--windows", "I-125,Tc-99m", *_common(db))
    assert done.returncode == 2 and "--probe MODEL:SERIAL" in done.stderr
    assert _records(db) == 0


# ------------------------------------------------------------------ device


def _acquisitions(counts: list[list[int]]):
    """Stand-in for cli.acquire.acquire: one 10-frame acquisition per call from a device that
    names its windows, each frame 1 s (0.98 s live) with a tenth of the given counts."""
    info = DeviceInfo("PL-1", "0042", detector="CdTe", protocol="probelink", windows=WINDOWS)
    calls = iter(counts)

    def acquire(args, duration_s, *a, **k):
        total = next(calls)
        frames = [CountFrame(i, float(i + 1), 1.0, 0.98, tuple(c // 10 for c in total))
                  for i in range(10)]
        return Acquisition(frames, info, datetime(2026, 3, 1, 9, 0, tzinfo=UTC), "pty", [])
    return acquire


def test_on_a_device_background_then_each_isotope(tmp_path: Path, db: Db, monkeypatch) -> None:
    monkeypatch.setattr("probe_nav.cli.acquire.acquire",
                        _acquisitions([[20, 30], [40000, 10], [2400, 25000]]))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n\n\n"))
    done = run_main("calibrate", "crosstalk", "--device", "/dev/ttyFAKE", "--duration", "10",
                    *_common(db), "--json")
    assert done.returncode == 0, done.stderr
    prompts = done.stderr.strip().splitlines()
    assert [p.split(" source")[0] for p in prompts] == [
        "take every", "put the I-125", "put the Tc-99m"]
    out = json.loads(done.stdout)
    assert out["probe"] == "PL-1 #0042"
    live = 9.8
    expected = (2400 / live - 20 / live) / (25000 / live - 30 / live)
    assert SpillMatrix.parse(out["spills"], 2).fraction(1, 0).fraction == pytest.approx(expected)
    assert len(list((tmp_path / "raw").glob("*-calibrate-crosstalk-*.csv"))) == 3


def test_on_a_device_without_an_answer_stores_nothing(tmp_path: Path, db: Db, monkeypatch) -> None:
    monkeypatch.setattr("probe_nav.cli.acquire.acquire",
                        _acquisitions([[20, 30], [40000, 10], [2400, 25000]]))
    monkeypatch.setattr(sys, "stdin", io.StringIO("\n"))  # Enter once, then end of input
    done = run_main("calibrate", "crosstalk", "--device", "/dev/ttyFAKE", *_common(db))
    assert done.returncode == 2 and "waits for Enter" in done.stderr.splitlines()[-1]
    assert _records(db) == 0
