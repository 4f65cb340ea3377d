"""Scenarios as TOML files: sources, probe model, background and scan path (docs/scenarios.md)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path
from typing import Any

from calibration.nuclides import nuclide
from simulator.path import ScanPath, Waypoint
from simulator.physics import PointSource, ProbeModel


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True)
class Scenario:
    """Everything the simulator needs to produce counts."""

    name: str
    description: str
    nuclide_name: str
    frame_period_s: float
    probe: ProbeModel
    sources: tuple[PointSource, ...]
    background_cps: float
    path: ScanPath
    axis: tuple[float, float, float] = (0.0, 0.0, -1.0)


def builtin_dir() -> Path:
    """Folder of the scenarios shipped with probe-nav."""
    return Path(str(resources.files("simulator") / "scenarios"))


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def load(name_or_path: str) -> Scenario:
    """Load a built-in scenario by name or a scenario file by path; ScenarioError if impossible."""
    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists()):
        path = builtin_dir() / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(
                f"unknown scenario {name_or_path!r}; built-in: {', '.join(builtin_names())}"
            )
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        return _parse(data, default_name=path.stem)
    except (KeyError, TypeError, ValueError) as exc:
        raise ScenarioError(f"{path}: {_describe(exc)}") from None


def _describe(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing required key {exc.args[0]!r}"
    return str(exc)


def _vec3(value: Any, what: str) -> tuple[float, float, float]:
    if not (isinstance(value, list) and len(value) == 3):
        raise ValueError(f"{what} must be a list of 3 numbers in mm, got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))


def _positive(value: Any, what: str, allow_zero: bool = False) -> float:
    number = float(value)
    if number < 0 or (number == 0 and not allow_zero):
        raise ValueError(f"{what} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return number


def _parse(data: dict[str, Any], default_name: str) -> Scenario:
    known = {"name", "description", "nuclide", "frame_period_s", "probe", "background", "sources",
             "path"}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(unknown))}")
    nuclide_name = nuclide(str(data.get("nuclide", "Tc-99m"))).name
    probe_fields = {f.name for f in fields(ProbeModel)}
    probe_data = dict(data.get("probe", {}))
    bad = set(probe_data) - probe_fields
    if bad:
        raise ValueError(f"unknown probe key(s) {', '.join(sorted(bad))}")
    probe = ProbeModel(**{k: _positive(v, f"probe.{k}", True) for k, v in probe_data.items()})
    background = data.get("background", {})
    background_cps = _positive(background.get("room_cps", 0.0), "background.room_cps", True)
    background_cps += _positive(background.get("tissue_cps", 0.0), "background.tissue_cps", True)
    sources = tuple(
        PointSource(
            name=str(src.get("name", f"source {i + 1}")),
            position_mm=_vec3(src["position_mm"], f"sources[{i}].position_mm"),
            activity_mbq=_positive(src["activity_mbq"], f"sources[{i}].activity_mbq", True),
            nuclide_name=nuclide(str(src.get("nuclide", nuclide_name))).name,
        )
        for i, src in enumerate(data.get("sources", []))
    )
    path_data = data.get("path", {})
    waypoints = tuple(
        Waypoint(
            position_mm=_vec3(wp["position_mm"], f"path.waypoints[{i}].position_mm"),
            dwell_s=_positive(wp.get("dwell_s", 0.0), f"path.waypoints[{i}].dwell_s", True),
            speed_mm_s=_positive(
                wp.get("speed_mm_s", 0.0), f"path.waypoints[{i}].speed_mm_s", True
            ),
        )
        for i, wp in enumerate(path_data.get("waypoints", [{"position_mm": [0, 0, 0]}]))
    )
    if not waypoints:
        raise ValueError("path.waypoints is empty")
    return Scenario(
        name=str(data.get("name", default_name)),
        description=str(data.get("description", "")),
        nuclide_name=nuclide_name,
        frame_period_s=_positive(data.get("frame_period_s", 0.05), "frame_period_s"),
        probe=probe,
        sources=sources,
        background_cps=background_cps,
        path=ScanPath(waypoints, loop=bool(path_data.get("loop", False))),
        axis=_vec3(path_data.get("axis", [0, 0, -1]), "path.axis"),
    )
