"""The simulator's crosstalk bench (probe_nav.simulator.benches_crosstalk): a single isotope in
tissue counted in every window; the spill the analysis finds against the physics' own."""

from __future__ import annotations

import math

import numpy as np
import pytest

from probe_nav.calibration.crosstalk_measure import measure_spills, own_window
from probe_nav.drivers.frames import EnergyWindow
from probe_nav.simulator.benches_crosstalk import bench_crosstalk
from probe_nav.simulator.physics import ProbeModel
from probe_nav.simulator.scenario import ScenarioError

RSL = "rsl-dual-isotope"


def _spill(b):
    return measure_spills(b.source_window, b.counts.tolist(), b.live_s,
                          b.background_counts.tolist(), b.background_live_s)


def test_tc99m_spills_about_a_tenth_of_its_window_into_the_i125_window() -> None:
    b = bench_crosstalk(RSL, nuclide_name="Tc-99m", seed=1)
    assert b.source_window == 1 and [w.name for w in b.windows] == ["I-125", "Tc-99m"]
    truth = b.truth["spill"]
    # The physics at 20 mm of tissue: 9.6 % (scatter in tissue and the CdTe low-energy tail;
    # issue 18 quotes 9.5 %); docs/qc.md gives the depth dependence.
    assert 0.085 < truth[0] < 0.105
    s = _spill(b).spills[0]
    assert (s.source, s.target) == (1, 0)
    # Counting noise only: 4 sd of the reported sd (dead time takes the same share of every
    # window, and the live time takes it out).
    assert abs(s.fraction - truth[0]) < 4 * s.sd, (s, truth)
    assert s.sd < 0.02 * s.fraction  # ~1e5 counts: about 1 % precision


def test_i125_does_not_reach_the_tc99m_window() -> None:
    b = bench_crosstalk(RSL, nuclide_name="I-125", seed=2, count_s=20.0)
    assert b.source_window == 0
    assert b.truth["spill"][1] == 0.0  # no I-125 line above 126 keV, no upscatter
    s = _spill(b).spills[0]
    assert s.fraction < 4 * s.sd  # consistent with 0 (clipped at 0 when below)
    assert b.background_counts.sum() > 0  # the room background was counted


def test_the_spill_estimates_scatter_about_the_physics_over_seeds() -> None:
    """8 seeds: mean within 4 standard errors of the physics' spill (counting noise only)."""
    found = np.array([_spill(bench_crosstalk(RSL, nuclide_name="Tc-99m", seed=s,
                                             count_s=15.0)).spills[0].fraction
                      for s in range(8)])
    truth = bench_crosstalk(RSL, nuclide_name="Tc-99m", seed=0, count_s=1.0).truth["spill"][0]
    se = found.std(ddof=1) / math.sqrt(found.size)
    assert abs(found.mean() - truth) < 4 * se, (found, truth)


def test_same_seed_same_counts_and_depth_changes_the_physics() -> None:
    a = bench_crosstalk(RSL, nuclide_name="Tc-99m", seed=5, count_s=2.0)
    b = bench_crosstalk(RSL, nuclide_name="Tc-99m", seed=5, count_s=2.0)
    assert np.array_equal(a.counts, b.counts)
    assert np.array_equal(a.background_counts, b.background_counts)
    shallow = bench_crosstalk(RSL, nuclide_name="Tc-99m", seed=5, count_s=2.0,
                              distance_mm=2.0)
    # 2 mm deep: Tc-99m's 18-21 keV X-rays are hardly attenuated, 11.4 % against 9.6 % at
    # 20 mm (docs/qc.md): a calibration holds for the depth it was made at.
    assert shallow.truth["spill"][0] > a.truth["spill"][0] + 0.01


def test_a_probe_needs_its_windows_and_a_nuclide_needs_its_window() -> None:
    with pytest.raises(ValueError, match="windows"):
        bench_crosstalk(ProbeModel(), nuclide_name="Tc-99m")
    with pytest.raises(ValueError, match="no window is Co-57"):
        bench_crosstalk(RSL, nuclide_name="Co-57")
    with pytest.raises(ScenarioError):
        bench_crosstalk("no-such-scenario")
    wins = (EnergyWindow(20.0, 45.0, "low"), EnergyWindow(126.0, 155.0, "high"))
    assert own_window(wins, "Tc-99m") == 1  # by its main line when no window has its name
    b = bench_crosstalk(ProbeModel(), wins, "Tc-99m", count_s=1.0)
    assert b.source_window == 1 and b.background_counts.sum() == 0  # no room rate given
