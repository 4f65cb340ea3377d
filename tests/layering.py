"""The layering of docs/architecture.md as rules (tests/test_layering.py applies them): every
import of every installed module (probe_nav/, and drivers/, calibration/, simulator/ as
probe_nav.drivers etc.) is read with `ast`, lazy imports inside functions included, and checked
against these rules:

* layers: an import never points up TIERS (units of one tier do not import each other), and the
  processing core does not import the simulator (core must work the same on real and simulated
  data, and the simulator brings threads and files with it);
* core is pure computation: it imports only CORE_MAY_IMPORT (numpy, scipy, a few stdlib modules) -
  no Qt, no threads, no I/O modules (sockets, serial, SQLite, processes, files and paths, the
  process environment), no wall clock (core works in device time from the frames) - and calls no
  builtin or numpy file I/O (open, print, np.load, ...);
* only `probe_nav/__main__.py` and the cli package import probe_nav.cli; nothing below the GUI
  imports probe_nav.gui;
* Qt (PySide6, pyqtgraph, shiboken6) is imported only by qt_app, report, gui, cli and
  probe_nav/audio/qt_output.py; QtMultimedia (which needs libpulse) only by audio/qt_output.py;
  pyqtgraph only by gui; and the Qt-free units (QT_FREE) do not reach Qt through any chain of
  imports either (the live session imports cases, whose PDF report uses Qt);
* the installed packages import nothing that is not installed (tools, tests, benchmarks) and no
  bare `drivers`/`calibration`/`simulator`.

Each check returns all its violations at once as `file:line: [rule] ...`. The checks are
functions of in-memory sources, so tests/test_layering.py also proves that each rule can fail.
"""

from __future__ import annotations

import ast
import functools
import tomllib
from collections import deque
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = "probe_nav"

# Lowest first: a unit may import units of lower tiers only (plus itself and the root package,
# probe_nav/__init__.py, which runs before any probe_nav.* module anyway and imports nothing).
TIERS: tuple[tuple[str, ...], ...] = (
    ("drivers",),  # bytes in, CountFrames out
    ("calibration",),  # nuclide data, dead time, energy, NEMA: maths only
    ("simulator",),  # physics, scenarios, emulators, links, DeviceServer, launcher
    ("core", "navigation", "dosimetry"),  # rate, detection, timed counts; tracking; retention fits
    ("errors", "qt_app", "logs", "files"),  # error types; the Qt application; logging; files
    ("storage", "io", "report", "monitor", "audio"),  # SQLite, file formats, PDF, readout, sound
    ("cases", "qc"),  # case records and session files; QC/calibration records and procedures
    ("live",),  # the Qt-free session: device events -> Processor -> snapshots, recording
    ("gui",),  # the console
    ("cli",),  # the command line
    ("__main__",),  # `python -m probe_nav`
)
FORBIDDEN: dict[tuple[str, str], str] = {
    ("core", "simulator"): "the processing core must not depend on where its data come from",
}
QT = ("PySide6", "pyqtgraph", "shiboken6")
QT_UNITS = frozenset({"qt_app", "report", "gui", "cli"})
QT_MODULES = frozenset({"probe_nav.audio.qt_output"})
# Qt-free transitively (not qt_output):
QT_FREE = frozenset({"drivers", "calibration", "simulator", "core", "dosimetry", "errors",
                     "storage", "io", "monitor", "audio", "logs", "files", "live"})
QT_MULTIMEDIA_MODULES = frozenset({"probe_nav.audio.qt_output"})
CORE_MAY_IMPORT = frozenset({
    "__future__", "abc", "bisect", "collections", "dataclasses", "enum", "functools", "heapq",
    "itertools", "math", "numbers", "operator", "statistics", "typing", "numpy", "scipy",
})
CORE_WHY = {  # why a module is kept out of core (the message of a violation)
    **dict.fromkeys(QT, "Qt"),
    **dict.fromkeys(("threading", "_thread", "multiprocessing", "concurrent", "asyncio", "queue",
                     "sched"), "threads or processes (core runs on its caller's thread)"),
    **dict.fromkeys(("socket", "serial", "sqlite3", "subprocess", "shutil", "tempfile", "pathlib",
                     "os", "io", "sys", "select", "selectors", "signal", "mmap", "glob", "csv",
                     "json", "pickle", "logging", "urllib", "http"), "I/O"),
    **dict.fromkeys(("time", "datetime"), "the wall clock (core works in device time)"),
}
CORE_BANNED_CALLS = frozenset({"open", "print", "input", "breakpoint", "exec", "eval",
                               "__import__"})
NUMPY_IO = frozenset({"load", "save", "savez", "savez_compressed", "loadtxt", "savetxt",
                      "genfromtxt", "fromfile", "memmap"})
NOT_INSTALLED = ("tools", "tests", "benchmarks", "drivers", "calibration", "simulator")


@dataclass(frozen=True)
class Module:
    """One source file under its import name."""

    name: str
    path: str  # relative to the repository, for messages
    source: str
    is_package: bool = False


@dataclass(frozen=True)
class Import:
    """One imported module, resolved to an absolute dotted name (for `from x import a, b` outside
    probe_nav: x, with a and b in `names`, since they may be modules too)."""

    target: str
    line: int
    names: tuple[str, ...] = ()


def installed_modules() -> list[Module]:
    """Every .py file of the installed packages, under the name it is imported by."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    folders = {TOP: ROOT / TOP}
    folders |= {name: ROOT / folder
                for name, folder in config["tool"]["setuptools"]["package-dir"].items()}
    modules = []
    for package, folder in folders.items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            name = ".".join([package, *(parts[:-1] if is_package else parts)])
            modules.append(Module(name, str(path.relative_to(ROOT)),
                                  path.read_text(encoding="utf-8"), is_package))
    return modules


@functools.cache
def imports_of(module: Module, known: frozenset[str]) -> tuple[Import, ...]:
    """Absolute names imported anywhere in the module (functions too), with line numbers.

    `from a import b` gives `a.b` when that is a known module, else `a` (outside probe_nav: `a`
    with names (b,)); relative imports are resolved; `importlib.import_module("x")` and
    `__import__("x")` with a literal count too.
    """
    package = module.name if module.is_package else module.name.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(module.source, module.path)):
        if isinstance(node, ast.Import):
            found += [Import(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            if base.split(".")[0] != TOP:
                found.append(Import(base, node.lineno, tuple(a.name for a in node.names)))
                continue
            subs = [f"{base}.{a.name}" for a in node.names if a.name != "*"]
            hits = [s for s in subs if s in known]
            if len(hits) < len(node.names):
                found.append(Import(base, node.lineno))
            found += [Import(s, node.lineno) for s in hits]
        elif isinstance(node, ast.Call) and node.args and _is_dynamic_import(node.func):
            arg = node.args[0]
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.append(Import(arg.value, node.lineno))
    return tuple(found)


def _is_dynamic_import(func: ast.expr) -> bool:
    return ((isinstance(func, ast.Name) and func.id in ("__import__", "import_module"))
            or (isinstance(func, ast.Attribute) and func.attr == "import_module"))


def unit_of(name: str) -> str | None:
    """probe_nav.X... -> X (the root package -> ''); None outside probe_nav."""
    parts = name.split(".")
    if parts[0] != TOP:
        return None
    return parts[1] if len(parts) > 1 else ""


def tier_of(unit: str) -> int | None:
    return next((i for i, tier in enumerate(TIERS) if unit in tier), None)


def _below(target: str, unit: str) -> bool:
    """Whether `target`'s tier is lower than `unit`'s."""
    t, u = tier_of(target), tier_of(unit)
    return t is not None and u is not None and t < u


def _may_import(unit: str) -> str:
    below = [u for tier in TIERS[: tier_of(unit)] for u in tier if (unit, u) not in FORBIDDEN]
    return f"{unit} may import only {', '.join(below)}" if below else \
        f"{unit} imports nothing of probe_nav"


def layer_violations(modules: list[Module]) -> list[str]:
    """Imports that point up or sideways in TIERS, and the special rules for cli and gui."""
    known = frozenset(m.name for m in modules)
    out = []
    for m in modules:
        unit = unit_of(m.name)
        assert unit is not None
        if unit and tier_of(unit) is None:
            out.append(f"{m.path}:1: [unclassified] {m.name} is in no tier: add "
                       f"{unit!r} to TIERS in tests/test_layering.py and docs/architecture.md")
            continue
        for imp in imports_of(m, known):
            target = unit_of(imp.target)
            where = f"{m.path}:{imp.line}:"
            if target is None:
                if imp.target.split(".")[0] in NOT_INSTALLED:
                    out.append(f"{where} [namespace] {m.name} imports {imp.target}, which is not "
                               f"an installed package (import probe_nav.* only)")
                continue
            if not unit:  # the root package is imported by every module: it imports nothing
                out.append(f"{where} [root] probe_nav/__init__.py imports {imp.target}; it must "
                           "import nothing of probe_nav")
                continue
            if target in ("", unit):
                continue
            if target == "cli" and unit not in ("cli", "__main__"):
                out.append(f"{where} [cli] {m.name} imports {imp.target}: only "
                           "probe_nav/__main__.py and the cli package import probe_nav.cli")
            elif target == "gui" and unit not in ("gui", "cli"):
                out.append(f"{where} [gui] {m.name} imports {imp.target}: nothing below the GUI "
                           "imports probe_nav.gui")
            elif (unit, target) in FORBIDDEN:
                out.append(f"{where} [layers] {m.name} imports {imp.target}: "
                           f"{FORBIDDEN[unit, target]}")
            elif not _below(target, unit):
                out.append(f"{where} [layers] {m.name} imports {imp.target}: "
                           f"{_may_import(unit)}")
    return out


def core_violations(modules: list[Module]) -> list[str]:
    """Anything in core beyond pure computation: modules off CORE_MAY_IMPORT, file I/O calls."""
    known = frozenset(m.name for m in modules)
    out = []
    for m in (m for m in modules if unit_of(m.name) == "core"):
        for imp in imports_of(m, known):
            top = imp.target.split(".")[0]
            if top == TOP or top in CORE_MAY_IMPORT:
                continue
            why = CORE_WHY.get(top, "not on CORE_MAY_IMPORT (add it there if it is pure "
                                    "computation)")
            out.append(f"{m.path}:{imp.line}: [core-pure] {m.name} imports {imp.target}: "
                       f"{why}; core is pure computation")
        for node in ast.walk(ast.parse(m.source, m.path)):
            if not isinstance(node, ast.Call):
                continue
            f = node.func
            if isinstance(f, ast.Name) and f.id in CORE_BANNED_CALLS:
                call = f.id
            elif isinstance(f, ast.Attribute) and (
                f.attr == "tofile" or (f.attr in NUMPY_IO and isinstance(f.value, ast.Name)
                                       and f.value.id in ("np", "numpy"))):
                call = f.attr
            else:
                continue
            out.append(f"{m.path}:{node.lineno}: [core-pure] {m.name} calls {call}(): I/O "
                       "belongs to the callers of core")
    return out


def _direct_qt(m: Module, known: frozenset[str]) -> list[Import]:
    return [i for i in imports_of(m, known) if i.target.split(".")[0] in QT]


def _qt_allowed(name: str) -> bool:
    return unit_of(name) in QT_UNITS or name in QT_MODULES


def qt_violations(modules: list[Module]) -> list[str]:
    """Direct Qt imports outside the Qt units; QtMultimedia and pyqtgraph outside their homes."""
    known = frozenset(m.name for m in modules)
    out = []
    for m in modules:
        for imp in _direct_qt(m, known):
            where = f"{m.path}:{imp.line}:"
            if not _qt_allowed(m.name):
                out.append(f"{where} [qt] {m.name} imports {imp.target}: only qt_app, report, "
                           "gui, cli and audio/qt_output.py import Qt")
            elif ("QtMultimedia" in imp.target or "QtMultimedia" in imp.names) \
                    and m.name not in QT_MULTIMEDIA_MODULES:
                out.append(f"{where} [qt] {m.name} imports {imp.target}: only "
                           "probe_nav/audio/qt_output.py imports QtMultimedia (it needs libpulse)")
            elif imp.target.startswith("pyqtgraph") and unit_of(m.name) != "gui":
                out.append(f"{where} [qt] {m.name} imports {imp.target}: only the GUI draws "
                           "with pyqtgraph")
    return out


def _qt_free(name: str) -> bool:
    return unit_of(name) in QT_FREE and name not in QT_MODULES


def qt_reach_violations(modules: list[Module]) -> list[str]:
    """Imports from a Qt-free module into one outside QT_FREE that leads to Qt (with the chain;
    importing a.b.c runs a and a.b, so parent packages are links of a chain too)."""
    known = frozenset(m.name for m in modules)
    by_name = {m.name: m for m in modules}
    edges: dict[str, list[str]] = {}
    for m in modules:
        targets = [i.target for i in imports_of(m, known) if i.target in known]
        parent = m.name.rpartition(".")[0]
        edges[m.name] = targets + ([parent] if parent else [])

    def chain_to_qt(start: str) -> list[str] | None:
        seen, queue = {start: ""}, deque([start])
        while queue:
            name = queue.popleft()
            qt = _direct_qt(by_name[name], known)
            if qt:
                path = [f"{qt[0].target} ({by_name[name].path}:{qt[0].line})", name]
                while seen[path[-1]]:
                    path.append(seen[path[-1]])
                return path[::-1]
            for nxt in edges[name]:
                if nxt not in seen:
                    seen[nxt] = name
                    queue.append(nxt)
        return None

    out = []
    for m in (m for m in modules if _qt_free(m.name)):
        for imp in imports_of(m, known):
            if imp.target in known and not _qt_free(imp.target):
                chain = chain_to_qt(imp.target)
                if chain:
                    out.append(f"{m.path}:{imp.line}: [qt-free] {m.name} must not reach Qt, "
                               f"but imports {' -> '.join(chain)}")
    return out
