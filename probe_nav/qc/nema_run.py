"""NEMA NU 3 characterisation: measurement series (probe_nav.qc.nema_data) through the
probe_nav.calibration.nema analyses into one Outcome per test (stored as records
`nema-<test>`), and the simulator's benches as a source of series with known truth. No I/O here."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from typing import Any

import numpy as np

from probe_nav.calibration import nema
from probe_nav.calibration.energy import EnergyCalibration, auto_calibrate
from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.nuclides import nuclide
from probe_nav.calibration.sources import calibration_lines
from probe_nav.errors import UserError
from probe_nav.qc.nema_data import CountSeries, NemaData
from probe_nav.qc.procedures import Outcome

PREFIX = "nema-"
SPECTRUM_SOURCES_MBQ = {"Am-241": 0.4, "Tc-99m": 0.5, "Cs-137": 4.0}  # energy-resolution bench


def limits_from(toml_path: str | None, overrides: list[str]) -> nema.NemaLimits:
    """NemaLimits from a TOML file (keys = field names) and KEY=VALUE overrides ('none' removes
    a limit); UserError for an unknown key or a bad value."""
    values: dict[str, Any] = {}
    if toml_path:
        try:
            with open(toml_path, "rb") as fh:
                values.update(tomllib.load(fh))
        except OSError as exc:
            raise UserError(f"{toml_path}: cannot read ({exc.strerror or exc})") from None
        except tomllib.TOMLDecodeError as exc:
            raise UserError(f"{toml_path}: not valid TOML: {exc}") from None
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep:
            raise UserError(f"--limit {item!r}: give KEY=VALUE, e.g. max_spatial_fwhm_mm=20")
        values[key.strip()] = None if text.strip().lower() == "none" else text.strip()
    known = {f.name: f for f in dataclasses.fields(nema.NemaLimits)}
    parsed: dict[str, float | None] = {}
    for key, value in values.items():
        if key not in known:
            raise UserError(f"unknown NEMA limit {key!r}; known: {', '.join(known)}")
        if value is None:
            if key.startswith("reference_"):
                raise UserError(f"{key} cannot be none")
            parsed[key] = None
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise UserError(f"NEMA limit {key}: {value!r} is not a number") from None
        if not math.isfinite(number) or number < 0:
            raise UserError(f"NEMA limit {key} must be a finite number >= 0, got {value!r}")
        parsed[key] = number
    return nema.NemaLimits(**parsed)


# ------------------------------------------------------------------ the simulator's benches


def simulated_series(probe, seed: int) -> NemaData:
    """Every NEMA bench played on the simulator with this probe (probe_nav.simulator.benches)."""
    from probe_nav.simulator import benches
    from probe_nav.simulator.bench_setup import seeds

    s = seeds(seed, 7)
    air = benches.bench_depth_series(medium="air", probe=probe, seed=s[0])
    water = benches.bench_depth_series(medium="water", probe=probe, seed=s[1])
    lateral = benches.bench_lateral_scan(probe=probe, seed=s[2])
    angular = benches.bench_angular_scan(probe=probe, seed=s[3])
    shield = benches.bench_shielding(probe=probe, seed=s[4])
    rate = benches.bench_count_rate(tau_s=probe.dead_time_s, model=probe.dead_time_kind,
                                    probe=probe, seed=s[5])
    spectrum = benches.bench_calibration_spectrum(SPECTRUM_SOURCES_MBQ, count_s=300.0,
                                                  n_channels=512, coefficients=(0.0, 1.5),
                                                  probe=probe, seed=s[6])

    def of(b) -> CountSeries:
        return CountSeries(b.settings, b.counts.astype(float), b.live_s, b.real_s, b.t_s)

    series = {"sensitivity_air": of(air), "sensitivity_water": of(water),
              "lateral": of(lateral), "angular": of(angular), "shielding": of(shield),
              "count_rate": CountSeries(rate.relative_activity, rate.counts, rate.live_s,
                                        rate.real_s, rate.t_s)}
    parts = (air, water, lateral, angular, shield)
    half = nuclide("Tc-99m").half_life_s
    truth = {
        "activity_mbq": float(air.activity_mbq * 2 ** (-air.t_s[0] / half)),
        "sensitivity_air_cps_per_mbq": [float(v) for v in air.truth["cps_per_mbq"]],
        "sensitivity_water_cps_per_mbq": [float(v) for v in water.truth["cps_per_mbq"]],
        "spatial_fwhm_mm": lateral.truth["fwhm_mm"], "spatial_fwtm_mm": lateral.truth["fwtm_mm"],
        "angular_fwhm_deg": angular.truth["fwhm_deg"], "side_pct": shield.truth["side_pct"],
        "back_pct": shield.truth["back_pct"], "dead_time_s": rate.tau_s,
        "rate_at_20pct_loss_cps": rate.truth["rate_at_20pct_loss_cps"],
        "energy_fwhm_pct": probe.crystal.resolution_pct, "model": rate.model}
    return NemaData(series, float(sum(p.background_counts for p in parts)),
                    float(sum(p.background_live_s for p in parts)),
                    spectrum.spectrum.astype(float), (), truth)


# ------------------------------------------------------------------ analyses


def _row(test: str, figure: str, value: float, sd: float, unit: str, limit: float | None,
         sense: str, passed: bool | None, **extra: Any) -> Outcome:
    verdict = "no limit" if passed is None else ("pass" if passed else "FAIL")
    bound = "" if limit is None else f" (limit {sense} {limit:g} {unit})"
    result = {"figure": figure, "value": value, "sd": sd, "unit": unit, "limit": limit,
              "limit_sense": sense, "pass": passed, **extra}
    return Outcome(PREFIX + test, passed, result,
                   [f"{figure}: {value:.4g} +- {sd:.2g} {unit}{bound}: {verdict}"])


def _decay_args(s: CountSeries, half_life_s: float | None) -> dict[str, Any]:
    return {"t_s": s.t_s, "half_life_s": half_life_s} if s.t_s is not None and half_life_s \
        else {}


def analyse(data: NemaData, limits: nema.NemaLimits, activity_mbq: float | None,
            activity_sd_mbq: float = 0.0, half_life_s: float | None = None,
            model: str = "nonparalysable", energy_kev: float = 140.5
            ) -> tuple[list[Outcome], list[str]]:
    """One Outcome per test the data allow, and a line for every test that could not be done
    (missing series, or an AnalysisError saying why)."""
    outcomes: list[Outcome] = []
    skipped: list[str] = []
    bg, bg_sd = data.background_cps, data.background_sd_cps

    def attempt(name: str, fn) -> None:
        try:
            outcomes.append(fn())
        except AnalysisError as exc:
            skipped.append(f"{name}: {exc}")

    air_reference: dict[tuple, tuple[float, ...]] = {}  # in-air sensitivity by distances
    for medium, key in (("air", "sensitivity_air"), ("water", "sensitivity_water")):
        s = data.series.get(key)
        if s is None:
            continue
        if activity_mbq is None:
            skipped.append(f"{key}: needs the source activity (--activity-mbq)")
            continue

        def sens(s=s, medium=medium, key=key) -> Outcome:
            r = nema.sensitivity_series(s.settings, s.counts, s.live_s, activity_mbq, bg, bg_sd,
                                        activity_sd_mbq, medium, limits=limits,
                                        air_cps_per_mbq=air_reference.get(tuple(s.settings)),
                                        **_decay_args(s, half_life_s))
            if medium == "air":
                air_reference[tuple(s.settings)] = r.cps_per_mbq
            if r.reference_cps_per_mbq is None:
                ref = limits.reference_distance_mm if medium == "air" else \
                    limits.reference_depth_mm
                raise AnalysisError(f"no count at the reference {medium} distance/depth "
                                    f"({ref:g} mm)")
            limit = limits.min_sensitivity_air_cps_per_mbq if medium == "air" else \
                limits.min_sensitivity_scatter_cps_per_mbq
            where = "in air" if medium == "air" else "in scatter (water)"
            return _row(key.replace("_", "-"), f"sensitivity {where} at {r.reference_mm:g} mm",
                        r.reference_cps_per_mbq, r.reference_sd or 0.0, "cps/MBq", limit, ">=",
                        r.passed, settings_mm=list(r.settings_mm),
                        cps_per_mbq=list(r.cps_per_mbq), cps_per_mbq_sd=list(r.sd),
                        mu_eff_per_mm=r.mu_eff_per_mm, mu_eff_sd_per_mm=r.mu_eff_sd_per_mm)
        attempt(key, sens)
    for key, fn, name, unit in (("lateral", nema.spatial_resolution, "spatial resolution",
                                 "mm"),
                                ("angular", nema.angular_resolution, "angular resolution",
                                 "deg")):
        s = data.series.get(key)
        if s is None:
            continue

        def width(s=s, fn=fn, name=name, unit=unit, key=key) -> Outcome:
            r = fn(s.settings, s.counts, s.live_s, bg, bg_sd, limits=limits,
                   **_decay_args(s, half_life_s))
            test = "spatial-resolution" if key == "lateral" else "angular-resolution"
            return _row(test, f"{name} FWHM", r.fwhm, r.fwhm_sd, unit, r.limit, "<=", r.passed,
                        fwtm=r.fwtm, fwtm_sd=r.width.fwtm_sd,
                        settings=[float(v) for v in s.settings])
        attempt(key, width)
    s = data.series.get("shielding")
    if s is not None:
        attempt("shielding", lambda: _shielding(s, bg, bg_sd, limits, half_life_s))
    s = data.series.get("count_rate")
    if s is not None:
        def rate() -> Outcome:
            r = nema.count_rate_capability(s.settings, s.counts / s.real_s, s.real_s, model,
                                           limits)
            return _row("count-rate", "count rate at 20 % loss", r.rate_at_20pct_loss_cps,
                        r.rate_at_20pct_loss_sd_cps, "cps", limits.min_rate_at_20pct_loss_cps,
                        ">=", r.passed, dead_time_s=r.tau_s, dead_time_sd_s=r.tau_sd_s,
                        model=r.model, max_measured_cps=r.max_measured_cps,
                        model_max_cps=r.model_max_cps, chi2_dof=r.chi2_dof)
        attempt("count_rate", rate)
    if data.spectrum is not None:
        attempt("energy_resolution",
                lambda: _energy(data, limits, energy_kev))
    return outcomes, skipped


def _shielding(s: CountSeries, bg: float, bg_sd: float, limits: nema.NemaLimits,
               half_life_s: float | None) -> Outcome:
    idx = {}
    for angle in (0.0, 90.0, 180.0):
        at = np.flatnonzero(np.isclose(s.settings, angle))
        if len(at) != 1:
            raise AnalysisError("shielding needs exactly one count at 0, 90 and 180 degrees")
        idx[angle] = int(at[0])
    order = [idx[0.0], idx[90.0], idx[180.0]]
    decay = {"t_s": s.t_s[order], "half_life_s": half_life_s} \
        if s.t_s is not None and half_life_s else {}
    r = nema.shielding(s.counts[order[0]], s.live_s[order[0]], s.counts[order[1]],
                       s.live_s[order[1]], s.counts[order[2]], s.live_s[order[2]], bg, bg_sd,
                       limits=limits, **decay)
    worst = max(r.side_pct, r.back_pct)
    limit = None if limits.max_side_pct is None and limits.max_back_pct is None else \
        min(v for v in (limits.max_side_pct, limits.max_back_pct) if v is not None)
    return _row("shielding", "side / back response (worst)", worst,
                r.side_sd_pct if r.side_pct >= r.back_pct else r.back_sd_pct, "%", limit, "<=",
                r.passed, side_pct=r.side_pct, side_sd_pct=r.side_sd_pct, back_pct=r.back_pct,
                back_sd_pct=r.back_sd_pct)


def _energy(data: NemaData, limits: nema.NemaLimits, energy_kev: float) -> Outcome:
    assert data.spectrum is not None
    if data.energy_calibration:
        c = tuple(data.energy_calibration)
        cal = EnergyCalibration(c, tuple((0.0,) * len(c) for _ in c), None, ())
    else:  # the simulator's bench: calibrate on its own known sources, yields relative to each
        # source's strongest line as `calibrate energy` weighs them (their activities differ)
        energies, yields = calibration_lines(list(SPECTRUM_SOURCES_MBQ))
        cal = auto_calibrate(data.spectrum, energies, yields=yields)
    r = nema.energy_resolution_test(data.spectrum, cal, energy_kev, limits)
    res = r.resolution
    return _row("energy-resolution", f"energy resolution at {energy_kev:g} keV", res.fwhm_pct,
                res.fwhm_pct_sd, "% FWHM", r.limit_pct, "<=", r.passed, fwhm_kev=res.fwhm_kev,
                energy_kev=res.energy_kev, calibration=list(cal.coefficients))
