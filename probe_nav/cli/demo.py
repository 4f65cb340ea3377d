"""`probe-nav demo`: the surgeon's console in training mode on the built-in simulator.

Without a display (or when Qt cannot open one) it says why in one line and runs the terminal
monitor instead (also with `--terminal`); `--console` insists on the console (also on a platform
that shows no window, e.g. QT_QPA_PLATFORM=offscreen; exit 2 where Qt cannot start);
`--screenshot FILE.png` renders the console offscreen after `--after` simulated seconds and exits
(docs/gui.md). Ctrl-C / SIGTERM close the console (exit 130 / 143) with its session recording
finished.
"""

from __future__ import annotations

import argparse

from probe_nav.cli.dual_args import add_dual_arguments, dual_from_args
from probe_nav.errors import UserError

DEFAULT_SCENARIO = "sln-scan"
VIEWS = ("training", "main")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `demo` subcommand."""
    p = sub.add_parser("demo", help="the console in training mode on the built-in simulator")
    p.add_argument("--scenario", default=None,
                   help=f"scenario to play (default: the last one chosen, else {DEFAULT_SCENARIO})")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--seed", type=int, default=0)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--terminal", action="store_true", help="the terminal monitor, not the GUI")
    where.add_argument("--console", action="store_true",
                       help="the console even on a platform that shows no window (e.g. "
                       "QT_QPA_PLATFORM=offscreen), never the terminal monitor")
    p.add_argument("--screenshot", metavar="FILE.png",
                   help="render the console offscreen to FILE.png and exit")
    p.add_argument("--after", type=float, default=20.0, metavar="S",
                   help="simulated seconds of scanning before the screenshot (default 20)")
    p.add_argument("--view", choices=VIEWS, default="training",
                   help="the training view (default) or the main view only (the console and "
                   "--screenshot)")
    p.add_argument("--slicer", metavar="HOST:PORT",
                   help="send the probe, hot spots and activity to 3D Slicer's OpenIGTLink "
                        "server (e.g. 127.0.0.1:18944; docs/slicer.md)")
    add_dual_arguments(p)
    p.add_argument("--speed", type=float, default=4.0, metavar="X",
                   help="simulated seconds per second while waiting for a screenshot")
    p.set_defaults(func=run)


def _check_scenario(name: str) -> None:
    from probe_nav.simulator.scenario import ScenarioError, load

    try:
        load(name)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    """GUI, screenshot or terminal monitor."""

    if args.duration is not None and args.duration <= 0:
        raise UserError(f"--duration must be > 0, got {args.duration}")
    if args.scenario is not None:
        _check_scenario(args.scenario)
    dual = dual_from_args(args)
    slicer = None
    if args.slicer is not None:
        from probe_nav.cli.locate import host_port

        slicer = host_port(args.slicer)
    if args.screenshot is not None:
        return _screenshot(args)
    if args.terminal:
        return _terminal(args)
    from probe_nav.cli.console_start import console_or_monitor

    def console(stops) -> int:
        from probe_nav.gui.app import run_training

        return run_training(args.scenario, args.seed, args.duration, args.view, stops,
                            slicer=slicer, dual=dual)

    return console_or_monitor(
        console_only=args.console, console=console, monitor=lambda: _terminal(args),
        no_display_line=lambda problem: (
            f"probe-nav demo: no display available ({problem}), so the console cannot open; "
            "running the terminal monitor instead (--terminal selects it directly, "
            "--screenshot FILE.png renders the console offscreen)"))


def _screenshot(args: argparse.Namespace) -> int:
    from probe_nav.gui.app import render_screenshot

    if not str(args.screenshot).lower().endswith(".png"):
        raise UserError(f"--screenshot needs a .png file name, got {args.screenshot!r}")
    if not args.after >= 0:
        raise UserError(f"--after must be >= 0, got {args.after}")
    if not args.speed > 0:
        raise UserError(f"--speed must be > 0, got {args.speed}")
    try:
        out = render_screenshot(args.screenshot, args.scenario or DEFAULT_SCENARIO, args.after,
                                args.view, args.seed, args.speed, dual=dual_from_args(args))
    except OSError as exc:
        raise UserError(f"cannot write {args.screenshot}: {exc}") from None
    print(out, flush=True)
    return 0


def _terminal(args: argparse.Namespace) -> int:
    from probe_nav.cli.main import build_parser

    scenario = args.scenario or DEFAULT_SCENARIO
    print(f"probe-nav demo: simulated probe, scenario {scenario!r} (Ctrl-C to stop)",
          flush=True)
    argv = ["monitor", "--sim", scenario, "--seed", str(args.seed)]
    if args.duration is not None:
        argv += ["--duration", str(args.duration)]
    monitor_args = build_parser().parse_args(argv)
    return monitor_args.func(monitor_args)
