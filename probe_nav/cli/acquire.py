"""Acquiring frames from a device (or the simulator on a pty): the step `record`, the QC and the
calibration commands share.

`acquire()` hands every frame to an optional sink as it arrives (`record` streams them to disk)
and keeps them in memory only when asked (QC and calibration analyse them afterwards); a stop
check, polled between device reads, ends it early (Ctrl-C, SIGTERM, a full disk).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from probe_nav.drivers.frames import CountFrame, DeviceInfo
from probe_nav.errors import RunFailure, UserError

SUFFIXES = (".csv", ".n42")
_SPECTRUM_WAIT_S = 2.0  # how long to wait for the first frame with a spectrum after asking
_HOST_GRACE_S = 10.0  # host seconds beyond the expected duration before the device is given up

# (frame, the device's info so far, wall-clock start of the first frame) -> None
FrameSink = Callable[[CountFrame, DeviceInfo | None, datetime], None]


@dataclass
class Acquisition:
    """Frames recorded from one device, who it was, and when (wall clock) the first frame began.

    `frames` holds the frames only when they were kept; `n_frames`, `recorded_s` and `counts`
    always count them. `stopped` says why the acquisition ended early (None: it ran its
    duration)."""

    frames: list[CountFrame]
    info: DeviceInfo | None
    start_time: datetime
    url: str
    problems: list[str]
    battery_pct: int | None = None  # the last battery level the device reported, if any
    n_frames: int = 0
    recorded_s: float = 0.0
    counts: int = 0
    stopped: str | None = None


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
            scenario_override: str | None = None, *, sink: FrameSink | None = None,
            stop: Callable[[], str | None] | None = None,
            keep_frames: bool = True) -> Acquisition:
    """Record `duration_s` seconds of device time from --device or --sim (UserError if unusable).

    With `spectrum`, a ProbeLink device is asked for spectra and recording starts at the first
    frame that carries one (or without spectra if none comes within 2 s, noted in `problems`).
    Every frame goes to `sink` as it arrives; `stop()` returning a reason ends the acquisition
    early (it is polled at least every 0.1 s of host time).
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
        return _Collector(device, url, spectrum, sink, stop, keep_frames).run(duration_s, speed)
    finally:
        device.close()
        if server is not None:
            server.stop()


class _Collector:
    """The acquisition loop of one device (see acquire)."""

    def __init__(self, device, url: str, spectrum: bool, sink: FrameSink | None,
                 stop: Callable[[], str | None] | None, keep_frames: bool) -> None:
        self.device, self.url, self.sink, self.stop = device, url, sink, stop
        self.want_spectrum = spectrum and device.protocol == "probelink"
        self.keep_frames = keep_frames
        self.acq = Acquisition([], None, datetime.now(UTC), url, [])
        self.started = False
        self.asked_at: float | None = None

    def run(self, duration_s: float, speed: float) -> Acquisition:
        acq, device = self.acq, self.device
        deadline = time.monotonic() + duration_s / speed + _HOST_GRACE_S
        while acq.recorded_s < duration_s - 1e-9:
            reason = self.stop() if self.stop is not None else None
            if reason:
                acq.stopped = reason
                break
            now = time.monotonic()
            if now > deadline:
                acq.stopped = f"device lost: link {device.link_state}"
                acq.problems.append(f"stopped at the host time limit with {acq.recorded_s:.3f} "
                                    f"s of {duration_s} s recorded (link {device.link_state})")
                break
            if self.want_spectrum and self.asked_at is None and device.info is not None:
                self.asked_at = now
                _ask_for_spectra(device, acq.problems)
            self._take(device.poll(timeout_s=0.1), duration_s, speed)
        if not self.started and acq.stopped is None:
            raise RunFailure(f"no frames from {self.url} ({device.link_state}); is the device "
                             "streaming?")
        stats = device.stats
        if stats.dropped_frames or stats.bad_frames:
            acq.problems.append(f"{stats.dropped_frames} frames dropped, {stats.bad_frames} bad "
                                "frames")
        acq.info = device.info if device.info is not None else acq.info
        if acq.battery_pct is None and device.status is not None:
            acq.battery_pct = device.status.battery_pct
        return acq

    def _take(self, events, duration_s: float, speed: float) -> None:
        from probe_nav.drivers.device import FrameEvent, StatusEvent

        acq = self.acq
        for event in events:
            if isinstance(event, StatusEvent) and event.status.battery_pct is not None:
                acq.battery_pct = event.status.battery_pct
            if not isinstance(event, FrameEvent):
                continue
            frame = event.frame
            if self.want_spectrum and frame.spectrum is None and not self.started:
                waited = (self.asked_at is not None
                          and time.monotonic() - self.asked_at > _SPECTRUM_WAIT_S)
                if not waited:
                    continue
                acq.problems.append("the device sent no spectra; recording counts only")
                self.want_spectrum = False
            if not self.started:
                self.started = True
                acq.start_time = datetime.now(UTC) - timedelta(seconds=frame.real_s / speed)
            acq.info = self.device.info
            if self.sink is not None:
                self.sink(frame, acq.info, acq.start_time)
            if self.keep_frames:
                acq.frames.append(frame)
            acq.n_frames += 1
            acq.counts += frame.total_window0
            acq.recorded_s += frame.real_s
            if acq.recorded_s >= duration_s - 1e-9:
                break
            if self.stop is not None and self.stop():
                break  # the loop above says why


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
