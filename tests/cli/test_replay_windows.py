"""`probe-nav replay` of a file with several energy windows, with crosstalk correction. The
calibration stored in the QC records and read back by replay: on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.backends import QC_SCHEMA, Db, backend_fixture
from tests.in_process import run_main

F = 0.095  # Tc-99m downscatter into the I-125 window

qc_db = backend_fixture("qc.sqlite", QC_SCHEMA)


def write_dual(path: Path, seed: int = 5) -> None:
    """40 s of 50 ms frames: background, a Tc-99m injection site (10-20 s), background, an I-125
    seed (30-36 s). Window 0 is I-125, window 1 Tc-99m."""
    rng = np.random.default_rng(seed)
    n = 800
    true = np.tile([10.0, 50.0], (n, 1))
    true[200:400] = [10.0 + F * 40_000.0, 40_000.0]
    true[600:720, 0] = 10.0 + 400.0
    counts = rng.poisson(true * 0.05)
    rows = [f"{(i + 1) * 0.05!r},0.05,{c0},{c1}" for i, (c0, c1) in enumerate(counts.tolist())]
    path.write_text("t_s,live_s,counts,w1\n" + "\n".join(rows) + f"\n# end: complete, {n} frames\n")


def replay(path: Path, *extra: str) -> list[dict]:
    out = run_main("replay", str(path), "--background-cps", "10", "--window-background",
                   "1=50+-1", *extra)
    assert out.returncode == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_ticks_carry_every_window_corrected(tmp_path: Path) -> None:
    f = tmp_path / "dual.csv"
    write_dual(f)
    ticks = replay(f, "--json", "--tick", "1", "--spill", f"1:0={F}+-0.002")
    site = next(t for t in ticks if t["t_s"] == 18.0)
    w0, w1 = site["windows"]
    assert set(w0) == {"index", "gross_cps", "net_cps", "corrected_cps", "corrected_sd_cps",
                       "hot", "dominated"}
    assert w0["gross_cps"] > 3000  # the I-125 window is full of Tc-99m ...
    assert abs(w0["corrected_cps"]) < 3 * w0["corrected_sd_cps"]  # ... corrected: none of its own
    assert w0["hot"] is False and w0["dominated"] is True
    assert w1["hot"] is True
    seed = next(t for t in ticks if t["t_s"] == 35.0)
    assert seed["windows"][0]["hot"] is True
    assert abs(seed["windows"][0]["corrected_cps"] - 400.0) < 4 * seed["windows"][0][
        "corrected_sd_cps"]
    assert seed["hot"] is True and site["hot"] is False  # top level = window 0


def test_events_are_per_window(tmp_path: Path) -> None:
    f = tmp_path / "dual.csv"
    write_dual(f)
    events = replay(f, "--events", "--spill", f"1:0={F}")
    hot0 = [e["t_s"] for e in events if e["window"] == 0 and e["event"] == "hot"]
    hot1 = [e["t_s"] for e in events if e["window"] == 1 and e["event"] == "hot"]
    assert hot0 and all(30.0 <= t < 37.0 for t in hot0)  # the seed only, not the site
    assert hot1 and all(10.0 <= t < 21.0 for t in hot1)
    without = replay(f, "--events")  # no correction: the site is "hot" in the I-125 window
    assert any(e["window"] == 0 and 10.0 <= e["t_s"] < 20.0 for e in without)


@pytest.mark.parametrize(("extra", "message"), [
    (("--spill", "1:0=abc"), "--spill"),
    (("--spill", "2:0=0.1"), "only 2 windows"),
    (("--window-background", "x"), "--window-background"),
    (("--window-background", "3=5"), "windows are 0 to 1"),
    (("--window-background", "1=-5"), ">= 0"),
])
def test_bad_window_options_are_one_line(tmp_path: Path, extra: tuple[str, ...],
                                         message: str) -> None:
    f = tmp_path / "dual.csv"
    write_dual(f)
    out = run_main("replay", str(f), "--json", *extra)
    assert out.returncode == 2
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert out.stdout == ""


def test_window_columns_without_gaps(tmp_path: Path) -> None:
    f = tmp_path / "gap.csv"
    f.write_text("t_s,live_s,counts,w2\n0.05,0.05,1,2\n# end: complete, 1 frames\n")
    out = run_main("replay", str(f), "--json")
    assert out.returncode == 2 and "w1, w2, ... without gaps" in out.stderr


def test_the_probes_calibration_from_the_qc_records(tmp_path: Path, qc_db: Db) -> None:
    """A crosstalk calibration kept in the QC records is used by replay, from a file or from
    the department's server (--qc-db URL)."""
    db = qc_db.arg
    done = run_main("calibrate", "crosstalk", "--sim", "rsl-dual-isotope", "--db", db,
                    "--operator", "t")
    assert done.returncode == 0, done.stderr
    f = tmp_path / "dual.csv"
    write_dual(f)
    probe = "probe-nav simulated probe:SIM-0001"
    ticks = replay(f, "--json", "--tick", "1", "--crosstalk-probe", probe, "--qc-db", db)
    site = next(t for t in ticks if t["t_s"] == 18.0)["windows"][0]
    assert site["dominated"] is True and site["hot"] is False  # the stored 9.6 % is close
    missing = run_main("replay", str(f), "--json", "--crosstalk-probe", "other:1",
                       "--qc-db", db)
    assert missing.returncode == 2 and "no crosstalk calibration" in missing.stderr
    nodb = run_main("replay", str(f), "--json", "--crosstalk-probe", probe,
                    "--qc-db", str(tmp_path / "none.sqlite"))
    assert nodb.returncode == 2 and "no such QC records database" in nodb.stderr
    both = run_main("replay", str(f), "--json", "--crosstalk-probe", probe, "--qc-db", db,
                    "--spill", "1:0=0.1")
    assert both.returncode == 2 and "not both" in both.stderr
