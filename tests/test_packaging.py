"""The wheel installs one import package, probe_nav, with the root folders inside it.

The design card keeps drivers/, calibration/ and simulator/ at the repository root; pyproject maps
them to probe_nav.drivers, .calibration, .simulator with an explicit package list, because
`packages.find` silently drops mapped packages. These tests keep the list complete and check what
a built wheel really contains and that it runs from its own files.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.xdist_group("wheel")  # one worker builds the module's wheel once
ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
SETUPTOOLS = PYPROJECT["tool"]["setuptools"]


def package_dirs() -> dict[str, Path]:
    """Every importable package of the source tree, by its installed name."""
    roots = {"probe_nav": ROOT / "probe_nav"} | {
        name: ROOT / folder for name, folder in SETUPTOOLS["package-dir"].items()}
    found: dict[str, Path] = {}
    for name, folder in roots.items():
        for init in folder.rglob("__init__.py"):
            found[".".join((name, *init.parent.relative_to(folder).parts))] = init.parent
    return found


def test_the_explicit_package_list_names_every_package_folder() -> None:
    assert sorted(SETUPTOOLS["packages"]) == sorted(package_dirs())


# Left behind by builds, tools and tests; setuptools would pack a stale build/lib into the wheel.
NOT_SOURCE = shutil.ignore_patterns(".git", ".venv*", "build", "dist", "out", "mutants",
                                    "*.egg-info", "__pycache__", ".*_cache", ".hypothesis")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from a clean copy of the source tree."""
    source = tmp_path_factory.mktemp("source") / "probe-nav"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    out = tmp_path_factory.mktemp("wheel")
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet",
                            "--disable-pip-version-check", "-w", str(out), str(source)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    (path,) = out.glob("probe_nav-*.whl")
    return path


def test_the_wheel_has_one_top_level_package_and_all_its_files(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"probe_nav"}
    for dotted, folder in package_dirs().items():
        sources = {p.name for p in folder.glob("*.py")}
        packed = {n.rsplit("/", 1)[1] for n in names
                  if n.rsplit("/", 1)[0] == dotted.replace(".", "/") and n.endswith(".py")}
        assert packed == sources, dotted
    scenarios = {p.name for p in (ROOT / "simulator" / "scenarios").glob("*.toml")}
    assert scenarios and {n.rsplit("/", 1)[1] for n in names
                          if n.startswith("probe_nav/simulator/scenarios/")
                          and n.endswith(".toml")} == scenarios
    assert "probe_nav/py.typed" in names


def test_every_entry_point_names_a_module_in_the_wheel(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        (ep_file,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
        lines = z.read(ep_file).decode().splitlines()
        names = set(z.namelist())
    targets = [line.split("=", 1)[1].strip() for line in lines if "=" in line]
    assert len(targets) > 10
    for target in targets:
        module = target.split(":")[0]
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, target


def test_the_unpacked_wheel_runs_from_its_own_files(wheel: Path, tmp_path: Path) -> None:
    """Installed alone (no source tree on the path), the commands work and import from it."""
    target = tmp_path / "site"
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--quiet",
                              "--disable-pip-version-check", "--target", str(target),
                              str(wheel)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    env = os.environ | {"PYTHONPATH": str(target), "QT_QPA_PLATFORM": "offscreen",
                        "PROBE_NAV_DATA_DIR": str(tmp_path / "data")}
    where = subprocess.run(
        [sys.executable, "-c", "import probe_nav.drivers.gmc.codec as m, probe_nav.simulator as s;"
                               "print(m.__file__); print(s.__file__)"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(target)) for line in where.stdout.split())
    listed = subprocess.run([sys.executable, "-m", "probe_nav", "sim", "list"],
                            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert listed.returncode == 0, listed.stderr
    assert "sln-static" in listed.stdout and "psma-node" in listed.stdout
