"""`probe-nav record`: real processes, the simulator on a real pty, real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from probe_nav.io.frames_csv import read_frames_csv
from probe_nav.io.n42 import read_n42
from tests.conftest import run_cli
from tests.in_process import run_main


def test_record_sim_to_csv_reads_back(tmp_path: Path) -> None:
    out = tmp_path / "rec.csv"
    done = run_cli("record", "--sim", "sln-static", "--speed", "10", "--duration", "2",
                   "--out", str(out))
    assert done.returncode == 0, done.stderr
    table = read_frames_csv(out)
    assert len(table) == 40  # 2 s of 50 ms frames
    assert table.real_s is not None and table.real_s.sum() == pytest.approx(2.0)
    assert np.all(table.live_s <= table.real_s)
    assert any("SIM-0001" in c for c in table.comments)
    assert f"{table.counts.sum()} counts" in done.stderr


def test_record_sim_to_n42_has_spectrum_calibration_and_series(tmp_path: Path) -> None:
    out = tmp_path / "rec.n42"
    done = run_cli("record", "--sim", "qc-co57", "--speed", "10", "--duration", "4",
                   "--interval", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    recording = read_n42(out)
    assert recording.spectrum is not None and recording.spectrum.sum() > 0
    assert recording.energy_calibration == (0.0, 1.0)  # the simulator's 1 keV per channel
    assert len(recording.intervals) == 2
    assert recording.real_s == pytest.approx(4.0)
    assert sum(i.spectrum.sum() for i in recording.intervals) == recording.spectrum.sum()
    # Co-57 photopeak at 122 keV: the summed spectrum's maximum sits near it.
    assert 110 <= int(np.argmax(recording.spectrum)) <= 130


def test_record_from_a_served_device(tmp_path: Path, serve) -> None:
    server = serve("--scenario", "sln-static", "--speed", "10")
    out = tmp_path / "dev.n42"
    done = run_cli("record", "--device", server.url, "--duration", "1", "--out", str(out))
    assert done.returncode == 0, done.stderr
    recording = read_n42(out)
    assert recording.instrument.serial == "SIM-0001"
    assert len(recording.intervals) == 20


def test_record_gmc_emulator_writes_counts_only_n42(tmp_path: Path, serve) -> None:
    server = serve("--protocol", "gmc-320", "--scenario", "sln-static", "--speed", "10")
    out = tmp_path / "gmc.n42"
    done = run_cli("record", "--device", server.url, "--protocol", "gmc-320",
                   "--duration", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    recording = read_n42(out)
    assert recording.spectrum is None
    assert len(recording.intervals) == 2


@pytest.mark.parametrize("args, message", [
    (("--sim", "sln-static", "--duration", "1", "--out", "x.txt"), "unknown file type '.txt'"),
    (("--sim", "sln-static", "--duration", "1", "--out", "x"), "unknown file type '(none)'"),
    (("--sim", "no-such-scenario", "--duration", "1", "--out", "x.csv"), "no-such-scenario"),
    (("--sim", "sln-static", "--duration", "0", "--out", "x.csv"), "--duration must be > 0"),
    (("--sim", "sln-static", "--duration", "1", "--out", "/no/such/dir/x.csv"),
     "folder does not exist"),
    (("--device", "/dev/no-such-port", "--duration", "1", "--out", "x.csv"), "no-such-port"),
    (("--sim", "sln-static", "--duration", "1", "--out", "x.n42", "--interval", "-1"),
     "--interval must be > 0"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, monkeypatch, args, message: str) -> None:
    monkeypatch.chdir(tmp_path)  # relative output paths land here (and must not be created)
    done = run_main("record", *args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not Path("x.csv").exists() and not Path("x.n42").exists()
