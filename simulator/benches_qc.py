"""The simulator's daily-QC and calibration benches (re-exported by probe_nav.simulator.benches): a
spectrum of calibration sources for the energy calibration, a repeated-count series for the
chi-square test, and a check-source count for daily constancy. Deterministic for a given seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np

from probe_nav.calibration.nuclides import nuclide
from probe_nav.calibration.sources import CertifiedSource
from probe_nav.simulator.bench_setup import AIR_Z_MM, DOWN, bench_probe, count_at, simulation
from probe_nav.simulator.physics import PointSource, ProbeModel
from probe_nav.simulator.rates import probe_sensitivity_cps_per_mbq

FINE_KEV = 0.025  # the engine's linear spectrum is taken this fine, then re-binned
CALIBRATION_SOURCES_MBQ = {"Am-241": 0.3, "Co-57": 0.2, "Ba-133": 0.5, "Cs-137": 2.0}


@dataclass(frozen=True)
class CalibrationSpectrum:
    """A pulse-height spectrum (counts per channel) with the truth behind it.

    truth: coefficients (keV = c0 + c1 x + c2 x^2 at channel coordinate x, bin i centred on
    x = i), lines (energy_kev, nuclide, channel), fwhm_kev(E) of the crystal's photopeak.
    """

    spectrum: np.ndarray
    live_s: float
    real_s: float
    coefficients: tuple[float, float, float]
    lines: tuple[tuple[float, str, float], ...]
    probe: ProbeModel
    truth: dict[str, object] = field(default_factory=dict)

    def channel_of(self, energy_kev: float) -> float:
        """True channel coordinate of an energy."""
        c0, c1, c2 = self.coefficients
        if c2 == 0:
            return (energy_kev - c0) / c1
        return 2 * (energy_kev - c0) / (c1 + math.sqrt(c1 * c1 - 4 * c2 * (c0 - energy_kev)))

    def fwhm_kev(self, energy_kev: float) -> float:
        """The crystal's photopeak FWHM at an energy (the simulator's resolution model)."""
        return self.probe.crystal.fwhm_kev(energy_kev)


def bench_calibration_spectrum(activities_mbq: dict[str, float] | None = None,
                               count_s: float = 300.0, n_channels: int = 1024,
                               coefficients: Sequence[float] = (0.0, 0.75, 0.0),
                               distance_mm: float = 50.0, probe: ProbeModel | None = None,
                               seed: int = 0, **probe_overrides: object) -> CalibrationSpectrum:
    """Spectrum of calibration sources (default Am-241, Co-57, Ba-133, Cs-137) in air in front
    of the probe, binned with a known (optionally quadratic) channel -> keV relation."""
    activities = dict(CALIBRATION_SOURCES_MBQ if activities_mbq is None else activities_mbq)
    c = tuple(float(v) for v in coefficients) + (0.0,) * (3 - len(coefficients))
    c0, c1, c2 = c[:3]
    top_kev = c0 + c1 * (n_channels - 0.5) + c2 * (n_channels - 0.5) ** 2
    fine_n = math.ceil(top_kev / FINE_KEV) + 1
    probe = bench_probe(probe, spectrum_channels=fine_n, kev_per_channel=FINE_KEV,
                        **probe_overrides)
    sources = [PointSource(name, (0.0, 0.0, AIR_Z_MM), mbq, name)
               for name, mbq in activities.items()]
    first = next(iter(activities))
    sim = simulation(sources, probe, seed, first)
    sim.spectrum_enabled = True
    frame, _ = count_at(sim, (0.0, 0.0, AIR_Z_MM + distance_mm), DOWN, count_s)
    fine = np.asarray(frame.spectrum, dtype=float)
    energy = (np.arange(fine_n) + 0.5) * FINE_KEV
    spectrum = CalibrationSpectrum(np.zeros(n_channels, dtype=np.int64), frame.live_s,
                                   frame.real_s, (c0, c1, c2), (), probe)
    channel = np.rint([spectrum.channel_of(e) for e in energy]).astype(int) \
        if c2 else np.rint((energy - c0) / c1).astype(int)
    keep = (channel >= 0) & (channel < n_channels)
    binned = np.bincount(channel[keep], weights=fine[keep], minlength=n_channels)
    lines = tuple(sorted((line.energy_kev, name, spectrum.channel_of(line.energy_kev))
                         for name in activities for line in nuclide(name).lines
                         if c0 <= line.energy_kev <= top_kev))
    return CalibrationSpectrum(np.rint(binned).astype(np.int64), frame.live_s, frame.real_s,
                               (c0, c1, c2), lines, probe,
                               {"resolution_pct_at_140kev": probe.crystal.resolution_pct})


@dataclass(frozen=True)
class RepeatedCounts:
    """N counts of one steady source for the chi-square test; truth: the expected count and
    whether the series is Poisson (no wobble) or over-dispersed."""

    counts: np.ndarray
    live_s: np.ndarray
    expected_counts: np.ndarray
    wobble_mm: float


def bench_repeated_counts(n: int = 10, count_s: float = 10.0, activity_mbq: float = 0.5,
                          distance_mm: float = 50.0, wobble_mm: float = 0.0,
                          nuclide_name: str = "Co-57", room_cps: float = 1.0,
                          probe: ProbeModel | None = None, seed: int = 0) -> RepeatedCounts:
    """n counts of a check source in a holder; wobble_mm > 0 moves the source by that sd
    between counts (a loose holder), which makes the counts vary more than Poisson."""
    probe = bench_probe(probe)
    src = PointSource("check source", (0.0, 0.0, AIR_Z_MM), activity_mbq, nuclide_name)
    sim = simulation([src], probe, seed, nuclide_name, room_cps)
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    counts, live, expected = [], [], []
    for _ in range(n):
        d = distance_mm + (rng.normal(0.0, wobble_mm) if wobble_mm > 0 else 0.0)
        frame, rate = count_at(sim, (0.0, 0.0, AIR_Z_MM + max(d, 1.0)), DOWN, count_s)
        counts.append(frame.counts[0])
        live.append(frame.live_s)
        expected.append(rate * count_s)
    return RepeatedCounts(np.asarray(counts), np.asarray(live), np.asarray(expected), wobble_mm)


@dataclass(frozen=True)
class CheckSourceCount:
    """A daily-QC count: background then the check source in its holder, at `when`."""

    source: CertifiedSource
    when: datetime
    counts: int
    live_s: float
    real_s: float
    background_counts: int
    background_live_s: float
    truth: dict[str, float] = field(default_factory=dict)


def bench_check_source(when: datetime | None = None, certificate_age_days: float = 120.0,
                       activity_mbq: float = 3.7, activity_sd_mbq: float = 0.11,
                       distance_mm: float = 50.0, count_s: float = 60.0,
                       background_s: float = 60.0, room_cps: float = 1.0,
                       sensitivity_factor: float = 1.0, nuclide_name: str = "Co-57",
                       probe: ProbeModel | None = None, seed: int = 0) -> CheckSourceCount:
    """Co-57 check source (certified activity_mbq certificate_age_days before `when`) counted
    in a fixed holder. sensitivity_factor < 1 plays a probe that has lost sensitivity.

    truth: activity_mbq at `when`, expected_net_cps and cps_per_mbq (net over activity).
    """
    when = when or datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    reference = when - timedelta(days=certificate_age_days)
    source = CertifiedSource(nuclide_name, activity_mbq, activity_sd_mbq, reference, "sim-0001")
    base = bench_probe(probe)
    probe = bench_probe(base, sensitivity_cps_per_mbq=probe_sensitivity_cps_per_mbq(base)
                        * sensitivity_factor)
    today = source.activity_at(when).mbq
    src = PointSource("check source", (0.0, 0.0, AIR_Z_MM), today, nuclide_name,
                      from_s=background_s)
    sim = simulation([src], probe, seed, nuclide_name, room_cps)
    tip = (0.0, 0.0, AIR_Z_MM + distance_mm)
    bg, _ = count_at(sim, tip, DOWN, background_s)
    frame, rate = count_at(sim, tip, DOWN, count_s)
    return CheckSourceCount(source, when, frame.counts[0], frame.live_s, frame.real_s,
                            bg.counts[0], bg.live_s,
                            {"activity_mbq": today, "expected_net_cps": rate - room_cps,
                             "cps_per_mbq": (rate - room_cps) / today, "room_cps": room_cps})
