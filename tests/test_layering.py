"""The layering of docs/architecture.md kept by a test: the rules of tests/layering.py applied to
every installed module (imports inside functions included), then each rule shown to fail on a
bad import. A failure lists every violation as `file:line: [rule] ...`."""

from __future__ import annotations

import pytest

from tests.layering import (
    FORBIDDEN,
    QT_FREE,
    QT_UNITS,
    TIERS,
    Module,
    core_violations,
    installed_modules,
    layer_violations,
    qt_reach_violations,
    qt_violations,
    tier_of,
)


@pytest.fixture(scope="module")
def modules() -> list[Module]:
    found = installed_modules()
    names = {m.name for m in found}
    # the mapped folders really are read (a wrong mapping would make the test pass vacuously)
    assert {"probe_nav.drivers.frames", "probe_nav.calibration.nuclides",
            "probe_nav.simulator.launch", "probe_nav.core.pipeline", "probe_nav.cli.main"} <= names
    return found


def _report(violations: list[str]) -> None:
    def by_place(v: str) -> tuple[str, int]:
        path, line, _ = v.split(":", 2)
        return path, int(line)

    assert not violations, f"{len(violations)} import(s) break the layering:\n" + "\n".join(
        sorted(violations, key=by_place))


def test_imports_follow_the_tiers(modules: list[Module]) -> None:
    _report(layer_violations(modules))


def test_core_is_pure_computation(modules: list[Module]) -> None:
    _report(core_violations(modules))


def test_qt_stays_in_its_units(modules: list[Module]) -> None:
    _report(qt_violations(modules))


def test_qt_free_units_do_not_reach_qt(modules: list[Module]) -> None:
    _report(qt_reach_violations(modules))


def test_the_tiers_name_every_unit_once() -> None:
    units = [u for tier in TIERS for u in tier]
    assert len(units) == len(set(units))
    assert set(units) >= QT_UNITS | QT_FREE and not QT_UNITS & QT_FREE
    assert all(tier_of(a) is not None and tier_of(b) is not None for a, b in FORBIDDEN)


# ---------------------------------------------------------------------- the rules can fail
def _fake(name: str, source: str, is_package: bool = False) -> Module:
    return Module(name, name.replace(".", "/") + ("/__init__.py" if is_package else ".py"),
                  source, is_package)


def test_each_rule_fails_on_a_bad_import() -> None:
    fakes = [
        _fake("probe_nav", "from importlib.metadata import version\n", is_package=True),
        _fake("probe_nav.drivers", "", is_package=True),
        _fake("probe_nav.drivers.frames", "def f():\n    from .. import core\n"),
        _fake("probe_nav.core", "", is_package=True),
        _fake("probe_nav.core.rate", "import numpy as np\nfrom probe_nav.simulator import engine\n"
              "def f():\n    import threading\n    from PySide6 import QtCore\n"
              "    np.save('x', 1)\n    open('x')\n"),
        _fake("probe_nav.simulator", "", is_package=True),
        _fake("probe_nav.simulator.engine", "import importlib\n"
              "importlib.import_module('probe_nav.cli.main')\n"),
        _fake("probe_nav.cli", "", is_package=True),
        _fake("probe_nav.cli.main", "from probe_nav.gui import window\n"),
        _fake("probe_nav.gui", "", is_package=True),
        _fake("probe_nav.gui.window", "from probe_nav import cli\nimport tools.mutate\n"),
        _fake("probe_nav.audio", "", is_package=True),
        _fake("probe_nav.audio.tone", "from PySide6 import QtMultimedia\n"),
        _fake("probe_nav.audio.qt_output", "from PySide6 import QtMultimedia\n"),
        _fake("probe_nav.cases", "", is_package=True),
        _fake("probe_nav.cases.report", "from probe_nav.report import pdf\n"),
        _fake("probe_nav.report", "", is_package=True),
        _fake("probe_nav.report.pdf", "import pyqtgraph\n"),
        _fake("probe_nav.live", "from probe_nav.cases import report\n"),
        _fake("probe_nav.tracing", "import logging\n"),
    ]
    layers = "\n".join(layer_violations(fakes))
    assert "probe_nav/drivers/frames.py:2: [layers] probe_nav.drivers.frames imports " \
           "probe_nav.core: drivers imports nothing of probe_nav" in layers
    assert "probe_nav/core/rate.py:2: [layers]" in layers  # core -> simulator
    assert "probe_nav/simulator/engine.py:2: [cli]" in layers  # dynamic import
    assert "probe_nav/gui/window.py:1: [cli]" in layers  # `from probe_nav import cli`
    assert "probe_nav/gui/window.py:2: [namespace]" in layers
    assert "probe_nav/cli/main.py" not in layers  # cli may import the GUI
    assert "[unclassified] probe_nav.tracing" in layers
    core = "\n".join(core_violations(fakes))
    for line, what in ((4, "threading"), (5, "PySide6"), (6, "save"), (7, "open")):
        assert f"probe_nav/core/rate.py:{line}: [core-pure]" in core and what in core
    qt = "\n".join(qt_violations(fakes))
    assert "probe_nav/audio/tone.py:1: [qt]" in qt and "audio/qt_output.py:1" not in qt
    assert "probe_nav/report/pdf.py:1: [qt] probe_nav.report.pdf imports pyqtgraph" in qt
    reach = "\n".join(qt_reach_violations(fakes))
    assert ("probe_nav/live.py:1: [qt-free] probe_nav.live must not reach Qt, but imports "
            "probe_nav.cases.report -> probe_nav.report.pdf -> pyqtgraph "
            "(probe_nav/report/pdf.py:1)") in reach


def test_a_clean_layering_passes() -> None:
    fakes = [
        _fake("probe_nav", "", is_package=True),
        _fake("probe_nav.drivers", "", is_package=True),
        _fake("probe_nav.drivers.frames", "import serial\nfrom . import frames\n"),
        _fake("probe_nav.core", "", is_package=True),
        _fake("probe_nav.core.rate", "import numpy\nfrom probe_nav.drivers.frames import X\n"),
        _fake("probe_nav.gui", "from PySide6 import QtWidgets\nimport pyqtgraph\n",
              is_package=True),
        _fake("probe_nav.__main__", "from probe_nav.cli.main import main\n"),
        _fake("probe_nav.cli", "", is_package=True),
        _fake("probe_nav.cli.main", "from probe_nav import __version__\nimport probe_nav.gui\n"),
    ]
    assert layer_violations(fakes) + core_violations(fakes) + qt_violations(fakes) \
        + qt_reach_violations(fakes) == []
