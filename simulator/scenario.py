"""Scenarios as TOML files: sources, probe, tissue, background, windows and scan path
(docs/scenarios.md). Built-in scenarios live in simulator/scenarios/."""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from probe_nav.drivers.frames import EnergyWindow
from probe_nav.simulator.path import ScanPath
from probe_nav.simulator.physics import PointSource, ProbeModel, Tissue
from probe_nav.simulator.rates import Background

MAX_SCENARIO_BYTES = 1 << 20  # 1 MiB: the largest built-in scenario is a few kB


class ScenarioError(ValueError):
    """A scenario that cannot be loaded; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class Bench:
    """The ex vivo counting bench, away from the patient: a probe within radius_mm of
    position_mm sees the specimen and the room background, not the patient's blood pool."""

    position_mm: tuple[float, float, float]
    radius_mm: float = 100.0

    def contains(self, position_mm: tuple[float, float, float]) -> bool:
        """Whether a probe at position_mm counts at the bench."""
        return math.dist(position_mm, self.position_mm) <= self.radius_mm


@dataclass(frozen=True)
class Scenario:
    """Everything the simulator needs to produce counts."""

    name: str
    description: str
    nuclide_name: str  # the tracer: blood pool, default source nuclide, default window 0
    frame_period_s: float
    probe: ProbeModel
    sources: tuple[PointSource, ...]
    background: Background
    path: ScanPath
    tissue: Tissue = field(default_factory=Tissue)
    windows: tuple[EnergyWindow, ...] = ()
    t0_after_injection_s: float = 0.0  # scenario start, measured from the activity reference
    bench: Bench | None = None  # where specimens are counted ex vivo (room background only)

    @property
    def background_cps(self) -> float:
        """Room plus blood-pool rate in the tracer's window at scenario start."""
        return self.background.room_cps + self.background.tissue_cps

    @property
    def axis(self) -> tuple[float, float, float]:
        """Where the probe looks at scenario start."""
        return self.path.axis_at(0.0)


def builtin_dir() -> Path:
    """Folder of the scenarios shipped with probe-nav."""
    return Path(str(resources.files("probe_nav.simulator.scenarios")))


def builtin_names() -> list[str]:
    """Names of the built-in scenarios, sorted."""
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def load(name_or_path: str) -> Scenario:
    """Load a built-in scenario by name or a scenario file by path; ScenarioError if impossible."""
    from probe_nav.simulator.scenario_parse import parse

    path = Path(name_or_path)
    if not (path.suffix == ".toml" or path.exists()):
        path = builtin_dir() / f"{name_or_path}.toml"
        if not path.exists():
            raise ScenarioError(
                f"unknown scenario {name_or_path!r}; built-in: {', '.join(builtin_names())}"
            )
    try:
        if path.stat().st_size > MAX_SCENARIO_BYTES:
            raise ScenarioError(f"{path}: {path.stat().st_size} bytes is too large for a "
                                f"scenario (at most {MAX_SCENARIO_BYTES} bytes)")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, not a scenario file") from None
    except PermissionError:
        raise ScenarioError(f"{path}: cannot read the file (permission denied)") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    except RecursionError:  # tomllib recurses per nesting level: thousands of [[[ exhaust it
        raise ScenarioError(f"{path}: not valid TOML: arrays or tables nested too deeply") \
            from None
    try:
        return parse(data, default_name=path.stem)
    except KeyError as exc:
        raise ScenarioError(f"{path}: missing required key {exc.args[0]!r}") from None
    except (TypeError, ValueError) as exc:
        raise ScenarioError(f"{path}: {exc}") from None
    except RecursionError:
        raise ScenarioError(f"{path}: values nested too deeply") from None
