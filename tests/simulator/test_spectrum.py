"""Energy spectra: photopeak position and FWHM, Compton edge, windows, downscatter, gain."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from probe_nav.simulator.detector import Crystal, compton_edge_kev, default_crystal
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.faults import FaultPlan, make_fault
from probe_nav.simulator.scenario import load
from probe_nav.simulator.spectrum import ShapeTable, line_row
from tests.simulator.helpers import scenario_file

FWHM_PER_SIGMA = 2 * math.sqrt(2 * math.log(2))


def spectrum_sim(tmp_path, nuclide: str, activity_mbq: float = 10.0, seed: int = 1) -> Simulation:
    """A source in air 100 mm in front of a CdTe probe (8 % FWHM at 140.5 keV, no tailing)
    with 1024 channels of 0.5 keV."""
    path = scenario_file(
        tmp_path, nuclide=nuclide, frame_period_s=1.0,
        probe={"energy_resolution_pct": 8.0, "tail_fraction": 0.0,
               "spectrum_channels": 1024, "kev_per_channel": 0.5},
        sources=[{"position_mm": [0, 0, 10], "activity_mbq": activity_mbq}],
        path={"waypoints": [{"position_mm": [0, 0, 110]}]})
    sim = Simulation(load(str(path)), seed=seed)
    sim.spectrum_enabled = True
    return sim


def summed_spectrum(sim: Simulation, frames: int) -> np.ndarray:
    """Sum of the frames' spectra; checks each against its window count on the way."""
    total = np.zeros(sim.scenario.probe.spectrum_channels)
    for _ in range(frames):
        frame = sim.step()
        spectrum = np.asarray(frame.spectrum)
        w = sim.windows[0]
        kev = sim.scenario.probe.kev_per_channel
        lo, hi = int(w.lo_kev / kev), int(w.hi_kev / kev)
        assert spectrum[lo:hi].sum() == frame.counts[0]  # windows and spectrum agree
        total += spectrum
    return total


@pytest.mark.parametrize(("nuclide", "energy_kev", "activity_mbq"),
                         [("Tc-99m", 140.5, 10.0), ("I-131", 364.5, 50.0)])
def test_photopeak_lands_at_the_line_with_the_configured_fwhm(
        tmp_path, nuclide: str, energy_kev: float, activity_mbq: float) -> None:
    sim = spectrum_sim(tmp_path, nuclide, activity_mbq)
    spectrum = summed_spectrum(sim, 30)
    centres = (np.arange(len(spectrum)) + 0.5) * 0.5
    fwhm = 0.08 * 140.5 * math.sqrt(energy_kev / 140.5)  # 8 % at 140.5 keV, ~ sqrt(E)
    sigma = fwhm / FWHM_PER_SIGMA
    near = np.abs(centres - energy_kev) < 2.5 * sigma
    n = spectrum[near].sum()
    assert n > 5000
    # Mean and sd of the channels within +-2.5 sigma: a Gaussian truncated there has sd
    # 0.9167 sigma (standard result); channel width 0.5 keV adds w^2/12 to the variance.
    mean = float((spectrum[near] * centres[near]).sum() / n)
    var = float((spectrum[near] * (centres[near] - mean) ** 2).sum() / n) - 0.5**2 / 12
    truncation = math.sqrt(1 - 2 * 2.5 * stats.norm.pdf(2.5) / (2 * stats.norm.cdf(2.5) - 1))
    measured_fwhm = math.sqrt(var) / truncation * FWHM_PER_SIGMA
    # sd of the mean sigma/sqrt(n) (< 0.1 keV); of the sd ~ sigma/sqrt(2n) (< 1.5 %).
    assert mean == pytest.approx(energy_kev, abs=5 * sigma / math.sqrt(n) + 0.02)
    assert measured_fwhm == pytest.approx(fwhm, rel=5 / math.sqrt(2 * n) + 0.005)


def test_compton_edge_where_the_formula_puts_it(tmp_path) -> None:
    energy = 364.5
    edge = compton_edge_kev(energy)
    assert edge == pytest.approx(energy * 2 * (energy / 511) / (1 + 2 * energy / 511), rel=1e-3)
    assert edge == pytest.approx(214.3, abs=0.1)
    sim = spectrum_sim(tmp_path, "I-131", 50.0)
    spectrum = summed_spectrum(sim, 30)
    centres = (np.arange(len(spectrum)) + 0.5) * 0.5
    kernel = np.ones(5) / 5  # 2.5 keV smoothing (counting noise), << sigma at the edge
    smooth = np.convolve(spectrum, kernel, mode="same")
    region = (centres > edge - 40) & (centres < edge + 40)
    c, s = centres[region], smooth[region]
    top = int(np.argmax(s))
    half = s[top] / 2
    j = top + int(np.argmax(s[top:] < half))
    crossing = c[j - 1] + (s[j - 1] - half) / (s[j - 1] - s[j]) * (c[j] - c[j - 1])
    # A step convolved with the resolution crosses half height at the step; the rising
    # Klein-Nishina shape moves it by a fraction of sigma (here sigma(214 keV) = 5.9 keV).
    sigma_edge = 0.08 * 140.5 * math.sqrt(edge / 140.5) / FWHM_PER_SIGMA
    assert abs(crossing - edge) < 0.5 * sigma_edge
    # Between the edge and the next photopeak (284.3 keV) only a few counts land (no tissue
    # scatter in air): the Compton continua of I-131's 637/723 keV lines (8.9 % of decays
    # against 81.5 % at 364.5 keV, spread over 0-454/0-527 keV; ENSDF) give ~2.7 % of the
    # level below the edge (seed 1), a fifth of it if anything landed there but those continua.
    sigma_284 = 0.08 * 140.5 * math.sqrt(284.31 / 140.5) / FWHM_PER_SIGMA
    valley = spectrum[(centres > edge + 4 * sigma_edge) & (centres < 284.31 - 4 * sigma_284)]
    assert valley.mean() < 0.05 * spectrum[(centres > edge - 30) & (centres < edge - 10)].mean()


def test_cdte_tailing_puts_counts_just_below_the_peak() -> None:
    clean, tailed = Crystal("CdTe", 2.0, 8.0, 0.0), Crystal("CdTe", 2.0, 8.0, 0.15)
    table = ShapeTable.from_rows([line_row(clean, 140.5), line_row(tailed, 140.5)])
    below = table.fraction_between(110.0, 126.0)
    window = table.fraction_between(126.0, 155.0)
    assert below[1] > 2 * below[0]
    assert window[1] < window[0]


def test_efficiency_and_photofraction_follow_the_crystal() -> None:
    cdte = default_crystal("CdTe")
    # 2 mm CdTe, NIST mu/rho 0.715 cm2/g at 140.5 keV, 5.85 g/cm3: 1 - exp(-0.837) = 0.567.
    assert cdte.efficiency(140.5) == pytest.approx(0.567, abs=0.005)
    assert cdte.efficiency(27.4) > 0.999
    assert cdte.photofraction(140.5) > cdte.photofraction(364.5) > cdte.photofraction(511.0)


def test_tc99m_downscatters_into_the_i125_window(tmp_path) -> None:
    # No I-125 anywhere: what the I-125 window (20-45 keV) counts is Tc-99m Compton continuum
    # in the crystal (edge 49.8 keV) and tissue scatter, the correction dual-isotope work needs.
    path = scenario_file(tmp_path, windows=[{"nuclide": "I-125"}, {"nuclide": "Tc-99m"}],
                         sources=[{"position_mm": [0, 0, -30], "activity_mbq": 0.5}])
    sim = Simulation(load(str(path)), seed=3)
    frames = [sim.step() for _ in range(200)]
    i125 = sum(f.counts[0] for f in frames)
    tc = sum(f.counts[1] for f in frames)
    ratio = frames[0].truth.window_rates_cps[0] / frames[0].truth.window_rates_cps[1]
    assert 0.05 < ratio < 0.6
    expected = sum(f.truth.window_rates_cps[0] * f.live_s for f in frames)
    assert abs(i125 - expected) < 4.5 * math.sqrt(expected)
    assert tc > i125 > 0


def test_hv_fault_shifts_the_peak_out_of_the_window(tmp_path) -> None:
    sim = spectrum_sim(tmp_path, "Tc-99m")
    sim.faults = FaultPlan([make_fault("hv", 5.0, 5.0, param=0.7)])
    frames = [sim.step() for _ in range(15)]
    normal, faulty = frames[:5], frames[5:10]
    assert all(f.truth.gain == 0.7 for f in faulty)
    assert np.mean([f.counts[0] for f in faulty]) < 0.05 * np.mean([f.counts[0] for f in normal])
    peak_channel = int(np.argmax(np.sum([f.spectrum for f in faulty], axis=0)))
    assert peak_channel * 0.5 == pytest.approx(0.7 * 140.5, abs=3.0)


def test_windows_can_be_redefined_and_added() -> None:
    sim = Simulation(load("sln-static"), seed=1)
    sim.set_window(1, 20.0, 45.0, "I-125")
    sim.set_window(0, 100.0, 160.0)
    frame = sim.step()
    assert len(frame.counts) == 2 and len(frame.truth.window_rates_cps) == 2
    with pytest.raises(ValueError):
        sim.set_window(3, 10.0, 20.0)
    with pytest.raises(ValueError):
        sim.set_window(0, 50.0, 40.0)
