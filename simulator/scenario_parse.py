"""TOML data -> Scenario, checking every key; errors say which key and why (no file name here,
probe_nav.simulator.scenario.load adds it)."""

from __future__ import annotations

import math
from dataclasses import fields
from typing import Any

from probe_nav.calibration.nuclides import nuclide
from probe_nav.drivers.frames import EnergyWindow
from probe_nav.simulator.deadtime_sim import KINDS
from probe_nav.simulator.detector import material
from probe_nav.simulator.geometry import unit
from probe_nav.simulator.path import ScanPath, Waypoint
from probe_nav.simulator.physics import PointSource, ProbeModel, Tissue
from probe_nav.simulator.probe_design import (
    bore_diameter_for_angular_fwhm,
    setback_for_angular_fwhm,
    wall_for_shielding,
)
from probe_nav.simulator.probe_presets import preset
from probe_nav.simulator.rates import Background
from probe_nav.simulator.scenario import Bench, Scenario

_HOUR_S = 3600.0
_TOP = {"name", "description", "nuclide", "frame_period_s", "t0_after_injection_h", "probe",
        "tissue", "background", "windows", "sources", "path", "bench"}
_SOURCE = {"name", "position_mm", "activity_mbq", "injected_activity_mbq", "uptake_fraction",
           "nuclide", "radius_mm", "biological_half_life_h", "clearance", "from_s", "until_s"}
MAX_CLEARANCE_COMPONENTS = 8
FRACTION_SUM_TOLERANCE = 1e-6
_WAYPOINT = {"position_mm", "dwell_s", "speed_mm_s", "travel_s", "axis"}
_PROBE_TEXT = {"sensitivity_nuclide", "dead_time_kind", "detector", "shield_material"}
_PROBE_INT = {"spectrum_channels"}


def _check_keys(data: Any, allowed: set[str], where: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a table, got {data!r}")
    unknown = set(data) - allowed
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))} in {where}")
    return data


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{what} must be finite, got {value!r}")
    return float(value)


def _positive(value: Any, what: str, allow_zero: bool = False) -> float:
    number = _number(value, what)
    if number < 0 or (number == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return number


def _vec3(value: Any, what: str) -> tuple[float, float, float]:
    if not (isinstance(value, list) and len(value) == 3):
        raise ValueError(f"{what} must be a list of 3 numbers in mm, got {value!r}")
    x, y, z = (_number(v, what) for v in value)
    return (x, y, z)


def _axis(value: Any, what: str) -> tuple[float, float, float]:
    vec = _vec3(value, what)
    try:
        unit(vec)
    except ValueError:
        raise ValueError(f"{what} must not be the zero vector") from None
    return vec


# Keys of the point-detector model (before the finite crystal): refused with what replaces them.
_RETIRED_PROBE_KEYS = {
    "leakage_fraction": "give shielding_pct, or shield_material, wall_mm and back_shield_mm",
    "min_distance_mm": "the crystal sits crystal_setback_mm behind the tip",
}
# Design figures a probe is quoted by, turned into the head's dimensions (simulator/probe_design).
_DESIGN_KEYS = {"angular_fwhm_deg", "shielding_pct"}


def parse_probe(data: dict[str, Any], tracer: str) -> ProbeModel:
    """A ProbeModel from a `[probe]` table (a scenario's, or a real probe's calibration file);
    ValueError naming the bad key."""
    data = dict(_check_keys(data, {f.name for f in fields(ProbeModel)} | {"preset"}
                            | set(_RETIRED_PROBE_KEYS) | _DESIGN_KEYS, "[probe]"))
    for key, instead in _RETIRED_PROBE_KEYS.items():
        if key in data:
            raise ValueError(f"probe.{key} is no longer a parameter: {instead} "
                             "(or start from a preset: docs/scenarios.md)")
    values: dict[str, Any] = {"sensitivity_nuclide": tracer}
    if "preset" in data:
        values.update(preset(str(data.pop("preset"))).fields)
    design = {key: _number(data.pop(key), f"probe.{key}") for key in _DESIGN_KEYS if key in data}
    for key, value in data.items():
        if key in _PROBE_TEXT:
            if not isinstance(value, str):
                raise ValueError(f"probe.{key} must be a string, got {value!r}")
            values[key] = value
        elif key in _PROBE_INT:
            if not isinstance(value, int) or not 1 <= value <= 65535:
                raise ValueError(f"probe.{key} must be an integer 1..65535, got {value!r}")
            values[key] = value
        else:
            values[key] = _positive(value, f"probe.{key}", allow_zero=True)
    nuclide(str(values["sensitivity_nuclide"]))
    probe = ProbeModel(**_design(values, design, set(data)))
    material(probe.detector)
    if probe.dead_time_kind not in KINDS:
        raise ValueError(f"probe.dead_time_kind must be one of {', '.join(KINDS)}, "
                         f"got {probe.dead_time_kind!r}")
    for key in ("sensitivity_cps_per_mbq", "reference_distance_mm", "kev_per_channel"):
        value = getattr(probe, key)
        if value is not None and value <= 0:
            raise ValueError(f"probe.{key} must be > 0")
    if not 0 < probe.over_range_loss < 1:
        raise ValueError(f"probe.over_range_loss must be between 0 and 1, got "
                         f"{probe.over_range_loss}")
    return probe


def _design(values: dict[str, Any], design: dict[str, float], given: set[str]
            ) -> dict[str, Any]:
    """Turn angular_fwhm_deg into the bore's length (or, with crystal_setback_mm given, its
    diameter) and shielding_pct into the wall and back shield thickness (at the sensitivity
    nuclide's main line); refuse a design figure given together with the dimension it sets."""
    for figure, dimensions in (("angular_fwhm_deg", {"bore_diameter_mm"}),
                               ("shielding_pct", {"wall_mm", "back_shield_mm"})):
        if figure in design and dimensions & given:
            raise ValueError(f"[probe] gives both {figure} and "
                             f"{' / '.join(sorted(dimensions & given))}; use one")
    base = ProbeModel(**values)
    out = dict(values)
    if "angular_fwhm_deg" in design:  # the bore's width if its length is given, else its length
        if "crystal_setback_mm" in given:
            out["bore_diameter_mm"] = bore_diameter_for_angular_fwhm(
                base.crystal_diameter_mm, base.crystal_setback_mm, design["angular_fwhm_deg"])
        else:
            out["crystal_setback_mm"] = setback_for_angular_fwhm(base.crystal_diameter_mm,
                                                                 design["angular_fwhm_deg"])
    if "shielding_pct" in design:
        kev = nuclide(base.sensitivity_nuclide).main_line.energy_kev
        wall = wall_for_shielding(design["shielding_pct"], base.shield_material, kev)
        out["wall_mm"] = out["back_shield_mm"] = wall
    return out


def _source(i: int, src: Any, tracer: str, t0_s: float) -> PointSource:
    where = f"sources[{i}]"
    src = _check_keys(src, _SOURCE, where)
    nuc = nuclide(str(src.get("nuclide", tracer)))
    bio_s = math.inf
    if "biological_half_life_h" in src:
        bio_s = _positive(src["biological_half_life_h"], f"{where}.biological_half_life_h") * 3600
    if ("activity_mbq" in src) == ("injected_activity_mbq" in src):
        raise ValueError(f"{where} needs exactly one of activity_mbq (at scenario start) or "
                         "injected_activity_mbq (at injection)")
    if "activity_mbq" in src:
        if "uptake_fraction" in src:
            raise ValueError(f"{where}.uptake_fraction goes with injected_activity_mbq")
        activity = _positive(src["activity_mbq"], f"{where}.activity_mbq", True)
    else:
        injected = _positive(src["injected_activity_mbq"], f"{where}.injected_activity_mbq", True)
        uptake = _positive(src.get("uptake_fraction", 1.0), f"{where}.uptake_fraction", True)
        if uptake > 1:
            raise ValueError(f"{where}.uptake_fraction must be <= 1, got {uptake}")
        lam = nuc.decay_constant_per_s + (0 if math.isinf(bio_s) else math.log(2) / bio_s)
        activity = injected * uptake * math.exp(-lam * t0_s)
    clearance: tuple[tuple[float, float], ...] = ()
    if "clearance" in src:
        if "biological_half_life_h" in src:
            raise ValueError(f"{where} gives both clearance and biological_half_life_h; use one")
        clearance, retained = _clearance(src["clearance"], f"{where}.clearance", t0_s)
        if "injected_activity_mbq" in src:
            activity *= retained
    from_s = _number(src.get("from_s", -math.inf), f"{where}.from_s") if "from_s" in src \
        else -math.inf
    until_s = _number(src["until_s"], f"{where}.until_s") if "until_s" in src else math.inf
    if until_s <= from_s:
        raise ValueError(f"{where}.until_s must be after from_s")
    return PointSource(
        name=str(src.get("name", f"source {i + 1}")),
        position_mm=_vec3(src["position_mm"], f"{where}.position_mm"),
        activity_mbq=activity,
        nuclide_name=nuc.name,
        radius_mm=_positive(src.get("radius_mm", 0.0), f"{where}.radius_mm", True),
        biological_half_life_s=bio_s,
        from_s=from_s,
        until_s=until_s,
        clearance=clearance,
    )


def _clearance(data: Any, where: str, t0_s: float) -> tuple[tuple[tuple[float, float], ...],
                                                              float]:
    """A source's `clearance = [{fraction, biological_half_life_h}, ...]` (fractions of the
    activity at administration, summing to 1) as PointSource.clearance: the components' shares
    at scenario start, t0_s after administration, and the share still retained then."""
    if not isinstance(data, list) or not 1 <= len(data) <= MAX_CLEARANCE_COMPONENTS:
        raise ValueError(f"{where} must be a list of 1 to {MAX_CLEARANCE_COMPONENTS} tables "
                         "{fraction, biological_half_life_h}")
    parts = []
    for k, comp in enumerate(data):
        at = f"{where}[{k}]"
        comp = _check_keys(comp, {"fraction", "biological_half_life_h"}, at)
        if "fraction" not in comp or "biological_half_life_h" not in comp:
            raise ValueError(f"{at} needs fraction and biological_half_life_h")
        fraction = _positive(comp["fraction"], f"{at}.fraction")
        if fraction > 1:
            raise ValueError(f"{at}.fraction must be <= 1, got {comp['fraction']!r}")
        parts.append((fraction, _positive(comp["biological_half_life_h"],
                                          f"{at}.biological_half_life_h") * _HOUR_S))
    total = math.fsum(f for f, _ in parts)
    if abs(total - 1.0) > FRACTION_SUM_TOLERANCE:
        raise ValueError(f"{where}: the fractions must sum to 1, got {total:.9g}")
    at_start = [f * math.exp(-math.log(2) * t0_s / t_bio_s) for f, t_bio_s in parts]
    retained = math.fsum(at_start)
    if not retained > 0:
        raise ValueError(f"{where}: nothing is left at scenario start, "
                         f"{t0_s / _HOUR_S:g} h after administration")
    return tuple((a / retained, t) for a, (_, t) in zip(at_start, parts, strict=True)), retained


def _windows(data: Any, tracer: str) -> tuple[EnergyWindow, ...]:
    if data is None:
        w = nuclide(tracer).window
        return (EnergyWindow(w.lo_kev, w.hi_kev, w.name),)
    if not isinstance(data, list) or not 1 <= len(data) <= 8:
        raise ValueError("windows must be a list of 1 to 8 tables")
    out = []
    for i, win in enumerate(data):
        win = _check_keys(win, {"lo_kev", "hi_kev", "name", "nuclide"}, f"windows[{i}]")
        if "nuclide" in win:
            std = nuclide(str(win["nuclide"])).window
            lo, hi = win.get("lo_kev", std.lo_kev), win.get("hi_kev", std.hi_kev)
            name = str(win.get("name", std.name))
        else:
            lo, hi, name = win["lo_kev"], win["hi_kev"], str(win.get("name", f"w{i}"))
        lo = _positive(lo, f"windows[{i}].lo_kev", True)
        hi = _positive(hi, f"windows[{i}].hi_kev")
        if hi <= lo:
            raise ValueError(f"windows[{i}]: hi_kev must be above lo_kev")
        out.append(EnergyWindow(lo, hi, name))
    return tuple(out)


def _path(data: Any) -> ScanPath:
    data = _check_keys(data, {"loop", "axis", "waypoints"}, "[path]")
    raw = data.get("waypoints", [{"position_mm": [0, 0, 0]}])
    if not isinstance(raw, list) or not raw:
        raise ValueError("path.waypoints is empty")
    waypoints = []
    for i, wp in enumerate(raw):
        where = f"path.waypoints[{i}]"
        wp = _check_keys(wp, _WAYPOINT, where)
        waypoints.append(Waypoint(
            position_mm=_vec3(wp["position_mm"], f"{where}.position_mm"),
            dwell_s=_positive(wp.get("dwell_s", 0.0), f"{where}.dwell_s", True),
            speed_mm_s=_positive(wp.get("speed_mm_s", 0.0), f"{where}.speed_mm_s", True),
            axis=_axis(wp["axis"], f"{where}.axis") if "axis" in wp else None,
            travel_s=_positive(wp.get("travel_s", 0.0), f"{where}.travel_s", True),
        ))
    loop = data.get("loop", False)
    if not isinstance(loop, bool):
        raise ValueError(f"path.loop must be true or false, got {loop!r}")
    return ScanPath(tuple(waypoints), loop=loop,
                    axis=_axis(data.get("axis", [0, 0, -1]), "path.axis"))


def _frame_period(value: Any) -> float:
    period = _positive(value, "frame_period_s")
    if not 0.001 <= period <= 60.0:
        raise ValueError(f"frame_period_s must be between 0.001 and 60 s, got {value!r}")
    return period


def _bench(data: Any) -> Bench | None:
    """The optional [bench] table: position_mm and radius_mm of the ex vivo bench."""
    if data is None:
        return None
    bench = _check_keys(data, {"position_mm", "radius_mm"}, "[bench]")
    if "position_mm" not in bench:
        raise ValueError("[bench] needs position_mm (where specimens are counted ex vivo)")
    return Bench(_vec3(bench["position_mm"], "bench.position_mm"),
                 _positive(bench.get("radius_mm", 100.0), "bench.radius_mm"))


def _tissue(data: Any) -> Tissue:
    data = _check_keys(data, {"mu_scale_to_water", "scatter", "scatter_per_mfp"}, "[tissue]")
    if "scatter_per_mfp" in data:
        raise ValueError("tissue.scatter_per_mfp is no longer a parameter: scatter follows from "
                         "the geometry (tissue.scatter = false turns it off)")
    scatter = data.get("scatter", True)
    if not isinstance(scatter, bool):
        raise ValueError(f"tissue.scatter must be true or false, got {scatter!r}")
    mu = _positive(data.get("mu_scale_to_water", Tissue().mu_scale_to_water),
                   "tissue.mu_scale_to_water", True)
    return Tissue(mu_scale_to_water=mu, scatter=scatter)


def parse(data: dict[str, Any], default_name: str) -> Scenario:
    """Build a Scenario from TOML data; KeyError/ValueError/TypeError name the problem."""
    _check_keys(data, _TOP, "the scenario")
    tracer = nuclide(str(data.get("nuclide", "Tc-99m"))).name
    t0_s = _positive(data.get("t0_after_injection_h", 0.0), "t0_after_injection_h", True) * _HOUR_S
    tissue = _tissue(data.get("tissue", {}))
    bg = _check_keys(data.get("background", {}), {"room_cps", "tissue_cps"}, "[background]")
    sources = data.get("sources", [])
    if not isinstance(sources, list):
        raise ValueError("sources must be an array of tables ([[sources]])")
    return Scenario(
        name=str(data.get("name", default_name)),
        description=str(data.get("description", "")),
        nuclide_name=tracer,
        frame_period_s=_frame_period(data.get("frame_period_s", 0.05)),
        probe=parse_probe(data.get("probe", {}), tracer),
        sources=tuple(_source(i, s, tracer, t0_s) for i, s in enumerate(sources)),
        background=Background(
            room_cps=_positive(bg.get("room_cps", 0.0), "background.room_cps", True),
            tissue_cps=_positive(bg.get("tissue_cps", 0.0), "background.tissue_cps", True),
        ),
        path=_path(data.get("path", {})),
        tissue=tissue,
        windows=_windows(data.get("windows"), tracer),
        t0_after_injection_s=t0_s,
        bench=_bench(data.get("bench")),
    )
