"""`probe-nav gui --device URL [--protocol P] [--probe PROBE.toml --tracker TRACKER.toml]`: the
surgeon's console on a real probe; with a probe model and a tracker, navigation too
(docs/navigation.md).

Without a display (or when Qt cannot open one) it says why in one line and runs the terminal
monitor on the same device; `--console` insists on the console (also on a platform that shows
no window, e.g. QT_QPA_PLATFORM=offscreen; exit 2 where Qt cannot start).
Ctrl-C / SIGTERM close the console (exit 130 / 143) with its session recording finished.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from probe_nav.cli.dual_args import add_dual_arguments, dual_from_args
from probe_nav.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `gui` subcommand."""
    p = sub.add_parser("gui", help="the surgeon's console on a real probe")
    p.add_argument("--device", required=True, metavar="URL",
                   help="serial device path or pyserial URL (`probe-nav ports` lists them)")
    p.add_argument("--protocol", default="probelink",
                   help="device protocol (default probelink; 'auto' asks the device)")
    p.add_argument("--probe", metavar="PROBE.toml",
                   help="the probe's [probe] table (as for locate): with --tracker, navigation")
    p.add_argument("--tracker", metavar="TRACKER.toml",
                   help="the tracker's [tracker] table (OpenIGTLink or camera; "
                        "docs/navigation.md): with --probe, navigation")
    p.add_argument("--skin-z-mm", type=float, default=0.0,
                   help="the skin plane z in the tracker's frame (default 0)")
    p.add_argument("--slicer", metavar="HOST:PORT",
                   help="with navigation, send the probe, hot spots and activity to 3D Slicer's "
                        "OpenIGTLink server (docs/slicer.md)")
    add_dual_arguments(p)
    p.add_argument("--duration", type=float, metavar="S", help="close after S seconds")
    p.add_argument("--console", action="store_true",
                   help="the console even on a platform that shows no window (e.g. "
                   "QT_QPA_PLATFORM=offscreen), never the terminal monitor")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Open the device and show the console until the window closes."""
    from probe_nav.drivers.errors import DriverError
    from probe_nav.drivers.registry import open_device

    if args.duration is not None and args.duration <= 0:
        raise UserError(f"--duration must be > 0, got {args.duration}")
    if (args.probe is None) != (args.tracker is None):
        raise UserError("navigation needs both --probe and --tracker")
    if not math.isfinite(args.skin_z_mm):
        raise UserError(f"--skin-z-mm must be finite, got {args.skin_z_mm}")
    if args.slicer is not None and args.probe is None:
        raise UserError("--slicer needs navigation (--probe and --tracker)")
    dual = dual_from_args(args)
    navigation = None
    if args.probe is not None:
        from probe_nav.cli.locate import host_port, load_probe
        from probe_nav.drivers.tracking.registry import TrackerConfigError, load_tracker

        probe, nuclide_name = load_probe(Path(args.probe))  # a bad file: one line, exit 2
        slicer = host_port(args.slicer) if args.slicer is not None else None
        try:  # opened before the console, so a bad file is one line and nothing else
            source = load_tracker(Path(args.tracker))
        except TrackerConfigError as exc:
            raise UserError(str(exc)) from None
        navigation = (probe, nuclide_name, source, args.skin_z_mm, slicer)

    def console(stops) -> int:
        from probe_nav.gui.app import run_device

        try:
            open_device(args.device, args.protocol)  # unknown protocol -> one line, exit 2
            return run_device(args.device, args.protocol, args.duration, stops,
                              navigation=navigation, dual=dual)
        except DriverError as exc:
            raise UserError(str(exc)) from None

    try:
        return _console_or_monitor(args, console)
    finally:
        if navigation is not None:
            navigation[2].close()  # idempotent: the navigator closed it already if it ran


def _console_or_monitor(args: argparse.Namespace, console) -> int:
    from probe_nav.cli.console_start import console_or_monitor

    return console_or_monitor(
        console_only=args.console, console=console, monitor=lambda: _monitor(args),
        no_display_line=lambda problem: (
            f"probe-nav gui: no display available ({problem}); running the terminal monitor "
            "on the device instead"))


def _monitor(args: argparse.Namespace) -> int:
    """The terminal monitor on the same device."""
    from probe_nav.cli.main import build_parser

    argv = ["monitor", "--device", args.device, "--protocol", args.protocol]
    if args.duration is not None:
        argv += ["--duration", str(args.duration)]
    monitor_args = build_parser().parse_args(argv)
    return monitor_args.func(monitor_args)
