"""Every absurd value of issue 14 ("Absurd values stored"): one line on stderr, exit 2, and
nothing stored - the case and QC databases hold exactly what they held before.

In-process (tests/in_process.py): each command ends in its argument or record check, before any
device, simulator or recording is opened, so no interpreter is started per case.

The checks are probe-nav's own (probe_nav.cases.model, the CLI), made before the store writes, so
the same on both backends: the refusals run on a SQLite file; a count stored and a count refused
against the stored case's reference time run on SQLite and PostgreSQL (tests/backends.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.backends import BACKENDS, CASES_SCHEMA, QC_SCHEMA, Db, database
from tests.in_process import run_main

T_CASE = "2026-05-09T07:45Z"  # when the test case was opened (entered afterwards)


def _frames(path: Path, rows: list[tuple[float, float, int | str]]) -> Path:
    """A frame CSV (t_s, live_s, counts; real = live) with the complete trailer."""
    lines = ["t_s,live_s,counts,real_s,seq,flags"]
    lines += [f"{t!r},{live!r},{counts},{live!r},{i},0" for i, (t, live, counts) in
              enumerate(rows)]
    lines.append(f"# end: complete, {len(rows)} frames")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _file_db(tmp_path: Path, name: str, schema: str) -> Db:
    """A SQLite database file in the test's folder (not created yet)."""
    return Db("sqlite", str(tmp_path / name), tmp_path / name, schema)


def _with_case(db: Db) -> Db:
    """The case database holding case C-1 (opened 2026-05-09 07:45, injected 07:30)."""
    done = run_main("case", "new", "C-1", "--procedure", "sln-breast", "--opened-at", T_CASE,
                    "--injected-at", "2026-05-09T07:30Z", "--db", db.arg)
    assert done.returncode == 0, done.stderr
    return db


@pytest.fixture
def case_db(tmp_path: Path) -> Db:
    """A SQLite case database holding case C-1."""
    return _with_case(_file_db(tmp_path, "cases.sqlite3", CASES_SCHEMA))


@pytest.fixture(params=BACKENDS)
def any_case_db(request: pytest.FixtureRequest, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Db:
    """A case database holding case C-1, on SQLite, then on PostgreSQL."""
    return _with_case(database(request, tmp_path, monkeypatch, request.param, "cases.sqlite3",
                               CASES_SCHEMA))


def _one_line_exit_2(done, *needles: str) -> None:
    assert done.returncode == 2, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr  # one line: no traceback, no warning
    assert "Traceback" not in done.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _add(db: Db, *extra: str):
    return run_main("case", "add-count", "C-1", "SLN 1", "--kind", "in_vivo",
                    "--at", "2026-05-09T09:00Z", "--db", db.arg, *extra)


# (what, extra arguments of `case add-count` or a frame file maker, words the line must hold)
COUNT_INPUTS: list[tuple[str, Callable[[Path], tuple[str, ...]], tuple[str, ...]]] = [
    ("two frames of 2^62 through --frames",
     lambda d: ("--frames", str(_frames(d / "f.csv", [(1.0, 1.0, 2**62), (2.0, 1.0, 2**62)]))),
     ("f.csv", "2^63")),  # the reader refuses the sum before any frame is judged
    ("a frame of 10^9 counts in 1 s (100 x any probe's counter)",
     lambda d: ("--frames", str(_frames(d / "f.csv", [(1.0, 1.0, 5), (2.0, 1.0, 10**9)]))),
     ("frame 2 has 1000000000 counts in 1 s live", "allowed range 0 to 10000001")),
    ("a count of 2^63 in a frame CSV",
     lambda d: ("--frames", str(_frames(d / "f.csv", [(1.0, 1.0, 2**63), (2.0, 1.0, 5)]))),
     ("too large",)),
    ("a count of 10^30 digits in a frame CSV",
     lambda d: ("--frames", str(_frames(d / "f.csv", [(1.0, 1.0, "1" + "0" * 30)]))),
     ("f.csv",)),
    ("10^12 counts", lambda d: ("--counts", "1000000000000", "--live-s", "10"),
     ("1000000000000", "allowed range")),
    ("--counts 1e30", lambda d: ("--counts", "1e30", "--live-s", "10"),
     ("'1e30' is not a whole number",)),
    ("--counts -1", lambda d: ("--counts", "-1", "--live-s", "10"), ("allowed range",)),
    ("--live-s 1e-300", lambda d: ("--counts", "5", "--live-s", "1e-300"),
     ("1e-300", "allowed range 0.001 to 86400 s")),
    ("--live-s nan", lambda d: ("--counts", "5", "--live-s", "nan"), ("allowed range",)),
    ("--live-s inf", lambda d: ("--counts", "5", "--live-s", "inf"), ("allowed range",)),
    ("--background-cps 1e300", lambda d: ("--counts", "5", "--live-s", "10",
                                           "--background-cps", "1e300"), ("allowed range",)),
    ("a live time under 1 ms in a frame CSV",
     lambda d: ("--frames", str(_frames(d / "f.csv", [(1.0, 1e-6, 1)] * 3))),
     ("live time",)),
]


@pytest.mark.parametrize("what, make, needles", COUNT_INPUTS, ids=[c[0] for c in COUNT_INPUTS])
def test_absurd_counts_are_one_line_and_not_stored(
        case_db: Db, tmp_path: Path, what: str, make: Callable[[Path], tuple[str, ...]],
        needles: tuple[str, ...]) -> None:
    _one_line_exit_2(_add(case_db, *make(tmp_path)), *needles)
    assert case_db.count("measurements") == 0


def test_a_plausible_count_is_stored(any_case_db: Db) -> None:
    """The counterpart: the bounds do not refuse a real count (1e7 cps x 10 s is allowed)."""
    done = _add(any_case_db, "--counts", "100000000", "--live-s", "10")
    assert done.returncode == 0, done.stderr
    assert any_case_db.sql("SELECT counts, live_s FROM measurements") == [(100_000_000, 10.0)]


def _iso(unix_s: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(unix_s))


CASE_INPUTS: list[tuple[str, Callable[[], tuple[str, ...]], tuple[str, ...]]] = [
    ("injected in 1970", lambda: ("--injected-at", "1970-01-01T00:00Z"),
     ("injection time 1970-01-01T00:00:00Z is outside the allowed range",)),
    ("injected an hour in the future", lambda: ("--injected-at", _iso(time.time() + 3600)),
     ("injection time", "allowed range")),
    ("opened in the future", lambda: ("--opened-at", "2099-01-01T00:00Z"),
     ("case opening time 2099-01-01T00:00:00Z is in the future",)),
    ("injected after the case was opened", lambda: ("--opened-at", "2026-05-09T07:00Z",
                                                    "--injected-at", "2026-05-09T09:00Z"),
     ("injection time",)),
    ("activity 1e300 MBq", lambda: ("--activity-mbq", "1e300"), ("allowed range",)),
    ("activity 0 MBq", lambda: ("--activity-mbq", "0"), ("allowed range above 0",)),
    ("activity nan", lambda: ("--activity-mbq", "nan"), ("allowed range",)),
]


@pytest.mark.parametrize("what, make, needles", CASE_INPUTS, ids=[c[0] for c in CASE_INPUTS])
def test_absurd_case_times_and_activities_are_one_line_and_not_stored(
        tmp_path: Path, what: str, make: Callable[[], tuple[str, ...]],
        needles: tuple[str, ...]) -> None:
    db = _file_db(tmp_path, "cases.sqlite3", CASES_SCHEMA)
    done = run_main("case", "new", "C-9", "--procedure", "sln-breast", *make(), "--db", db.arg)
    _one_line_exit_2(done, *needles)
    assert db.count("cases") == 0


def test_a_count_far_from_the_injection_is_refused(any_case_db: Db) -> None:
    """A count dated 30+ half-lives of Tc-99m (7.5 days) after the reference: its decay factor
    would be above 2^30; refused, not stored as a huge corrected rate. The reference is the
    stored case's: on both backends."""
    done = run_main("case", "add-count", "C-1", "SLN 1", "--kind", "in_vivo", "--counts", "5",
                    "--live-s", "10", "--at", "2026-05-20T09:00Z", "--db", any_case_db.arg)
    _one_line_exit_2(done, "count time", "30 half-lives")
    assert any_case_db.count("measurements") == 0
    assert any_case_db.count("cases") == 1  # the case itself is untouched


QC_INPUTS: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("certificate dated 2099", ("calibrate", "sensitivity", "--sim", "qc-co57", "--nuclide",
                                "Co-57", "--activity-mbq", "3",
                                "--reference-date", "2099-01-01T00:00+00:00"),
     ("--reference-date 2099-01-01T00:00:00+00:00 is outside the allowed range",)),
    ("certificate dated 1900", ("calibrate", "sensitivity", "--sim", "qc-co57", "--nuclide",
                                "Co-57", "--activity-mbq", "3",
                                "--reference-date", "1900-01-01T00:00+00:00"),
     ("allowed range", "30 half-lives")),
    ("certified activity 1e300", ("calibrate", "sensitivity", "--sim", "qc-co57", "--nuclide",
                                  "Co-57", "--activity-mbq", "1e300",
                                  "--reference-date", "2025-01-01T00:00+00:00"),
     ("allowed range",)),
    ("chi-square --counts 1e30", ("qc", "chi-square", "--counts", "1e30,5,5,5,5,5,5,5,5,5"),
     ("--counts", "allowed range")),
]


@pytest.mark.parametrize("what, args, needles", QC_INPUTS, ids=[c[0] for c in QC_INPUTS])
def test_absurd_calibration_inputs_are_one_line_and_not_stored(
        tmp_path: Path, what: str, args: tuple[str, ...], needles: tuple[str, ...]) -> None:
    db = _file_db(tmp_path, "qc.sqlite", QC_SCHEMA)
    done = run_main(*args, "--db", db.arg, *(("--operator", "ann") if args[0] ==
                                             "calibrate" else ()))
    _one_line_exit_2(done, *needles)
    assert db.count("records") == 0


def test_a_frame_csv_beyond_int64_is_one_line_in_qc(tmp_path: Path) -> None:
    frames = _frames(tmp_path / "f.csv", [(1.0, 1.0, 2**63), (2.0, 1.0, 5)])
    db = _file_db(tmp_path, "qc.sqlite", QC_SCHEMA)
    done = run_main("qc", "daily", "--file", str(frames), "--probe", "PN-1:SN1", "--db", db.arg,
                    "--operator", "ann")
    _one_line_exit_2(done, "f.csv")
    assert db.count("records") == 0


def test_tick_of_a_nanosecond_and_a_clock_jump_are_one_line(tmp_path: Path) -> None:
    frames = _frames(tmp_path / "f.csv", [(1.0, 1.0, 5), (2.0, 1.0, 5)])
    _one_line_exit_2(run_main("replay", str(frames), "--json", "--tick", "1e-9"), "--tick")
    jumped = _frames(tmp_path / "j.csv", [(1.0, 1.0, 5), (2.0, 1.0, 5), (1e15, 1.0, 5)])
    done = run_main("replay", str(jumped), "--json")
    assert done.returncode in (0, 2), done.stderr  # refused in one line, or gaps skipped
    assert "Traceback" not in done.stderr
    assert len(done.stdout.splitlines()) < 100  # never a tick per 0.1 s across the jump


def test_a_scenario_nested_5000_deep_is_one_line(tmp_path: Path) -> None:
    deep = tmp_path / "deep.toml"
    deep.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    _one_line_exit_2(run_main("sim", "run", "--scenario", str(deep), "--duration", "1"),
                     "deep.toml", "nested too deeply")
    tables = tmp_path / "tables.toml"
    tables.write_text("x = " + "{a = " * 5000 + "1" + "}" * 5000 + "\n", encoding="utf-8")
    _one_line_exit_2(run_main("sim", "run", "--scenario", str(tables), "--duration", "1"),
                     "tables.toml")


# Found by probing every numeric option of the commands of this area with 0, -1, nan, 1e-300
# and 1e300 (the rest were already one line): each ended in a traceback, a hang or a run of
# seconds that could only fail.
OTHER_INPUTS: list[tuple[tuple[str, ...], str]] = [
    (("sim", "run", "--scenario", "qc-co57", "--seed", "-1"), "--seed: -1 is outside"),
    (("sim", "run", "--scenario", "qc-co57", "--duration", "1e300"), "--duration must be"),
    (("sim", "serve", "--scenario", "qc-co57", "--seed", "-1"), "--seed: -1 is outside"),
    (("sim", "serve", "--scenario", "qc-co57", "--speed", "0"), "--speed: 0 is outside"),
    (("sim", "serve", "--scenario", "qc-co57", "--speed", "1e300"), "--speed: 1e300 is outside"),
    (("sim", "serve", "--link", "tcp", "--port", "99999999"), "--port: 99999999 is outside"),
    (("qc", "daily", "--sim", "qc-co57", "--duration", "1e-300", "--probe", "P:1",
      "--operator", "ann"), "--duration: 1e-300 is outside the allowed range 0.001"),
    (("calibrate", "deadtime", "--sim", "qc-co57", "--seed", "-5", "--operator", "ann"),
     "--seed -5 is outside"),
]


@pytest.mark.parametrize("args, needle", OTHER_INPUTS, ids=[" ".join(a[:2]) + " " + a[-2]
                                                           for a, _ in OTHER_INPUTS])
def test_other_absurd_options_are_one_line(tmp_path: Path, args: tuple[str, ...],
                                           needle: str) -> None:
    db = _file_db(tmp_path, "qc.sqlite", QC_SCHEMA)
    extra = ("--db", db.arg) if args[0] in ("qc", "calibrate") else ()
    _one_line_exit_2(run_main(*args, *extra), needle)
    assert db.count("records") == 0


def test_a_frame_file_preset_under_a_millisecond_is_refused(case_db: Db,
                                                            tmp_path: Path) -> None:
    frames = _frames(tmp_path / "f.csv", [(1.0, 1.0, 5), (2.0, 1.0, 5)])
    _one_line_exit_2(_add(case_db, "--frames", str(frames), "--preset-s", "1e-300"),
                     "--preset-s: 1e-300 is outside the allowed range 0.001 to 86400 s")
    assert case_db.count("measurements") == 0
