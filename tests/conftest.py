"""Shared fixtures: run the CLI as a real process, start simulated devices."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import hypothesis
import pytest

from probe_nav.logs import reset_logging

if TYPE_CHECKING:
    from tests.pacs import PrivateOrthanc

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ("tests.postgres_server",)  # postgres_server, postgres_url fixtures

# Hypothesis, loaded by default (HYPOTHESIS_PROFILE=NAME picks another registered profile):
# - deadline=None and no too_slow health check: both are wall-clock limits, which fail at random
#   on a shared, loaded machine without saying anything about the code;
# - derandomize=True: the examples come from a seed fixed per test, so every run (and every
#   worker) tries the same inputs and a failure reproduces exactly on the next run. Runs differ
#   only when the tests do; the example database is off so no run depends on an earlier one.
hypothesis.settings.register_profile(
    "probe-nav", deadline=None, derandomize=True, database=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow])
hypothesis.settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "probe-nav"))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Make `--dist loadgroup` group again on pytest >= 9.2 (in an xdist worker).

    pytest-xdist 3.8 tells its scheduler a test's xdist_group by an "@NAME" suffix it writes to
    `Item._nodeid`; pytest 9.2 keeps the id in `Item._id`, so the suffix is lost and grouped
    tests are silently spread over the workers (pytest-xdist issue #1386, fix pending in #1388).
    This writes the suffix where this pytest reads it; where xdist's own works, it does nothing.
    """
    if not getattr(config.option, "loadgroup", False):
        return
    try:
        from _pytest.nodeid import NodeId
    except ImportError:  # an older pytest: xdist's own suffix works
        return
    for item in items:
        names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default"))
                        for m in item.iter_markers("xdist_group")})
        suffix = "@" + "_".join(names)
        if names and not item.nodeid.endswith(suffix) and hasattr(item, "_id"):
            item._id = NodeId.parse(item.nodeid + suffix)


_SAVED_DATA_DIR = "_probe_nav_saved_data_dir"


def pytest_configure(config: pytest.Config) -> None:
    """Keep the suite's log files and databases out of the user's data directory: tests (and the
    CLI processes they start) that set no PROBE_NAV_DATA_DIR of their own use a private folder.

    Set here rather than in a session fixture because fixtures run after collection, and some test
    modules copy os.environ when they are imported (e.g. an environment for their subprocesses).
    """
    private = tempfile.mkdtemp(prefix="probe-nav-test-data-")
    setattr(config, _SAVED_DATA_DIR, (os.environ.get("PROBE_NAV_DATA_DIR"), private))
    os.environ["PROBE_NAV_DATA_DIR"] = private


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the private data folder and give the environment back."""
    saved, private = getattr(config, _SAVED_DATA_DIR, (None, None))
    if private is None:
        return
    shutil.rmtree(private, ignore_errors=True)
    if saved is None:
        os.environ.pop("PROBE_NAV_DATA_DIR", None)
    else:
        os.environ["PROBE_NAV_DATA_DIR"] = saved


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """A test that runs `main()` in-process configures logging; undo it after the test."""
    level = logging.getLogger().level
    yield
    reset_logging()
    logging.getLogger().setLevel(level)


def cli(*args: str) -> list[str]:
    """The argv that runs `probe-nav ARGS` with this interpreter."""
    return [sys.executable, "-m", "probe_nav", *args]


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run `probe-nav ARGS` to completion and capture its output."""
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=os.environ | {"PYTHONUNBUFFERED": "1"})


class Served:
    """A `probe-nav sim serve` process and the URL it printed."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            cli("sim", "serve", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise RuntimeError(f"sim serve printed no URL: {self.proc.stderr.read()}")

    stderr: str | None = None  # what the server said, once stopped

    def stop(self) -> int:
        """SIGTERM the server; returns its exit status (its standard error in `stderr`)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        if self.stderr is None:
            _, self.stderr = self.proc.communicate(timeout=10)
        return self.proc.wait()


@pytest.fixture
def serve() -> Iterator[type[Served]]:
    """Start simulated devices; every one is stopped at the end of the test."""
    started: list[Served] = []

    class Tracked(Served):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def orthanc() -> Iterator[PrivateOrthanc]:
    """This worker's private Orthanc PACS (tests/pacs.py: loopback, data in a temporary
    directory, stopped at the end). Skipped without the Debian package orthanc, except under
    CI=true where the PACS tests must run."""
    from tests.pacs import serving

    with serving() as server:
        yield server
