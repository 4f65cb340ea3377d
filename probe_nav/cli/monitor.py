"""`probe-nav monitor`: a live readout of a device (or the in-process simulator) in the terminal."""

from __future__ import annotations

import argparse
import json
import sys
import time

from probe_nav.errors import UserError


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `monitor` subcommand."""
    p = sub.add_parser("monitor", help="live readout of a probe in the terminal")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--device", metavar="URL", help="serial device path or pyserial URL")
    src.add_argument("--sim", metavar="SCENARIO", help="run the built-in simulator in-process")
    p.add_argument("--protocol", default="probelink",
                   help="device protocol (default probelink; 'auto' asks the device; "
                        "`probe-nav ports` lists what is plugged in)")
    p.add_argument("--baud", type=int, metavar="N",
                   help="serial baud rate (default: the protocol's, e.g. 57600 for gmc-300)")
    p.add_argument("--duration", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("--json", action="store_true", help="one JSON object per update on stdout")
    p.add_argument("--interval", type=float, default=0.25, metavar="S",
                   help="seconds between updates (default 0.25)")
    p.add_argument("--meter", default="adaptive", metavar="M",
                   help="rate meter: adaptive (default) or a time constant in s (0.5, 1, 2, 5)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (with --sim)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Open the device, then print updates until --duration or Ctrl-C."""
    from drivers.errors import DriverError
    from drivers.registry import open_device
    from probe_nav.core.rate import make_meter
    from probe_nav.monitor import MonitorState, format_line

    if args.duration is not None and args.duration <= 0:
        raise UserError(f"--duration must be > 0, got {args.duration}")
    if args.interval <= 0:
        raise UserError(f"--interval must be > 0, got {args.interval}")
    try:
        make_meter(args.meter)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    if args.baud is not None and args.baud <= 0:
        raise UserError(f"--baud must be > 0, got {args.baud}")
    server = None
    url = args.device
    if args.sim is not None:
        from probe_nav.cli.sim import start_server

        server = start_server(args.protocol, args.sim, "pty", args.seed)
        url = server.url
    try:
        options = {} if args.baud is None else {"baudrate": args.baud}
        device = open_device(url, args.protocol, **options)
        device.open()
    except DriverError as exc:
        if server is not None:
            server.stop()
        raise UserError(str(exc)) from None
    state = MonitorState(meter_name=args.meter)
    tty = sys.stdout.isatty() and not args.json
    start = time.monotonic()
    next_update = start + args.interval
    try:
        while args.duration is None or time.monotonic() - start < args.duration:
            for event in device.poll(timeout_s=max(0.0, next_update - time.monotonic())):
                state.handle(event)
            now = time.monotonic()
            if now < next_update:
                continue
            next_update += args.interval * max(1, int((now - next_update) / args.interval) + 1)
            snap = state.snapshot(now - start, device.link_state, device.stats)
            if args.json:
                print(json.dumps(snap), flush=True)
            elif tty:
                print("\r" + format_line(snap), end="\033[K", flush=True)
            else:
                print(format_line(snap), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        device.close()
        if server is not None:
            server.stop()
        if tty:
            print()
    return 0
