"""`probe-nav calibrate energy` on a Ba-133 spectrum, in-process: all of Ba-133's lines give the
right gain; the two lines the old table held (81 and 356 keV) are refused with exit 1 and the
reason, and nothing is stored. Both on SQLite and PostgreSQL (tests/backends.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from probe_nav.io.n42 import write_n42
from probe_nav.io.n42_model import CountInterval, Instrument, N42Recording
from probe_nav.simulator.benches import bench_calibration_spectrum
from tests.backends import QC_SCHEMA, Db, backend_fixture
from tests.in_process import run_main

GAIN_KEV_PER_CH = 0.75

qc_db = backend_fixture("qc.sqlite", QC_SCHEMA)


@pytest.fixture(scope="module")
def ba133_n42(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 300 s Ba-133 spectrum (all its lines and Cs K X-rays) on the default CdTe probe."""
    s = bench_calibration_spectrum({"Ba-133": 0.5}, count_s=300.0, seed=2,
                                   coefficients=(0.0, GAIN_KEV_PER_CH))
    total = int(s.spectrum.sum())
    recording = N42Recording(datetime(2026, 1, 5, 9, 0, tzinfo=UTC), s.real_s, s.live_s,
                             (CountInterval(0.0, s.real_s, s.live_s, total),), s.spectrum,
                             (0.0, GAIN_KEV_PER_CH), Instrument(model="SIM", serial="1",
                                                                detector="CdTe"))
    path = tmp_path_factory.mktemp("ba133") / "ba133.n42"
    write_n42(path, recording)
    return path


def test_all_ba133_lines_calibrate_within_1_percent(ba133_n42: Path, qc_db: Db) -> None:
    done = run_main("calibrate", "energy", "--file", str(ba133_n42), "--nuclide", "Ba-133",
                    "--probe", "P", "--db", qc_db.arg, "--json")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    c0, c1 = out["coefficients"]
    assert c1 == pytest.approx(GAIN_KEV_PER_CH, rel=0.01)
    # The 302.9 and 356.0 keV peaks read as themselves (not 356 keV for 302.9 keV's peak)
    for line_kev in (302.851, 356.013):
        assert c0 + c1 * line_kev / GAIN_KEV_PER_CH == pytest.approx(line_kev, rel=0.01)
    assert 356.013 in out["energies_kev"] and len(out["energies_kev"]) >= 3
    assert out["resolution_kev"] == pytest.approx(356.0, abs=2.0)  # the main line's FWHM
    (stored,), = qc_db.sql("SELECT result_json FROM records")
    assert json.loads(stored)["coefficients"] == [c0, c1]  # what was printed is what was stored


def test_the_old_two_line_table_is_refused_with_the_reason(ba133_n42: Path,
                                                           qc_db: Db) -> None:
    done = run_main("calibrate", "energy", "--file", str(ba133_n42), "--lines", "81,356",
                    "--probe", "P", "--db", qc_db.arg)
    assert done.returncode == 1, done.stderr
    line, = done.stderr.strip().splitlines()  # one line, no traceback
    # ambiguous (another reading of the peaks does as well) or unverified (two points and a
    # photopeak no line explains): either way the reason, and what to do
    assert line.startswith(("probe-nav: failed: ambiguous: the peak at channel ",
                            "probe-nav: failed: unverified: the calibration rests on 2 peaks"))
    assert "no calibration stored" in line and "--nuclide" in line
    assert done.stdout == "" and qc_db.count("records") == 0
