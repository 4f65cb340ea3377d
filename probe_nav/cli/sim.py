"""`probe-nav sim serve|list`: run a simulated device on a pty or TCP, list the scenarios."""

from __future__ import annotations

import argparse
import sys
import time

from probe_nav.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add `sim` and its subcommands."""
    sim = sub.add_parser("sim", help="the built-in probe simulator")
    sim_sub = sim.add_subparsers(dest="sim_command", metavar="SIMCOMMAND",
                                 parser_class=type(sim))
    sim_sub.required = True
    serve = sim_sub.add_parser(
        "serve", help="serve a simulated device; prints its URL as the first line of stdout"
    )
    serve.add_argument("--protocol", default="probelink", help="protocol to speak")
    serve.add_argument("--scenario", default="sln-static", help="scenario name or .toml file")
    serve.add_argument("--link", choices=("pty", "tcp"), default="pty")
    serve.add_argument("--port", type=int, default=0, help="TCP port (tcp link; 0 = any free)")
    serve.add_argument("--link-path", help="stable symlink to the pty (pty link)")
    serve.add_argument("--seed", type=int, default=0, help="random seed of the counts")
    serve.add_argument("--speed", type=float, default=1.0,
                       help="device time per host second (e.g. 10 = ten times real time)")
    serve.set_defaults(func=run_serve)
    lister = sim_sub.add_parser("list", help="list the built-in scenarios")
    lister.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print one line per built-in scenario."""
    from simulator.scenario import builtin_names, load

    names = builtin_names()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {load(name).description}")
    return 0


def start_server(protocol: str, scenario: str, link: str, seed: int, speed: float = 1.0,
                 port: int = 0, link_path: str | None = None):
    """Build and start a DeviceServer on a background thread; UserError for bad choices."""
    from simulator.engine import Simulation
    from simulator.links import make_link
    from simulator.registry import UnknownEmulator, emulator_class
    from simulator.scenario import ScenarioError, load
    from simulator.server import DeviceServer

    if speed <= 0:
        raise UserError(f"--speed must be > 0, got {speed}")
    try:
        emulator = emulator_class(protocol)(Simulation(load(scenario), seed))
    except (ScenarioError, UnknownEmulator) as exc:
        raise UserError(str(exc)) from None
    try:
        device_link = make_link(link, link_path=link_path, port=port)
    except OSError as exc:
        raise UserError(f"cannot open a {link} link: {exc.strerror or exc}") from None
    emulator.keep_truth = False
    return DeviceServer(emulator, device_link, speed=speed).start()


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted; the URL is the first line of standard output."""
    server = start_server(args.protocol, args.scenario, args.link, args.seed, args.speed,
                          args.port, args.link_path)
    print(server.url, flush=True)
    try:
        while True:
            time.sleep(3600)  # SIGINT/SIGTERM raise KeyboardInterrupt here (see cli.main)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        sys.stdout.flush()
    return 0
