"""`probe-nav dosimetry fit`: the JSON of the issue, the table, and bad input (one line, exit 2)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from probe_nav.dosimetry.fit import fit_series
from probe_nav.dosimetry.series import RetentionPoint
from tests.dosimetry import synth
from tests.in_process import run_main

TIMES = "4,24,48,96,168"
COUNTS = "29790,23990,18390,11150,5480"  # ~50 cps at 0 h, T_eff 60 h, 2 cps background, 600 s


def _fit(*extra: str) -> list[str]:
    return ["dosimetry", "fit", "--nuclide", "Lu-177", "--times-h", TIMES, "--counts", COUNTS,
            "--live-s", "600", "--background-cps", "2", *extra]


def test_json_carries_the_issue_fields_and_matches_the_library() -> None:
    result = run_main(*_fit("--json"))
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    for key in ("model", "t_eff_h", "t_eff_sd_h", "tiac_h", "tiac_sd_h", "fractions", "aicc",
                "mono", "bi", "extrapolated_fraction", "extrapolation_flag"):
        assert key in out
    points = [RetentionPoint(float(t), int(c), 600.0, 2.0)
              for t, c in zip(TIMES.split(","), COUNTS.split(","), strict=True)]
    analysis = fit_series(points, "Lu-177")
    assert out["model"] == analysis.chosen.model == "mono"
    assert out["t_eff_h"] == pytest.approx(analysis.chosen.t_eff_h, rel=1e-12)
    assert 55 < out["t_eff_h"] < 65 and 0 < out["t_eff_sd_h"] < 2
    assert [row["t_h"] for row in out["fractions"]] == [4, 24, 48, 96, 168]
    assert set(out["aicc"]) == {"mono", "bi"}
    assert result.stderr == ""


def test_bi_json_adds_the_components() -> None:
    times = [2.0, 6.0, 12.0, 24.0, 48.0, 96.0, 168.0]
    points = synth.exact(synth.bi(100.0, 0.4, 10.0, 80.0), times, 1000.0)
    result = run_main("dosimetry", "fit", "--nuclide", "Lu-177",
                      "--times-h", ",".join(f"{t:g}" for t in times),
                      "--counts", ",".join(str(p.counts) for p in points),
                      "--live-s", "1000", "--at-h", "24,48", "--json")
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["model"] == "bi"
    assert out["t_eff_fast_h"] == pytest.approx(10.0, rel=1e-3)
    assert out["t_eff_slow_h"] == pytest.approx(80.0, rel=1e-3)
    assert out["fraction_fast"] == pytest.approx(0.4, rel=1e-3)
    truth = synth.bi(1.0, 0.4, 10.0, 80.0)
    assert [r["fraction"] for r in out["fractions"]] == pytest.approx([truth(24), truth(48)],
                                                                      rel=1e-3)
    assert out["aicc"]["bi"] < out["aicc"]["mono"]


def test_release_time_and_table() -> None:
    result = run_main(*_fit("--release-limit-usv-h", "20", "--usv-h-per-cps", "0.5", "--json"))
    out = json.loads(result.stdout)
    # 0.5 uSv/h per cps x ~50 cps = 25 uSv/h at 0 h; 20 is reached after ~T log2(25/20) = 19 h
    assert out["release"]["t_h"] == pytest.approx(60 * np.log2(0.5 * out["mono"]["a0_cps"] / 20),
                                                  rel=0.05)
    table = run_main(*_fit("--release-limit-usv-h", "20", "--usv-h-per-cps", "0.5"))
    assert table.returncode == 0
    assert "chosen mono by AICc" in table.stdout and "T_eff" in table.stdout
    assert "release (dose rate at 1 m <= 20 uSv/h)" in table.stdout


def test_table_flags_extrapolation_and_excess_scatter() -> None:
    result = run_main("dosimetry", "fit", "--nuclide", "Lu-177", "--times-h", "4,24,48",
                      "--counts", "30000,20000,19000", "--live-s", "600")
    assert result.returncode == 0, result.stderr
    assert "FLAGGED: over 20 % extrapolated" in result.stdout
    assert "WARNING: scatter beyond counting statistics" in result.stdout
    assert "at least 5 points" in result.stdout


@pytest.mark.parametrize(("args", "words"), [
    (["--counts", "1,2,3"], "--counts has 3 values for 5 times"),
    (["--live-s", "600,600"], "--live-s has 2 values for 5 points"),
    (["--counts", "1,2,x,4,5"], "not a whole number"),
    (["--counts", "1,2,-3,4,5"], "outside the allowed range"),
    (["--times-h", "4,24,nan,96,168"], "outside the allowed range"),
    (["--times-h", "4,24,,96,168"], "empty value"),
    (["--times-h", "4,48,24,96,168"], "times must increase"),
    (["--live-s", "0"], "outside the allowed range"),
    (["--nuclide", "Lu-178"], "unknown nuclide"),
    (["--release-limit-usv-h", "20"], "go together"),
    (["--background-cps", "500"], "fewer than 2 points have a net rate above background"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], words: str) -> None:
    base = {"--nuclide": "Lu-177", "--times-h": TIMES, "--counts": COUNTS, "--live-s": "600"}
    for option, value in zip(args[::2], args[1::2], strict=True):
        base[option] = value
    result = run_main("dosimetry", "fit", *[x for kv in base.items() for x in kv])
    assert result.returncode == 2
    assert words in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_series_and_its_nuclide_are_needed() -> None:
    result = run_main("dosimetry", "fit", "--nuclide", "Lu-177", "--counts", COUNTS)
    assert result.returncode == 2
    assert "a series needs --times-h, --live-s" in result.stderr
    result = run_main("dosimetry", "fit", "--times-h", TIMES, "--counts", COUNTS, "--live-s", "9")
    assert result.returncode == 2
    assert "a series needs --nuclide" in result.stderr
