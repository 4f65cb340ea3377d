"""`probe-nav record`: frames from a device (or the simulator on a pty) to a frame CSV or N42 file.

`acquire()` is the shared acquisition step: the QC and calibration commands use it too.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from probe_nav.drivers.frames import CountFrame, DeviceInfo
from probe_nav.errors import RunFailure, UserError

SUFFIXES = (".csv", ".n42")
_SPECTRUM_WAIT_S = 2.0  # how long to wait for the first frame with a spectrum after asking


@dataclass
class Acquisition:
    """Frames recorded from one device, who it was, and when (wall clock) the first frame began."""

    frames: list[CountFrame]
    info: DeviceInfo | None
    start_time: datetime
    url: str
    problems: list[str]
    battery_pct: int | None = None  # the last battery level the device reported, if any


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `record` subcommand."""
    p = sub.add_parser("record", help="record frames to a frame CSV (.csv) or N42 (.n42) file")
    add_source_arguments(p)
    p.add_argument("--duration", type=float, required=True, metavar="S",
                   help="seconds of device time to record")
    p.add_argument("--out", required=True, metavar="FILE", help="output: FILE.csv or FILE.n42")
    p.add_argument("--interval", type=float, metavar="S",
                   help="N42: one RadMeasurement per S seconds (default: one per frame)")
    p.add_argument("--no-spectrum", action="store_true",
                   help="do not ask a ProbeLink device for spectra (N42 export asks by default)")
    p.set_defaults(func=run)


def add_source_arguments(p: argparse.ArgumentParser, required: bool = True) -> None:
    """--device URL | --sim SCENARIO, with --protocol, --baud, --seed and --speed."""
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument("--device", metavar="URL", help="serial device path or pyserial URL")
    src.add_argument("--sim", metavar="SCENARIO",
                     help="record the built-in simulator served on a pty")
    p.add_argument("--protocol", default="probelink",
                   help="device protocol (default probelink; 'auto' asks the device)")
    p.add_argument("--baud", type=int, metavar="N", help="serial baud rate override")
    p.add_argument("--seed", type=int, default=0, help="simulator seed (with --sim)")
    p.add_argument("--speed", type=float, default=1.0, metavar="X",
                   help="simulator device seconds per host second (with --sim; default 1)")


def output_suffix(path: str) -> str:
    """The lower-case suffix of an output file; UserError unless it is .csv or .n42."""
    suffix = Path(path).suffix.lower()
    if suffix not in SUFFIXES:
        raise UserError(f"--out {path}: unknown file type {suffix or '(none)'!r}; "
                        "use .csv (frame CSV) or .n42 (ANSI N42.42 XML)")
    return suffix


def acquire(args: argparse.Namespace, duration_s: float, spectrum: bool = False,
            scenario_override: str | None = None) -> Acquisition:
    """Record `duration_s` seconds of device time from --device or --sim (UserError if unusable).

    With `spectrum`, a ProbeLink device is asked for spectra and recording starts at the first
    frame that carries one (or without spectra if none comes within 2 s, noted in `problems`).
    """

    if not duration_s > 0:
        raise UserError(f"--duration must be > 0, got {duration_s}")
    if args.baud is not None and args.baud <= 0:
        raise UserError(f"--baud must be > 0, got {args.baud}")
    from probe_nav.cli.sim import open_probe

    url = args.device
    scenario = scenario_override or getattr(args, "sim", None)
    device, server = open_probe(args.protocol, url, scenario, args.seed, args.speed, args.baud)
    if url is None:
        url = server.url
    speed = args.speed if server is not None else 1.0
    try:
        return _collect(device, url, duration_s, spectrum, speed)
    finally:
        device.close()
        if server is not None:
            server.stop()


def _collect(device, url: str, duration_s: float, spectrum: bool, speed: float) -> Acquisition:
    from probe_nav.drivers.device import FrameEvent, InfoEvent, StatusEvent

    frames: list[CountFrame] = []
    problems: list[str] = []
    host_start = time.monotonic()
    deadline = host_start + duration_s / speed + 10.0
    start_time: datetime | None = None
    want_spectrum = spectrum and device.protocol == "probelink"
    asked_at: float | None = None
    recorded_s = 0.0
    battery_pct: int | None = None
    while recorded_s < duration_s - 1e-9:
        now = time.monotonic()
        if now > deadline:
            problems.append(f"stopped at the host time limit with {recorded_s:.3f} s of "
                            f"{duration_s} s recorded (link {device.link_state})")
            break
        if want_spectrum and asked_at is None and device.info is not None:
            asked_at = now
            _ask_for_spectra(device, problems)
        for event in device.poll(timeout_s=0.1):
            if isinstance(event, StatusEvent) and event.status.battery_pct is not None:
                battery_pct = event.status.battery_pct
            if isinstance(event, InfoEvent) or not isinstance(event, FrameEvent):
                continue
            frame = event.frame
            if want_spectrum and frame.spectrum is None and not frames:
                waited = asked_at is not None and time.monotonic() - asked_at > _SPECTRUM_WAIT_S
                if not waited:
                    continue
                problems.append("the device sent no spectra; recording counts only")
                want_spectrum = False
            if start_time is None:
                arrival = datetime.now(UTC)
                start_time = arrival - timedelta(seconds=frame.real_s / speed)
            frames.append(frame)
            recorded_s += frame.real_s
            if recorded_s >= duration_s - 1e-9:
                break
    if not frames:
        raise RunFailure(f"no frames from {url} ({device.link_state}); is the device streaming?")
    stats = device.stats
    if stats.dropped_frames or stats.bad_frames:
        problems.append(f"{stats.dropped_frames} frames dropped, {stats.bad_frames} bad frames")
    assert start_time is not None
    if battery_pct is None and device.status is not None:
        battery_pct = device.status.battery_pct
    return Acquisition(frames, device.info, start_time, url, problems, battery_pct)


def _ask_for_spectra(device, problems: list[str]) -> None:
    from probe_nav.drivers.errors import DriverError
    from probe_nav.drivers.probelink.messages import AckResult, Cmd

    try:
        ack = device.request(Cmd.SET_SPECTRUM, 1)
    except DriverError as exc:
        problems.append(f"asking for spectra failed: {exc}")
        return
    if ack.result != AckResult.OK:
        problems.append(f"the device refused spectra ({AckResult(ack.result).name})")


def write_acquisition(acq: Acquisition, out: str, interval_s: float | None = None,
                      source: str = "") -> None:
    """Write an acquisition to `out` as frame CSV or N42 by its suffix."""
    from probe_nav.io.frames_csv import write_frames_csv
    from probe_nav.io.n42 import recording_from_frames, write_n42

    suffix = output_suffix(out)
    info = acq.info
    notes = [f"recorded by probe-nav from {source or acq.url}",
             f"start {acq.start_time.isoformat()}"]
    if info is not None:
        notes.append(f"device {info.model} serial {info.serial or '-'} firmware "
                     f"{info.firmware or '-'} detector {info.detector}")
    notes += acq.problems
    try:
        if suffix == ".csv":
            n_windows = max(len(f.counts) for f in acq.frames)
            write_frames_csv(out, acq.frames, n_windows, notes)
        else:
            write_n42(out, recording_from_frames(acq.frames, acq.start_time, info, interval_s,
                                                 notes))
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Record, write the file, and print one summary line on stderr."""
    output_suffix(args.out)
    if args.interval is not None and not args.interval > 0:
        raise UserError(f"--interval must be > 0, got {args.interval}")
    if args.speed <= 0:
        raise UserError(f"--speed must be > 0, got {args.speed}")
    if not Path(args.out).resolve().parent.is_dir():
        raise UserError(f"--out {args.out}: folder does not exist")
    want_spectrum = args.out.lower().endswith(".n42") and not args.no_spectrum
    acq = acquire(args, args.duration, spectrum=want_spectrum)
    source = args.device or f"simulator scenario {args.sim} (seed {args.seed})"
    write_acquisition(acq, args.out, args.interval, source)
    counts = sum(f.total_window0 for f in acq.frames)
    print(f"recorded {len(acq.frames)} frames, {sum(f.real_s for f in acq.frames):.3f} s, "
          f"{counts} counts -> {args.out}", file=sys.stderr)
    for problem in acq.problems:
        print(f"probe-nav: warning: {problem}", file=sys.stderr)
    return 0
