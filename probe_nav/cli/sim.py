"""`probe-nav sim serve|run|poses|retention|list`: a simulated device on a pty or TCP (with faults
on demand and ground truth beside the stream), a scenario played straight to a frames file, the
scenario's probe path as an OpenIGTLink tracker, a therapy patient's retention series, the
scenarios."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable

from probe_nav.cli.private_file import check_output_path
from probe_nav.errors import UserError

log = logging.getLogger(__name__)
OUTPUT_SUFFIXES = (".csv", ".jsonl")  # sim run --out, sim serve --truth
MAX_RUN_S = 1e6  # `sim run --duration`: 11.6 days of frames; beyond is a typing mistake
MAX_SPEED = 1000.0  # `sim serve --speed`: 50 ms frames every 50 us of host time at most


def register(sub: argparse._SubParsersAction) -> None:
    """Add `sim` and its subcommands."""
    from probe_nav.cli.bounds import bounded_float, bounded_int, seed

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
    serve.add_argument("--port", type=bounded_int(0, 65535), default=0,
                       help="TCP port (tcp link; 0 = any free)")
    serve.add_argument("--link-path", help="stable symlink to the pty (pty link)")
    serve.add_argument("--seed", type=seed, default=0, help="random seed of the counts")
    serve.add_argument("--speed", type=bounded_float(0.0, MAX_SPEED, "x", lo_open=True),
                       default=1.0,
                       help="device time per host second (e.g. 10 = ten times real time)")
    serve.add_argument("--faults", metavar="SPEC",
                       help="timed faults, e.g. unplug@10+3,garbage@5x200 (docs/faults.md)")
    serve.add_argument("--truth", metavar="FILE",
                       help="write the ground truth of every frame to FILE (.csv or .jsonl)")
    serve.add_argument("--force", action="store_true", help="replace --truth if it exists")
    serve.set_defaults(func=run_serve)
    run = sim_sub.add_parser("run", help="play a scenario as fast as possible; frames, the "
                             "probe's true pose and truth as CSV (replayable, with the pose "
                             "columns x_mm..uz of docs/frames-csv.md) or JSON Lines")
    run.add_argument("--scenario", default="sln-static", help="scenario name or .toml file")
    run.add_argument("--duration", type=float, default=30.0, metavar="S",
                     help="scenario seconds to play (default 30)")
    run.add_argument("--seed", type=seed, default=0, help="random seed of the counts")
    run.add_argument("--faults", metavar="SPEC", help="physics faults (saturate, hv) to play")
    run.add_argument("--out", metavar="FILE", help=".csv or .jsonl (default: CSV on stdout)")
    run.add_argument("--force", action="store_true", help="replace --out if it exists")
    run.set_defaults(func=run_run)
    poses = sim_sub.add_parser("poses", help="serve a scenario's probe path as an OpenIGTLink "
                               "tracker (TRANSFORM messages); prints the port on one line")
    poses.add_argument("--scenario", default="sln-scan", help="scenario name or .toml file")
    poses.add_argument("--port", type=bounded_int(0, 65535), default=18944,
                       help="TCP port on 127.0.0.1 (default 18944; 0 = any free)")
    poses.add_argument("--device-name", default="ProbeToTracker",
                       help="TRANSFORM device name (default ProbeToTracker)")
    poses.add_argument("--rate-hz", type=bounded_float(0.0, 1000.0, "Hz", lo_open=True),
                       default=60.0, help="poses per second (default 60)")
    poses.add_argument("--noise-mm", type=bounded_float(0.0, 100.0, "mm"), default=0.0,
                       help="Gaussian noise on the tip, sd per axis")
    poses.add_argument("--noise-deg", type=bounded_float(0.0, 90.0, "degrees"), default=0.0,
                       help="Gaussian noise on the axis direction, sd per direction")
    poses.add_argument("--latency-s", type=bounded_float(0.0, 10.0, "s"), default=0.0,
                       help="stamps late by this much (the pose sent at h is that of h - L)")
    poses.add_argument("--seed", type=seed, default=0, help="random seed of the noise")
    poses.set_defaults(func=run_poses)
    retention = sim_sub.add_parser(
        "retention", help="count a therapy scenario's patient in fixed geometry at given times "
        "after administration (a retention series for `probe-nav dosimetry fit`) with its truth")
    retention.add_argument("scenario", metavar="SCENARIO", help="scenario name or .toml file")
    retention.add_argument("--times-h", required=True, metavar="H,H,...",
                           help="hours after administration, increasing, e.g. 4,24,48,96,168")
    retention.add_argument("--count-s", type=bounded_float(0.0, 86400.0, "s", lo_open=True),
                           default=60.0, help="counting time of each point (default 60)")
    retention.add_argument("--background-s", type=bounded_float(0.0, 86400.0, "s", lo_open=True),
                           default=60.0, help="background count after each point (default 60)")
    retention.add_argument("--window", type=bounded_int(0, 7), default=0,
                           help="energy window to count (default 0, the scenario's own)")
    retention.add_argument("--seed", type=seed, default=0, help="random seed of the counts")
    retention.add_argument("--json", action="store_true", help="print the series as JSON")
    retention.set_defaults(func=run_retention)
    lister = sim_sub.add_parser("list", help="list the built-in scenarios")
    lister.set_defaults(func=run_list)


def run_list(args: argparse.Namespace) -> int:
    """Print one line per built-in scenario."""
    from probe_nav.simulator.scenario import builtin_names, load

    names = builtin_names()
    width = max(len(n) for n in names)
    for name in names:
        print(f"{name:<{width}}  {load(name).description}")
    return 0


def _load(scenario: str):
    from probe_nav.simulator.scenario import ScenarioError, load

    try:
        return load(scenario)
    except ScenarioError as exc:
        raise UserError(str(exc)) from None


def _plan(spec: str | None):
    from probe_nav.simulator.faults import FaultPlan, FaultSpecError

    try:
        return FaultPlan.from_spec(spec)
    except FaultSpecError as exc:
        raise UserError(f"--faults: {exc}") from None


def open_probe(protocol: str, url: str | None, scenario: str | None, seed: int = 0,
               speed: float = 1.0, baud: int | None = None):
    """Open the device at `url`, or serve `scenario` on a pty and open that (url None).

    Returns (opened device, server or None); the caller closes both. A device that cannot be
    opened is a UserError, and a server started for it is stopped first. (Command-line only:
    it turns DriverError into UserError; the console opens its devices itself.)
    """
    from probe_nav.drivers.errors import DriverError
    from probe_nav.drivers.registry import open_device

    server = None
    if url is None:
        server = start_server(protocol, scenario, "pty", seed, speed)
        url = server.url
    try:
        options = {} if baud is None else {"baudrate": baud}
        device = open_device(url, protocol, **options)
        device.open()
    except DriverError as exc:
        if server is not None:
            server.stop()
        raise UserError(str(exc)) from None
    return device, server


def start_server(protocol: str, scenario: str, link: str, seed: int, speed: float = 1.0,
                 port: int = 0, link_path: str | None = None, faults: str | None = None,
                 truth: str | None = None):
    """`probe_nav.simulator.launch.start_server` with the command line's wording: the options
    are checked here first (--speed, --faults), and any LaunchError becomes a UserError."""
    from probe_nav.simulator.launch import LaunchError
    from probe_nav.simulator.launch import start_server as launch

    if speed <= 0:
        raise UserError(f"--speed must be > 0, got {speed}")
    plan = _plan(faults)
    try:
        return launch(protocol, scenario, link, seed, speed, port, link_path, plan, truth)
    except LaunchError as exc:
        raise UserError(str(exc)) from None


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted; the URL is the first line of standard output."""
    if args.truth:
        from probe_nav.files import open_private

        check_output_path(args.truth, "--truth", OUTPUT_SUFFIXES, args.force)
        open_private(args.truth, "w").close()  # made 0600 here; the server writes into it
    server = start_server(args.protocol, args.scenario, args.link, args.seed, args.speed,
                          args.port, args.link_path, args.faults, args.truth)
    print(server.url, flush=True)

    def stop() -> None:
        server.stop()
        if server.truth_writer is not None:
            server.truth_writer.close()
        sys.stdout.flush()
        if server.dropped_bytes:  # the host lost data the device sent: say so, it explains gaps
            log.warning("sim serve: %d bytes dropped because the host did not read them in time",
                        server.dropped_bytes)

    _serve_until_interrupted(stop)
    return 0


def run_poses(args: argparse.Namespace) -> int:
    """Serve the scenario's probe path over OpenIGTLink until interrupted; the port is the first
    line of standard output."""
    from probe_nav.simulator.engine import Simulation
    from probe_nav.simulator.pose_server import PoseServer, scenario_pose_at

    if len(args.device_name.encode("utf-8")) > 20 or not args.device_name.isascii():
        raise UserError("--device-name must be at most 20 ASCII characters")
    sim = Simulation(_load(args.scenario), args.seed)
    try:
        server = PoseServer(scenario_pose_at(sim), port=args.port, rate_hz=args.rate_hz,
                            noise_mm=args.noise_mm, noise_deg=args.noise_deg,
                            latency_s=args.latency_s, seed=args.seed,
                            device_name=args.device_name)
    except OSError as exc:
        raise UserError(f"cannot serve on port {args.port}: {exc.strerror or exc}") from None
    server.start()
    print(server.port, flush=True)
    _serve_until_interrupted(server.stop)
    return 0


def run_run(args: argparse.Namespace) -> int:
    """Play the scenario for --duration seconds without a link and write every frame, with the
    probe's true mid-frame pose (TruthWriter: the frame CSV's pose columns)."""
    from probe_nav.files import AnonymousFile, OutputExists
    from probe_nav.io.frames_csv import END_COMPLETE, end_line
    from probe_nav.simulator.engine import Simulation
    from probe_nav.simulator.truth import TruthWriter

    if not 0 < args.duration <= MAX_RUN_S:
        raise UserError(f"--duration must be > 0 and at most {MAX_RUN_S:g} s, "
                        f"got {args.duration}")
    plan = _plan(args.faults)
    scenario = _load(args.scenario)
    sim = Simulation(scenario, args.seed)
    sim.faults = plan
    out = check_output_path(args.out, "--out", OUTPUT_SUFFIXES, args.force) if args.out else None
    temp = None if out is None else AnonymousFile(out.parent, out.name)  # named when complete
    stream = sys.stdout if temp is None else os.fdopen(temp.fd, "w", encoding="utf-8",
                                                       newline="", closefd=False)
    jsonl = out is not None and out.suffix.lower() == ".jsonl"
    writer = TruthWriter(stream, len(scenario.windows), jsonl=jsonl)
    try:
        seq = 0
        while sim.t_s + scenario.frame_period_s <= args.duration + 1e-9:
            writer(sim.step(), {"frame_seq": seq, "sent": True})
            seq += 1
        writer.close()
        if not jsonl:  # the CSV replays as frames: it ends like a complete recording
            stream.write(end_line(END_COMPLETE, writer.lines))
        stream.flush()
        if temp is not None and out is not None:
            os.fsync(temp.fd)
            temp.link(out, overwrite=args.force)
    except OutputExists:
        raise UserError(f"--out {out} exists; add --force to replace it") from None
    finally:
        writer.close()
        if temp is not None:
            stream.close()
            temp.discard()  # closes; removes nothing once linked
    return 0


def _hours(text: str) -> list[float]:
    """--times-h: comma-separated finite hours."""
    try:
        hours = [float(part) for part in text.split(",")]
    except ValueError:
        raise UserError(f"--times-h must be numbers of hours separated by commas, "
                        f"got {text!r}") from None
    return hours


def run_retention(args: argparse.Namespace) -> int:
    """Print a scenario's retention series (a table, or JSON with --json) and its truth."""
    import json

    from probe_nav.simulator.retention import measure_series

    scenario = _load(args.scenario)
    try:
        series = measure_series(scenario, _hours(args.times_h), args.count_s, args.seed,
                                args.background_s, args.window)
    except ValueError as exc:
        raise UserError(f"sim retention: {exc}") from None
    data = series.as_dict()
    if args.json:
        print(json.dumps(data, indent=1))
        return 0
    truth = data["truth"]
    print(f"{series.scenario}: {series.nuclide}, window {series.window}, "
          f"{truth['administered_mbq']:g} MBq administered")
    print("t_h      counts   live_s  rate_cps  bg_cps  true_retained  true_cps")
    for i, t_h in enumerate(data["times_h"]):
        print(f"{t_h:<7g} {data['counts'][i]:>8d} {data['live_s'][i]:8.2f} "
              f"{data['counts'][i] / data['live_s'][i]:9.2f} {data['background_cps'][i]:7.2f} "
              f"{truth['retained_fraction'][i]:14.4f} {truth['expected_cps'][i]:9.2f}")
    parts = ", ".join(f"{c['fraction']:.3g} x T_eff {c['effective_half_life_h']:.3g} h"
                      for c in truth["components"])
    print(f"truth: {parts}; TIAC {truth['tiac_h']:.4g} h (equivalent T_eff "
          f"{truth['t_eff_h']:.4g} h)")
    return 0


def _serve_until_interrupted(stop: Callable[[], None]) -> None:
    """Block until Ctrl-C or SIGTERM (KeyboardInterrupt here, see cli.main), then stop()."""
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop()
