"""Start a simulated probe: an emulator playing a scenario, served by a DeviceServer on a pty or
TCP link on its own thread. The one launcher behind `probe-nav sim serve`, `monitor --sim`,
`record --sim` and the console's training mode.

It lives with the simulator because it needs nothing above it; front ends turn LaunchError into
their own kind of message (the command line: a UserError, one line, exit 2).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.faults import FaultPlan, FaultSpecError
from probe_nav.simulator.links import make_link
from probe_nav.simulator.registry import UnknownEmulator, emulator_class
from probe_nav.simulator.scenario import Scenario, ScenarioError, load
from probe_nav.simulator.server import DeviceServer
from probe_nav.simulator.truth import TruthWriter


class LaunchError(ValueError):
    """A simulated probe cannot be started: bad speed, fault plan, scenario, protocol, truth file
    or link. The message is one line meant for the user."""


def load_scenario(name_or_path: str) -> Scenario:
    """A built-in scenario by name or a scenario file; LaunchError if impossible."""
    try:
        return load(name_or_path)
    except ScenarioError as exc:
        raise LaunchError(str(exc)) from None


def fault_plan(faults: FaultPlan | str | None) -> FaultPlan:
    """A plan as given, or parsed from a SPEC string (docs/faults.md); LaunchError if bad."""
    if isinstance(faults, FaultPlan):
        return faults
    try:
        return FaultPlan.from_spec(faults)
    except FaultSpecError as exc:
        raise LaunchError(f"faults: {exc}") from None


def open_truth_writer(path: str | None, n_windows: int) -> TruthWriter | None:
    """A TruthWriter on `path` (.csv or .jsonl), None without a path; LaunchError if it cannot."""
    if path is None:
        return None
    try:
        return TruthWriter(path, n_windows)
    except ValueError as exc:
        raise LaunchError(str(exc)) from None
    except OSError as exc:
        raise LaunchError(f"cannot write {path}: {exc.strerror or exc}") from None


def temporary_link_path() -> str:
    """A symlink path in a private temporary folder, removed at exit."""
    folder = tempfile.mkdtemp(prefix="probe-nav-sim-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return str(Path(folder) / "ttySIM")


def start_server(protocol: str, scenario: str, link: str, seed: int, speed: float = 1.0,
                 port: int = 0, link_path: str | None = None,
                 faults: FaultPlan | str | None = None,
                 truth: str | None = None) -> DeviceServer:
    """Build and start a DeviceServer on a background thread; LaunchError for bad choices.

    `link` is 'pty' or 'tcp' (`port` 0: any free one); `truth` names a .csv/.jsonl file that gets
    the ground truth of every frame (the server's `truth_writer`; the caller closes it). A pty
    device that is to be unplugged gets a temporary `link_path`, so that it comes back at the URL
    the host knows.
    """
    if not speed > 0:
        raise LaunchError(f"speed must be > 0, got {speed}")
    plan = fault_plan(faults)
    loaded = load_scenario(scenario)
    try:
        emulator = emulator_class(protocol)(Simulation(loaded, seed))
    except UnknownEmulator as exc:
        raise LaunchError(str(exc)) from None
    writer = open_truth_writer(truth, len(loaded.windows))
    if link == "pty" and link_path is None and plan.of_kind("unplug"):
        link_path = temporary_link_path()
    try:
        device_link = make_link(link, link_path=link_path, port=port)
    except OSError as exc:
        if writer is not None:
            writer.close()
        raise LaunchError(f"cannot open a {link} link: {exc.strerror or exc}") from None
    emulator.keep_truth = False
    emulator.truth_sink = writer
    server = DeviceServer(emulator, device_link, speed=speed, faults=plan, seed=seed)
    server.truth_writer = writer  # type: ignore[attr-defined]
    return server.start()
