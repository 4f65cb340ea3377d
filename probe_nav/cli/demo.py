"""`probe-nav demo`: the main job on the built-in simulator (the terminal monitor for now)."""

from __future__ import annotations

import argparse

DEFAULT_SCENARIO = "sln-scan"


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    p = sub.add_parser("demo", help="run probe-nav on the built-in simulator")
    p.add_argument("--scenario", default=DEFAULT_SCENARIO, help="scenario to play")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Play the scenario in the live monitor until Ctrl-C or --duration."""
    from probe_nav.cli.main import build_parser

    print(f"probe-nav demo: simulated probe, scenario {args.scenario!r} (Ctrl-C to stop)",
          flush=True)
    argv = ["monitor", "--sim", args.scenario, "--seed", str(args.seed)]
    if args.duration is not None:
        argv += ["--duration", str(args.duration)]
    monitor_args = build_parser().parse_args(argv)
    return monitor_args.func(monitor_args)
