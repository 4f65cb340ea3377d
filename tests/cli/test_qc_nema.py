"""`probe-nav qc nema` end to end: the simulator's NEMA benches against their truth, the stored
records, the PDF, the series file round trip, configurable limits and bad input. What stores
and reads records runs on a SQLite file and on PostgreSQL (tests/backends.py); the checks of
bad input need no database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from probe_nav.storage.urls import KEY_DIR_VAR
from tests.backends import BACKENDS, DATA_DIR_VAR, QC_SCHEMA, Db, database, template_database
from tests.conftest import run_cli
from tests.in_process import run_main

# The tests on `sim_run` share one pytest-xdist worker, so the ~10 s simulated characterisation
# (a module fixture, made once per worker that needs it) runs once per suite and backend.
ON_SIM_RUN = pytest.mark.xdist_group("qc-nema-sim-run")


@pytest.fixture(scope="module", params=BACKENDS)
def characterised(request: pytest.FixtureRequest,
                  tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, Db, Path | None]:
    """The simulated characterisation: its folder, its JSON, its records database and that
    database's key directory (None on SQLite)."""
    tmp = tmp_path_factory.mktemp("nema")
    db, keys = template_database(request, tmp, request.param, "qc.sqlite", QC_SCHEMA)
    with pytest.MonkeyPatch.context() as env:
        if keys is not None:  # the key, and the raw data (kept in the user data directory)
            env.setenv(KEY_DIR_VAR, str(keys))
            env.setenv(DATA_DIR_VAR, str(tmp))
        done = run_cli("qc", "nema", "--sim", "--seed", "7", "--db", db.arg,
                       "--operator", "phys", "--json", "--report", str(tmp / "nema.pdf"))
    assert done.returncode == 0, done.stderr
    return tmp, json.loads(done.stdout), db, keys


@pytest.fixture
def sim_run(characterised: tuple[Path, dict, Db, Path | None],
            monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict, Db]:
    """The characterisation, its database's key in this test's environment."""
    tmp, out, db, keys = characterised
    if keys is not None:
        monkeypatch.setenv(KEY_DIR_VAR, str(keys))
    return tmp, out, db


@ON_SIM_RUN
def test_simulated_characterisation_recovers_the_benches_truth(sim_run) -> None:
    _, out, _ = sim_run
    tests, truth = out["tests"], out["truth"]
    assert set(tests) == {"sensitivity-air", "sensitivity-water", "spatial-resolution",
                          "angular-resolution", "shielding", "count-rate", "energy-resolution"}
    assert out["skipped"] == [] and out["pass"] is True and len(out["records"]) == 7

    def near(test: str, want: float, slack: float = 0.0) -> None:
        got = tests[test]
        assert abs(got["value"] - want) <= 3 * got["sd"] + slack * want, (test, got, want)

    near("sensitivity-air", truth["sensitivity_air_cps_per_mbq"][0])
    near("sensitivity-water", truth["sensitivity_water_cps_per_mbq"][2])  # 30 mm reference
    near("spatial-resolution", truth["spatial_fwhm_mm"], 0.01)  # + interpolation (docs)
    near("angular-resolution", truth["angular_fwhm_deg"], 0.01)
    near("shielding", max(truth["side_pct"], truth["back_pct"]))
    near("count-rate", truth["rate_at_20pct_loss_cps"])
    assert abs(tests["count-rate"]["dead_time_s"] - truth["dead_time_s"]) <= \
        3 * tests["count-rate"]["dead_time_sd_s"]
    # 8 % at 140.5 keV, widened by CdTe hole tailing and the 1.5 keV channels
    assert truth["energy_fwhm_pct"] <= tests["energy-resolution"]["value"] < 9.0


@ON_SIM_RUN
def test_records_history_and_pdf(sim_run) -> None:
    tmp, _, db = sim_run
    pypdf = pytest.importorskip("pypdf")
    text = " ".join(" ".join(p.extract_text().split())
                    for p in pypdf.PdfReader(tmp / "nema.pdf").pages)
    assert "NEMA NU 3 characterisation" in text and "spatial resolution FWHM" in text
    hist = run_cli("qc", "history", "--db", db.arg, "--test", "nema-shielding", "--json")
    record = json.loads(hist.stdout)
    assert record["kind"] == "qc" and record["pass"] is True
    assert record["raw_data"].endswith("-qc-nema.csv")
    report = tmp / "history.pdf"
    assert run_cli("qc", "history", "--db", db.arg, "--report", str(report)).returncode == 0
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(report).pages)
    assert "NEMA" in text


@ON_SIM_RUN
def test_series_file_round_trip_and_limits(sim_run, tmp_path: Path,
                                          request: pytest.FixtureRequest,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    _, out, first = sim_run
    raw = out["raw_data"]
    db = database(request, tmp_path, monkeypatch, first.backend, "qc.sqlite", QC_SCHEMA)
    common = ("qc", "nema", "--file", raw, "--probe", "PN-1:7", "--activity-mbq",
              repr(out["truth"]["activity_mbq"]), "--db", db.arg, "--operator", "phys")
    again = run_cli(*common, "--json")
    assert again.returncode == 0, again.stderr
    tests = json.loads(again.stdout)["tests"]
    for name in ("sensitivity-air", "spatial-resolution", "angular-resolution", "shielding",
                 "count-rate"):
        assert tests[name]["value"] == pytest.approx(out["tests"][name]["value"], rel=1e-9)
    assert "energy-resolution" not in tests  # no spectrum given with the file
    strict = tmp_path / "limits.toml"
    strict.write_text("max_spatial_fwhm_mm = 15.0\nmax_angular_fwhm_deg = 30\n")
    failed = run_cli(*common, "--limits", str(strict), "--limit", "max_side_pct=none")
    assert failed.returncode == 1, failed.stderr
    lines = {line.split("  ")[0]: line for line in failed.stdout.splitlines()}
    assert lines["spatial resolution FWHM"].endswith("FAIL")
    assert lines["angular resolution FWHM"].endswith("FAIL")
    assert "<= 0.5" in lines["side / back response (worst)"]  # back limit still applies


def _series(tmp_path: Path, body: str) -> str:
    path = tmp_path / "series.csv"
    path.write_text("test,setting,counts,live_s\n" + body)
    return str(path)


@pytest.mark.parametrize("make, extra, message", [
    (lambda p: _series(p, "lateral,1,10,1\n"), ("--limit", "bogus=1"), "unknown NEMA limit"),
    (lambda p: _series(p, "lateral,1,10,1\n"), ("--limit", "max_side_pct=x"), "not a number"),
    (lambda p: _series(p, "latteral,1,10,1\n"), (), "series.csv:2: unknown test"),
    (lambda p: _series(p, "lateral,1,ten,1\n"), (), "series.csv:2: not a number"),
    (lambda p: _series(p, "lateral,1,10,0\n"), (), "0 < live_s"),
    (lambda p: _series(p, "lateral,1,10,1\n"), (), "no NEMA test could be analysed"),
    (lambda p: str(p / "none.csv"), (), "cannot read"),
])
def test_bad_input_one_line_exit_2(tmp_path: Path, make, extra, message) -> None:
    done = run_main("qc", "nema", "--file", make(tmp_path), "--probe", "P",
                   "--db", str(tmp_path / "qc.sqlite"), *extra)
    assert done.returncode == 2, done.stdout
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_file_needs_a_probe(tmp_path: Path) -> None:
    done = run_main("qc", "nema", "--file", _series(tmp_path, "lateral,1,10,1\n"),
                   "--db", str(tmp_path / "qc.sqlite"))
    assert done.returncode == 2 and "--probe" in done.stderr
