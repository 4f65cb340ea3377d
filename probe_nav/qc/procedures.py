"""QC and calibration procedures: a Measurement in, the calibration/ analysis, a result out that
the store keeps (JSON-ready fields) and the command line prints. No I/O here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from probe_nav.calibration.chisquare import chi_square_test
from probe_nav.calibration.energy import (
    MAX_OFFSET_FRACTION,
    MAX_OFFSET_KEV,
    auto_calibrate,
    energy_resolution,
)
from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.nuclides import nuclide
from probe_nav.calibration.sensitivity import background_check, battery_check, constancy, net_rate
from probe_nav.calibration.sensitivity import sensitivity as sensitivity_of
from probe_nav.calibration.sources import CertifiedSource
from probe_nav.qc.measure import Measurement

DAILY = "daily"
CHI_SQUARE = "chi-square"


@dataclass(frozen=True)
class Outcome:
    """What a procedure found: the test name, verdict (None: no verdict), fields and a summary."""

    test: str
    passed: bool | None
    result: dict[str, Any]
    summary: list[str]


def chi_square(counts: list[int] | Any, p_low: float = 0.10, p_high: float = 0.90) -> Outcome:
    """Chi-square test of N >= 10 repeated counts (AnalysisError for too few or bad counts)."""
    r = chi_square_test([int(c) for c in counts], p_low, p_high)
    result = {"chi2": r.chi2, "dof": r.dof, "p_value": r.p_value, "band": list(r.band),
              "pass": r.passed, "mean": r.mean, "n": r.n, "p_low": r.p_low, "p_high": r.p_high,
              "counts": [int(c) for c in counts]}
    summary = [f"chi-square {r.chi2:.3f} with {r.dof} dof, p = {r.p_value:.3f}; pass band "
               f"{r.band[0]:.3f}-{r.band[1]:.3f} (p {p_high:g}/{p_low:g}): {r.verdict}"]
    return Outcome(CHI_SQUARE, r.passed, result, summary)


def daily(check: Measurement, nuclide_name: str, baseline: dict[str, Any] | None,
          baseline_when: datetime | None, background: Measurement | None = None,
          background_cps: float | None = None, background_max_cps: float | None = None,
          tolerance: float = 0.10, min_battery_pct: float = 20.0) -> Outcome:
    """Daily QC: background, check-source constancy against the decayed baseline, battery.

    Without a baseline the measured rate is recorded as the new baseline (constancy not judged).
    """
    nuclide(nuclide_name)
    result: dict[str, Any] = {"nuclide": nuclide_name, "tolerance": tolerance}
    summary: list[str] = []
    verdicts: list[bool] = []
    bg_cps, bg_sd = 0.0, 0.0
    if background is not None:
        bg = background_check(background.total_counts, background.total_live_s,
                              background_max_cps)
        bg_cps, bg_sd = bg.rate_cps, bg.rate_sd_cps
        result.update(background_cps=bg.rate_cps, background_sd_cps=bg.rate_sd_cps,
                      background_pass=bg.passed)
        verdicts.append(bg.passed)
        summary.append(f"background {bg.rate_cps:.3f} +- {bg.rate_sd_cps:.3f} cps: "
                       f"{'pass' if bg.passed else 'FAIL: ' + bg.reason}")
    elif background_cps is not None:
        bg_cps = background_cps
        result["background_cps"] = background_cps
    rate = net_rate(check.total_counts, check.total_live_s, bg_cps, bg_sd)
    result.update(rate_cps=rate.net_cps, rate_sd_cps=rate.net_sd_cps,
                  counts=check.total_counts, live_s=check.total_live_s)
    summary.append(f"check source ({nuclide_name}) net {rate.net_cps:.2f} +- "
                   f"{rate.net_sd_cps:.2f} cps from {check.total_counts} counts in "
                   f"{check.total_live_s:.2f} s live")
    if baseline is None or baseline_when is None:
        result["baseline"] = True
        summary.append("no baseline for this probe and nuclide yet: this result is the baseline")
    else:
        c = constancy(rate.net_cps, rate.net_sd_cps, float(baseline["rate_cps"]),
                      float(baseline["rate_sd_cps"]), baseline_when, check.start_time,
                      nuclide_name, tolerance)
        result.update(baseline=False, ratio=c.ratio, ratio_sd=c.ratio_sd,
                      expected_cps=c.expected_cps, constancy_pass=c.passed)
        verdicts.append(c.passed)
        summary.append(f"constancy {c.ratio:.4f} +- {c.ratio_sd:.4f} of the decayed baseline "
                       f"{c.expected_cps:.2f} cps (+-{100 * tolerance:g} %): "
                       f"{'pass' if c.passed else 'FAIL'}")
    battery = battery_check(check.battery_pct, min_battery_pct)
    if battery.passed is not None:
        result.update(battery_pct=battery.battery_pct, battery_pass=battery.passed)
        verdicts.append(battery.passed)
        summary.append(f"battery {battery.battery_pct:g} % (min {min_battery_pct:g} %): "
                       f"{'pass' if battery.passed else 'FAIL'}")
    passed = all(verdicts) if verdicts else None
    return Outcome(DAILY, passed, result, summary)


def energy(spectrum_of: Measurement, energies_kev: list[float], order: int = 1,
           resolution_at_kev: float | None = None,
           yields: list[float] | None = None) -> Outcome:
    """Energy calibration of a summed spectrum from known lines (yields weight unresolved
    blends), and the resolution at one line."""
    if spectrum_of.spectrum is None:
        raise AnalysisError("this measurement has no spectrum: an energy calibration needs one "
                            "(record an N42 file from a device that sends spectra)")
    cal = auto_calibrate(spectrum_of.spectrum, energies_kev, order, yields=yields)
    offset_limit_kev = max(MAX_OFFSET_KEV, MAX_OFFSET_FRACTION * max(energies_kev))
    if abs(cal.coefficients[0]) > offset_limit_kev:
        raise AnalysisError(
            f"implausible calibration: {cal.coefficients[0]:.1f} keV at channel 0 (peaks at "
            f"channels {', '.join(f'{c:.0f}' for c in cal.channels)} matched to "
            f"{', '.join(f'{e:g}' for e in cal.energies_kev)} keV); the lines were probably not "
            "all found: use a source with well-separated lines (--lines)")
    result: dict[str, Any] = {
        "coefficients": list(cal.coefficients), "coefficients_sd": list(cal.coefficients_sd),
        "chi2_dof": cal.chi2_dof, "residuals_kev": list(cal.residuals_kev),
        "channels": list(cal.channels), "energies_kev": list(cal.energies_kev), "order": order}
    summary = ["keV = " + " + ".join(f"{c:.6g}*ch^{i}" for i, c in enumerate(cal.coefficients))
               + f" from {len(cal.channels)} peaks"]
    at = resolution_at_kev if resolution_at_kev is not None else max(energies_kev)
    res = energy_resolution(spectrum_of.spectrum, cal, at)
    result.update(resolution_kev=res.energy_kev, fwhm_kev=res.fwhm_kev,
                  fwhm_pct=res.fwhm_pct, fwhm_pct_sd=res.fwhm_pct_sd)
    summary.append(f"energy resolution {res.fwhm_pct:.2f} +- {res.fwhm_pct_sd:.2f} % FWHM at "
                   f"{res.energy_kev:.1f} keV")
    return Outcome("energy", None, result, summary)


def sensitivity(source_count: Measurement, source: CertifiedSource, background_cps: float,
                background_sd_cps: float, geometry: str) -> Outcome:
    """Sensitivity (cps/MBq) from a count of a certified source at a stated geometry."""
    s = sensitivity_of(source_count.total_counts, source_count.total_live_s, background_cps,
                       background_sd_cps, source, source_count.start_time, geometry,
                       source_count.total_real_s)
    result = {"cps_per_mbq": s.cps_per_mbq, "sd": s.sd, "net_cps": s.net_cps,
              "net_sd_cps": s.net_sd_cps, "activity_mbq": s.activity_mbq,
              "activity_sd_mbq": s.activity_sd_mbq, "geometry": geometry,
              "nuclide": source.nuclide_name, "source_serial": source.serial}
    where = geometry or "geometry not stated"
    summary = [f"sensitivity {s.cps_per_mbq:.1f} +- {s.sd:.1f} cps/MBq ({where}; "
               f"{source.nuclide_name} {s.activity_mbq:.4g} MBq at the count)"]
    return Outcome("sensitivity", None, result, summary)


def dead_time_two_source(parts: dict[str, Measurement], model: str) -> Outcome:
    """Dead time by the two-source method from counts of source 1, 2, both, and background."""
    from probe_nav.calibration.deadtime_methods import two_source

    rates = {k: m.total_counts / m.total_real_s for k, m in parts.items()}
    times = {k: m.total_real_s for k, m in parts.items()}
    est = two_source(rates["1"], rates["2"], rates["12"], rates["b"], times["1"], times["2"],
                     times["12"], times["b"], model)
    result = {"dead_time_s": est.tau_s, "dead_time_sd_s": est.tau_sd_s, "model": est.model,
              "method": est.method, "rates_cps": rates}
    summary = [f"dead time {1e6 * est.tau_s:.3f} +- {1e6 * est.tau_sd_s:.3f} us ({est.model}, "
               "two-source method)"]
    return Outcome("deadtime", None, result, summary)


def dead_time_decaying(series: Measurement, half_life_s: float, model: str) -> Outcome:
    """Dead time by the decaying-source method from one long count series (clock-time rates)."""
    import numpy as np

    from probe_nav.calibration.deadtime_methods import decaying_source

    t_mid = np.cumsum(series.real_s) - series.real_s / 2
    observed = series.counts / series.real_s
    est = decaying_source(t_mid, observed, series.real_s, half_life_s, model)
    result = {"dead_time_s": est.tau_s, "dead_time_sd_s": est.tau_sd_s, "model": est.model,
              "method": est.method, "chi2_dof": est.chi2_dof}
    summary = [f"dead time {1e6 * est.tau_s:.3f} +- {1e6 * est.tau_sd_s:.3f} us ({est.model}, "
               "decaying-source method)"]
    return Outcome("deadtime", None, result, summary)
