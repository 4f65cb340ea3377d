"""Sensitivity, background check, daily constancy and battery check."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.sensitivity import (
    DECAYS_PER_S_PER_MBQ,
    MAX_OBSERVED_CPS,
    background_check,
    battery_check,
    constancy,
    net_rate,
    sensitivity,
)
from probe_nav.calibration.sources import CertifiedSource
from probe_nav.simulator.benches import bench_check_source
from tests.in_process import run_main

from .conftest import coverage_bounds

WHEN = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def test_worked_sensitivity() -> None:
    # 1 MBq Co-57 today (certificate: 2 MBq one half-life ago, sd 2 %); 60 s -> 60,000 counts,
    # background 1.0 +- 0.1 cps: S = (1000 - 1) / 1 = 999 cps/MBq (a 60 s count of a 271.8 d
    # source: mean activity differs from the start's by 9e-7).
    src = CertifiedSource("Co-57", 2.0, 0.04, WHEN - timedelta(days=271.8))
    s = sensitivity(60_000, 60.0, 1.0, 0.1, src, WHEN)
    assert s.cps_per_mbq == pytest.approx(999.0, rel=2e-6)
    net_sd = math.hypot(math.sqrt(60_000) / 60.0, 0.1)
    assert s.sd == pytest.approx(999.0 * math.hypot(net_sd / 999.0, 0.02), rel=1e-5)


def test_source_not_seen_is_an_error() -> None:
    src = CertifiedSource("Co-57", 1.0, 0.01, WHEN)
    with pytest.raises(AnalysisError, match="not seen"):
        sensitivity(62, 60.0, 1.0, 0.1, src, WHEN)
    with pytest.raises(AnalysisError, match="live time"):
        net_rate(10, 0.0)


def test_a_count_no_probe_can_make_is_refused() -> None:
    # 100 counts in 1 us is 1e8 cps (it used to give 3.7e7 cps/MBq from 2.7 MBq of Co-57)
    src = CertifiedSource("Co-57", 2.7, 0.0, WHEN)
    with pytest.raises(AnalysisError, match=r"implausible count.*1e\+08 cps"):
        sensitivity(100, 1e-6, 0.0, 0.0, src, WHEN)


def test_more_counts_than_photons_emitted_is_refused() -> None:
    # 1000 net cps from "0.27" MBq of Co-57 is plausible (3700 cps/MBq); the same count with the
    # activity typed in kBq as 0.00027 MBq claims more counts than the 0.27 kBq x (0.856 + 0.107
    # + 0.0916 + X-rays) photons/s the source emits, so it is refused rather than stored.
    src = CertifiedSource("Co-57", 0.27, 0.0, WHEN)
    assert sensitivity(60_060, 60.0, 1.0, 0.1, src, WHEN).cps_per_mbq == pytest.approx(
        1000.0 / 0.27, rel=1e-5)
    kbq = CertifiedSource("Co-57", 0.27e-3, 0.0, WHEN)
    with pytest.raises(AnalysisError, match=r"implausible sensitivity.*unit"):
        sensitivity(60_060, 60.0, 1.0, 0.1, kbq, WHEN)


@settings(max_examples=200, deadline=None)
@given(counts=st.integers(0, 10**9), live_s=st.floats(1e-7, 1e4),
       activity_mbq=st.floats(1e-6, 1e4), nuclide=st.sampled_from(["Co-57", "Tc-99m", "Cs-137"]))
def test_a_sensitivity_is_physically_possible_or_refused(counts: int, live_s: float,
                                                         activity_mbq: float,
                                                         nuclide: str) -> None:
    # Whatever the inputs: either an AnalysisError, or a result from an observable rate that is
    # at most every emitted photon counted (1e6 decays/s per MBq x the photons per decay).
    src = CertifiedSource(nuclide, activity_mbq, 0.0, WHEN)
    photons = sum(line.yield_per_decay for line in src.nuclide.lines)
    try:
        s = sensitivity(counts, live_s, 0.0, 0.0, src, WHEN)
    except AnalysisError:
        return
    assert counts / live_s <= MAX_OBSERVED_CPS
    assert 0 < s.cps_per_mbq <= DECAYS_PER_S_PER_MBQ * photons * (1 + 1e-12)


def test_cli_refuses_an_activity_in_the_wrong_unit(tmp_path) -> None:
    # The simulator's Co-57 check source read against a certificate of 1e-6 MBq (1 Bq): the
    # source "emits" ~1 photon/s but is counted at hundreds of cps; one line, exit 2, no record.
    db = tmp_path / "qc.sqlite"
    done = run_main("calibrate", "sensitivity", "--sim", "qc-co57", "--speed", "20",
                    "--duration", "2", "--db", str(db), "--nuclide", "Co-57",
                    "--activity-mbq", "1e-6", "--reference-date", "2025-01-01T00:00+00:00")
    assert done.returncode == 2, done.stdout
    assert "implausible sensitivity" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def _sensitivity_of(qc) -> tuple[float, float]:
    bg = net_rate(qc.background_counts, qc.background_live_s)
    s = sensitivity(qc.counts, qc.live_s, bg.gross_cps, bg.gross_sd_cps, qc.source, qc.when,
                    count_duration_s=qc.real_s)
    return s.cps_per_mbq, s.net_sd_cps / s.activity_mbq  # counting sd only


def test_bench_sensitivity_recovered_within_its_sd() -> None:
    # The certificate's sd is a systematic (same for every seed), so coverage is checked with
    # the counting sd against the simulator's true activity.
    n, hits = 40, 0
    for seed in range(n):
        qc = bench_check_source(seed=seed)
        s, sd = _sensitivity_of(qc)
        hits += abs(s - qc.truth["cps_per_mbq"]) <= 2 * sd
    lo, hi = coverage_bounds(n, 2.0)
    assert lo <= hits <= hi


def test_constancy_decay_corrected() -> None:
    # Baseline 1000 cps 100 days ago with Co-57; today's expected 1000 * 2^(-100/271.8).
    expected = 1000.0 * 2 ** (-100 / 271.8)
    ok = constancy(expected * 1.05, 5.0, 1000.0, 5.0, WHEN - timedelta(days=100), WHEN, "Co-57")
    assert ok.passed and ok.ratio == pytest.approx(1.05)
    assert ok.expected_cps == pytest.approx(expected)
    assert ok.deviation_pct == pytest.approx(5.0)
    bad = constancy(expected * 0.88, 5.0, 1000.0, 5.0, WHEN - timedelta(days=100), WHEN, "Co-57")
    assert not bad.passed
    tight = constancy(expected * 1.05, 5.0, 1000.0, 5.0, WHEN - timedelta(days=100), WHEN,
                      "Co-57", tolerance=0.03)
    assert not tight.passed
    # without decay correction the same reading would look 22 % low
    assert expected / 1000.0 == pytest.approx(0.775, abs=1e-3)


def test_constancy_on_the_bench_catches_a_probe_that_lost_sensitivity() -> None:
    base = bench_check_source(when=WHEN - timedelta(days=60), seed=1)
    bg0 = net_rate(base.background_counts, base.background_live_s)
    b = net_rate(base.counts, base.live_s, bg0.gross_cps, bg0.gross_sd_cps)
    verdicts = {}
    for factor in (1.0, 0.85):
        today = bench_check_source(when=WHEN, certificate_age_days=180.0,
                                   sensitivity_factor=factor, seed=2)
        bg = net_rate(today.background_counts, today.background_live_s)
        m = net_rate(today.counts, today.live_s, bg.gross_cps, bg.gross_sd_cps)
        r = constancy(m.net_cps, m.net_sd_cps, b.net_cps, b.net_sd_cps, base.when, today.when,
                      "Co-57")
        verdicts[factor] = r
    assert verdicts[1.0].passed and abs(verdicts[1.0].ratio - 1) < 4 * verdicts[1.0].ratio_sd
    assert not verdicts[0.85].passed
    assert verdicts[0.85].ratio == pytest.approx(0.85, abs=4 * verdicts[0.85].ratio_sd)


def test_background_check() -> None:
    assert background_check(60, 60.0, max_cps=5.0).passed
    hot = background_check(600, 60.0, max_cps=5.0)
    assert not hot.passed and "above the limit" in hot.reason
    contaminated = background_check(180, 60.0, baseline_cps=1.0, baseline_sd_cps=0.1)
    assert not contaminated.passed and "contamination" in contaminated.reason
    assert contaminated.excess_z == pytest.approx((3.0 - 1.0) / math.hypot(
        math.sqrt(180) / 60, 0.1))
    assert background_check(66, 60.0, baseline_cps=1.0, baseline_sd_cps=0.1).passed


def test_battery_check() -> None:
    assert battery_check(None).passed is None
    assert battery_check(80).passed is True
    assert battery_check(10, min_pct=20).passed is False
    assert np.isclose(battery_check(25).battery_pct, 25.0)
