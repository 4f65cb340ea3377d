"""Mutation testing of probe_nav/core with mutmut (`make mutate`): kill rate and survivors.

mutmut 3 copies the probe_nav package to mutants/, puts mutants/ first on sys.path, rewrites every
function of probe_nav/core into its mutants behind a trampoline, and runs the tests of tests/core
that cover each mutated function (settings in pyproject.toml, [tool.mutmut]). A mutant is killed
when a test fails. Before the run, mutmut checks that the tests fail when every mutated function
raises (so the tests really import the copy under mutants/); after it, this script checks that
the mapped subpackages (probe_nav.drivers, .calibration, .simulator) still resolve from the root
folders, and prints: mutants, killed, survived, timeout, the kill rate, and every survivor.

mutmut mutates neither properties nor module-level constants, so the hand-written mutants of
NAMED_MUTANTS (bugs that once survived the suite, issue 13) are run first, each in a scratch copy
of the package: the tests must pass on the copy as it is and fail with each mutant.

Run from anywhere: `python tools/mutate.py` (a fresh run, about an hour on 2 shared cores),
`--resume` keeps the results of an earlier run in mutants/, `--survivors` re-tests only its
survivors (after adding tests; the summary covers all mutants), `--max-children N` sets the
workers, mutant-name globs (`"probe_nav.core.background*"`) restrict the mutmut run, and
`--named-only` runs only the named mutants. Inspect a survivor with
`.venv/bin/mutmut show NAME` from the repository root. Exits non-zero when mutmut fails or a
named mutant survives or no longer applies.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from collections import Counter
from dataclasses import dataclass
from fnmatch import fnmatchcase as fnmatch
from pathlib import Path
from tempfile import TemporaryDirectory

REPO = Path(__file__).resolve().parents[1]
MUTANTS = REPO / "mutants"
CONSTRAINTS = REPO / "constraints.txt"
MUTATED_PACKAGE = "probe_nav.core"
MAPPED_PACKAGES = ("probe_nav.drivers", "probe_nav.calibration", "probe_nav.simulator")
NICENESS = 10  # the machine is shared: mutation testing yields to interactive work
_RESULT_LINE = re.compile(r"^\s+(?P<name>\S+):\s+(?P<status>.+?)\s*$")
# Outcomes in which a test noticed the mutant (a segfault or SIGKILL is the test process dying).
_DETECTED = ("killed", "timeout", "segfault", "caught by type check")


@dataclass(frozen=True)
class NamedMutant:
    """A hand-written mutant: `old` (exactly once in `path`) replaced by `new`."""

    name: str
    path: str
    old: str
    new: str


NAMED_MUTANTS = (
    NamedMutant("z_score: background sd instead of its square", "probe_nav/core/background.py",
                "+ sd_b * sd_b", "+ sd_b"),
    NamedMutant("timed decision level without the background's variance",
                "probe_nav/core/timed.py", "b_var = b_counts + (t * bg.sd_cps) ** 2 if",
                "b_var = b_counts if"),
    NamedMutant("over-range latch released at 0.8 instead of 0.5 of the maximum",
                "probe_nav/core/overrange.py", "_ZONE_EDGES = (0.5, 0.8,",
                "_ZONE_EDGES = (0.8, 0.8,"),
    NamedMutant("background sd zeroed while the background is measured",
                "probe_nav/core/pipeline.py", "b_sd[:start] = poisson_sd_cps(cum_n, cum_t)",
                "b_sd[:start] = 0.0"),
)


def mutmut_requirement() -> str:
    """The mutmut requirement of pyproject's `mutate` extra (the one place its version is set)."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        extras = tomllib.load(handle)["project"]["optional-dependencies"]
    (requirement,) = [r for r in extras["mutate"] if r.lower().startswith("mutmut")]
    return requirement


def ensure_mutmut() -> Path:
    """Install mutmut into this interpreter's environment if missing; returns its command."""
    command = Path(sys.executable).with_name("mutmut")
    if importlib.util.find_spec("mutmut") is None or not command.exists():
        requirement = mutmut_requirement()
        print(f"mutate: installing {requirement}", flush=True)
        pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "install", "--quiet"]
        if CONSTRAINTS.exists():
            # holds mutmut's own version if pinned there, and keeps the suite's pinned packages
            # from being moved by mutmut's dependencies
            pip += ["-c", str(CONSTRAINTS)]
        subprocess.run([*pip, requirement], check=True)
    return command


def run_mutmut(command: Path, max_children: int, names: list[str]) -> int:
    """`mutmut run` in the repository root (mutmut reads pyproject.toml from the working dir)."""
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [str(command), "run", "--max-children", str(max_children), *names]
    return subprocess.run(argv, cwd=REPO, env=env).returncode


def mutant_results(command: Path) -> dict[str, str]:
    """Status of every mutant (`mutmut results --all true`): name -> killed, survived, ..."""
    out = subprocess.run([str(command), "results", "--all", "true"], cwd=REPO, check=True,
                         capture_output=True, text=True).stdout
    found = (_RESULT_LINE.match(line) for line in out.splitlines())
    return {m["name"]: m["status"] for m in found if m}


def import_origins() -> dict[str, Path]:
    """Where the mutated package and the mapped subpackages import from, as the tests see them.

    Same layout as mutmut's test runs: working directory and first path entry mutants/, the
    repository root not on sys.path, the editable install's finder behind the path finder.
    """
    names = (f"{MUTATED_PACKAGE}.background", *MAPPED_PACKAGES)
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    print(name, importlib.import_module(name).__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=MUTANTS, check=True,
                         capture_output=True, text=True).stdout
    return {name: Path(path) for name, path in (line.split(" ", 1) for line in out.splitlines())}


def check_import_layout() -> list[str]:
    """One line per package: where it imports from, and whether that is where it should."""
    lines = []
    for name, origin in import_origins().items():
        mapped = name in MAPPED_PACKAGES
        expected = REPO / name.rsplit(".", 1)[1] if mapped else MUTANTS
        verdict = "ok" if origin.is_relative_to(expected) else f"WRONG: expected {expected}"
        lines.append(f"{name} from {origin.relative_to(REPO)} ({verdict})")
    return lines


@dataclass(frozen=True)
class Summary:
    """Counts of a mutmut run."""

    by_status: Counter[str]
    survivors: list[str]

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def rate(self, statuses: tuple[str, ...]) -> float:
        """Percentage of all mutants whose status is one of `statuses`."""
        return 100.0 * sum(self.by_status[s] for s in statuses) / self.total if self.total else 0.0


def summarize(results: dict[str, str], names: list[str]) -> Summary:
    """Counts by status and the sorted survivors (of the mutants matching `names`, if any)."""
    if names:
        results = {n: s for n, s in results.items() if any(fnmatch(n, g) for g in names)}
    return Summary(Counter(results.values()),
                   sorted(n for n, s in results.items() if s == "survived"))


def function_of(mutant: str) -> str:
    """probe_nav.core.timed.xǁTimedCountǁadd__mutmut_3 -> probe_nav.core.timed TimedCount.add."""
    module, _, rest = mutant.rpartition(".")
    name = rest.split("__mutmut_")[0].removeprefix("x_").removeprefix("xǁ").replace("ǁ", ".")
    return f"{module} {name}"


def report(summary: Summary, elapsed_s: float, layout: list[str]) -> None:
    """Print the summary block."""
    s = summary.by_status
    print("\n== mutation testing of probe_nav/core (tests/core)")
    for line in layout:
        print(f"imports   {line}")
    print(f"mutants   {summary.total}")
    print(f"killed    {s['killed']}")
    print(f"survived  {s['survived']}")
    print(f"timeout   {s['timeout']}")
    others = {k: v for k, v in s.items() if k not in ("killed", "survived", "timeout")}
    if others:
        print("other     " + ", ".join(f"{k} {v}" for k, v in sorted(others.items())))
    print(f"kill rate {summary.rate(('killed',)):.1f} % (killed / mutants); "
          f"{summary.rate(_DETECTED):.1f} % counting timeouts and crashes as detected")
    print(f"wall time {elapsed_s / 60:.1f} min")
    if summary.survivors:
        per_function = Counter(function_of(n) for n in summary.survivors)
        print("\nsurvivors per function:")
        for function, count in sorted(per_function.items(), key=lambda kv: (-kv[1], kv[0])):
            print(f"  {count:4d}  {function}")
        print("\nsurviving mutants (`.venv/bin/mutmut show NAME` prints the change):")
        for name in summary.survivors:
            print(f"  {name}")


def mutmut_setting(key: str) -> list[str]:
    """A list setting of pyproject's [tool.mutmut] (the named mutants use the same tests)."""
    with (REPO / "pyproject.toml").open("rb") as handle:
        return list(tomllib.load(handle)["tool"]["mutmut"].get(key, []))


def run_tests(scratch: Path) -> int:
    """pytest's exit status on the scratch copy (pytest puts it first on sys.path: tests/ is a
    package whose root is the copy)."""
    argv = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:randomly",
            *mutmut_setting("pytest_add_cli_args"),
            *mutmut_setting("pytest_add_cli_args_test_selection")]
    env = os.environ | {"QT_QPA_PLATFORM": "offscreen", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(argv, cwd=scratch, env=env, capture_output=True).returncode


def run_named_mutants() -> list[str]:
    """Run NAMED_MUTANTS; returns one line each: killed, SURVIVED or STALE (no longer applies)."""
    lines = []
    with TemporaryDirectory(prefix="probe-nav-mutate-") as tmp:
        scratch = Path(tmp)
        for folder in ("probe_nav", "tests", "tools"):
            if (REPO / folder).is_dir():
                shutil.copytree(REPO / folder, scratch / folder,
                                ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(REPO / "pyproject.toml", scratch)
        if (status := run_tests(scratch)) != 0:
            return [f"BASELINE FAILED: the unmutated copy fails its tests (pytest status {status})"]
        for mutant in NAMED_MUTANTS:
            target = scratch / mutant.path
            original = target.read_text(encoding="utf-8")
            if original.count(mutant.old) != 1:
                lines.append(f"STALE     {mutant.name}: {mutant.old!r} not found once in "
                             f"{mutant.path} (update NAMED_MUTANTS)")
                continue
            target.write_text(original.replace(mutant.old, mutant.new), encoding="utf-8")
            status = run_tests(scratch)
            target.write_text(original, encoding="utf-8")
            verdict = {0: "SURVIVED", 1: "killed  "}.get(status, f"ERROR {status}")
            lines.append(f"{verdict}  {mutant.name}")
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="GLOB",
                        help="only these mutants (mutmut names, * allowed)")
    parser.add_argument("--resume", action="store_true",
                        help="keep mutants/ and the results of an earlier run")
    parser.add_argument("--survivors", action="store_true",
                        help="re-test only the mutants that survived (or timed out) in the "
                             "earlier run in mutants/, e.g. after adding tests")
    parser.add_argument("--named-only", action="store_true",
                        help="run only the hand-written mutants of NAMED_MUTANTS")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2, metavar="N",
                        help="parallel test processes (default: one per core)")
    args = parser.parse_args(argv)
    if args.max_children < 1:
        parser.error("--max-children must be at least 1")
    if args.survivors and (args.names or not MUTANTS.is_dir()):
        parser.error("--survivors needs an earlier run in mutants/ and no GLOB")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.nice(NICENESS)
    named_ok = True
    if args.named_only or not (args.names or args.survivors):  # not for partial re-runs
        start = time.monotonic()
        named = run_named_mutants()
        print("== named mutants (hand-written; tests/core must kill each)")
        print("\n".join(named) + f"\n({(time.monotonic() - start) / 60:.1f} min)", flush=True)
        named_ok = all(line.startswith("killed") for line in named)
    if args.named_only:
        return 0 if named_ok else 1
    command = ensure_mutmut()
    names = args.names
    if args.survivors:  # mutmut re-tests mutants only when named
        names = [n for n, s in mutant_results(command).items() if s in ("survived", "timeout")]
        print(f"mutate: re-testing {len(names)} survivors of the earlier run", flush=True)
    elif not args.resume and MUTANTS.exists():
        shutil.rmtree(MUTANTS)  # mutmut keeps unmutated copies it made earlier: start afresh
    start = time.monotonic()
    status = run_mutmut(command, args.max_children, names)
    elapsed_s = time.monotonic() - start
    if status != 0:
        print(f"mutate: mutmut run failed with status {status}", file=sys.stderr)
        return status
    report(summarize(mutant_results(command), args.names), elapsed_s, check_import_layout())
    return 0 if named_ok else 1


if __name__ == "__main__":
    sys.exit(main())
