"""Run mypy on the processing core, the drivers, storage and navigation (`make typecheck`).

mypy cannot see the editable install (an import hook) and knows nothing of setuptools'
package-dir mapping, so `mypy drivers` would name the modules `drivers.*` and fail to resolve
`probe_nav.drivers.*`. This script lays the import tree as the installed package has it, out of
symlinks under build/typecheck/ (probe_nav/<entry> -> the real entry, probe_nav/drivers -> the root
drivers/ folder, and so on, read from pyproject.toml), runs mypy there with the settings in
pyproject.toml, and prints every reported path as the real file's path so that errors are
clickable. Exits with mypy's status; the last line is a one-line summary.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TREE = REPO / "build" / "typecheck"
ROOT_PACKAGE = "probe_nav"
TARGETS = ("probe_nav.core", "probe_nav.drivers", "probe_nav.storage", "probe_nav.navigation",
           "probe_nav.dosimetry")

_LOCATION = re.compile(r"^(?P<path>[^\s:][^:]*\.pyi?)(?P<rest>:\d+.*)$", re.DOTALL)
_SUCCESS = re.compile(r"^Success: no issues found in (?P<sources>\d+) source files?$")
_FOUND = re.compile(
    r"^Found (?P<errors>\d+) errors? in (?P<files>\d+) files? "
    r"\(checked (?P<sources>\d+) source files?\)$"
)


def mapped_packages(pyproject: Path) -> dict[str, str]:
    """pyproject.toml's package-dir mapping: dotted package name -> folder in the repository."""
    with pyproject.open("rb") as handle:
        config = tomllib.load(handle)
    mapping = config.get("tool", {}).get("setuptools", {}).get("package-dir", {})
    return {str(name): str(folder) for name, folder in mapping.items() if name}


def desired_links(repo: Path, mapping: dict[str, str]) -> dict[Path, Path]:
    """Every symlink of the tree (path in the tree -> real file or folder) as the wheel lays it out.

    The root package gets one link per entry of its folder; each mapped subpackage one link to its
    folder. Mapped packages must sit directly in the root package (the layout this tree uses).
    """
    package_dir = TREE / ROOT_PACKAGE
    links: dict[Path, Path] = {}
    for entry in sorted((repo / ROOT_PACKAGE).iterdir()):
        if entry.name != "__pycache__":
            links[package_dir / entry.name] = entry
    for name, folder in mapping.items():
        parent, _, leaf = name.rpartition(".")
        if parent != ROOT_PACKAGE:
            raise SystemExit(f"typecheck: mapped package {name!r} is not in {ROOT_PACKAGE}")
        links[package_dir / leaf] = repo / folder
    return links


def sync_tree(links: dict[Path, Path]) -> None:
    """Make the tree hold exactly `links`, changing only what differs (runs may overlap)."""
    package_dir = TREE / ROOT_PACKAGE
    package_dir.mkdir(parents=True, exist_ok=True)
    for existing in package_dir.iterdir():
        wanted = links.get(existing)
        if not existing.is_symlink():
            raise SystemExit(f"typecheck: {existing} is not a symlink; remove {TREE} and rerun")
        if wanted is None or Path(os.readlink(existing)) != _link_text(existing, wanted):
            existing.unlink(missing_ok=True)
    for link, target in links.items():
        if not link.is_symlink():
            with contextlib.suppress(FileExistsError):  # another run made it at the same moment
                link.symlink_to(_link_text(link, target), target_is_directory=target.is_dir())


def _link_text(link: Path, target: Path) -> Path:
    """The relative text of a link, so that the tree survives moving the repository."""
    return Path(os.path.relpath(target, link.parent))


def real_path(reported: str, base: Path) -> str:
    """A path mypy reported (relative to the tree) as the real file's, relative to `base`."""
    real = Path(os.path.realpath(TREE / reported))
    if not real.exists():
        return reported
    return os.path.relpath(real, base) if real.is_relative_to(base) else str(real)


def run_mypy(extra_args: list[str]) -> subprocess.CompletedProcess[str]:
    """mypy on the targets, run in the tree (its folder comes first on mypy's search path)."""
    command = [sys.executable, "-m", "mypy",
               "--config-file", str(REPO / "pyproject.toml"),
               "--cache-dir", str(TREE / ".mypy_cache"),
               *(arg for target in TARGETS for arg in ("-p", target)),
               *extra_args]
    return subprocess.run(command, cwd=TREE, capture_output=True, text=True, check=False)


def main(argv: list[str] | None = None) -> int:
    """Lay out the tree, run mypy, print its findings with real paths and one summary line."""
    extra_args = list(sys.argv[1:] if argv is None else argv)
    start_s = time.monotonic()
    sync_tree(desired_links(REPO, mapped_packages(REPO / "pyproject.toml")))
    result = run_mypy(extra_args)
    elapsed_s = time.monotonic() - start_s
    base = Path.cwd()
    summary = None
    for line in result.stdout.splitlines():
        if (found := _FOUND.match(line)) is not None:
            summary = (f"typecheck: {found['errors']} errors in {found['files']} files "
                       f"({found['sources']} source files checked)")
        elif (success := _SUCCESS.match(line)) is not None:
            summary = f"typecheck: no errors ({success['sources']} source files checked)"
        elif (location := _LOCATION.match(line)) is not None:
            print(real_path(location["path"], base) + location["rest"])
        else:
            print(line)
    if result.stderr:
        print(result.stderr, end="", file=sys.stderr)
    if summary is None:
        summary = f"typecheck: mypy failed (exit status {result.returncode})"
    print(f"{summary} in {elapsed_s:.1f} s [{', '.join(TARGETS)}]")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
