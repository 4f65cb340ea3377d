"""`probe-nav monitor`: a live readout of a device (or the in-process simulator) in the terminal,
with `--audio` the probe's sound too (pitch, clicks or squelch; alarms).

One path, as in the console: device events -> LiveSession (processing core with the device's
dead-time model, or the one given by --dead-time-us/--counter) -> snapshot -> the printed line
(probe_nav.monitor) and the sound (probe_nav.audio.feeder)."""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from typing import Any

from probe_nav.cli.background_args import add_background_arguments, background_config
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
    p.add_argument("--audio", action="store_true",
                   help="play the probe's sound and alarms (docs/audio.md)")
    p.add_argument("--audio-mode", choices=("pitch", "clicks", "squelch"), default="pitch",
                   help="with --audio: continuous pitch (default), Geiger clicks, or pitch only "
                        "while the rate is significant")
    p.add_argument("--volume", type=float, default=0.8, metavar="V",
                   help="with --audio: volume 0..1 (default 0.8)")
    p.add_argument("--audio-device", metavar="NAME",
                   help="with --audio: output device by description (default: the system's)")
    add_counter_arguments(p)
    add_background_arguments(p)
    p.set_defaults(func=run)


def add_counter_arguments(p: argparse.ArgumentParser) -> None:
    """--dead-time-us and --counter: the user's counter, which wins over the device's."""
    p.add_argument("--dead-time-us", type=float, default=None, metavar="TAU",
                   help="counter dead time in us for the over-range rules (default: the "
                        "device's, from drivers/counters.py or the device itself)")
    p.add_argument("--counter", choices=("nonparalysable", "paralysable"), default=None,
                   help="dead-time model, with --dead-time-us (default nonparalysable)")


def counter_override(args: argparse.Namespace):
    """The CounterSpec the user stated with --dead-time-us/--counter, or None; UserError for a
    bad value."""
    from probe_nav.drivers.counters import user_counter

    tau_us = getattr(args, "dead_time_us", None)
    model = getattr(args, "counter", None)
    if tau_us is None:
        if model is not None:
            raise UserError("--counter needs --dead-time-us (the dead time of that counter)")
        return None
    if not (math.isfinite(tau_us) and 0.0 < tau_us <= 1e6):
        raise UserError(f"--dead-time-us must be a dead time in us, > 0 and <= 1e6, got {tau_us!r}")
    return user_counter(model or "nonparalysable", tau_us)


def _check_args(args: argparse.Namespace) -> None:
    from probe_nav.core.rate import make_meter

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
    if not 0.0 <= args.volume <= 1.0:
        raise UserError(f"--volume must be between 0 and 1, got {args.volume}")
    counter_override(args)
    if args.background_sd_cps and args.background_cps is None:
        raise UserError("--background-sd-cps needs --background-cps")


def run(args: argparse.Namespace) -> int:
    """Open the device, then print updates until --duration or Ctrl-C."""
    from probe_nav.core.pipeline import PipelineConfig
    from probe_nav.live import LiveSession

    _check_args(args)
    counter = counter_override(args)
    audio = _start_audio(args) if args.audio else None  # before the device: a bad name stops here
    from probe_nav.cli.sim import open_probe

    try:
        device, server = open_probe(args.protocol, args.device, args.sim, args.seed,
                                    baud=args.baud)
    except UserError:
        if audio is not None:
            audio.start.stop()
        raise
    session = LiveSession(device, PipelineConfig(meter=args.meter, **background_config(args)),
                          counter=counter)
    printer = _Printer(args)
    try:
        if audio is None:
            _loop_plain(args, session, printer)
        else:
            _loop_with_audio(args, session, printer, audio)
    except KeyboardInterrupt:
        pass
    finally:
        if audio is not None:
            audio.start.stop()
        session.close()
        if server is not None:
            server.stop()
        printer.close()
    return 0


class _Printer:
    """Writes one update as JSON, a refreshed terminal line, or a plain line."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.json = args.json
        self.tty = sys.stdout.isatty() and not args.json

    def show(self, snap: dict[str, Any]) -> None:
        from probe_nav.monitor import format_line

        if self.json:
            print(json.dumps(snap), flush=True)
        elif self.tty:
            print("\r" + format_line(snap), end="\033[K", flush=True)
        else:
            print(format_line(snap), flush=True)

    def close(self) -> None:
        if self.tty:
            print()


PLAIN_POLL_S = 0.02  # without sound the session is polled this often between updates


def _loop_plain(args, session, printer: _Printer) -> None:
    """Without sound: poll the session often, print every --interval."""
    from probe_nav.monitor import monitor_update

    start = time.monotonic()
    next_update = start + args.interval
    while args.duration is None or time.monotonic() - start < args.duration:
        snap = session.poll()
        now = time.monotonic()
        if now < next_update:
            time.sleep(min(PLAIN_POLL_S, next_update - now))
            continue
        next_update += args.interval * max(1, int((now - next_update) / args.interval) + 1)
        printer.show(monitor_update(snap, now - start))


class _Audio:
    """The sound chain of the monitor: the shared start-up (synthesiser and output) and its
    feeder."""

    def __init__(self, start) -> None:
        from probe_nav.audio.feeder import FeedbackFeeder

        self.start = start
        self.feedback = start.feedback
        self.feeder = FeedbackFeeder(start.feedback)


def _start_audio(args: argparse.Namespace) -> _Audio | None:
    """The console's audio start-up (probe_nav.audio.qt_output.start_audio), silent until data
    comes. A device named but missing is a UserError; no sound at all is one logged line and the
    monitor runs on (None: not even Qt can start, so it runs as without --audio)."""
    # Qt's notes on loading its multimedia back-ends are not the user's business, and the
    # terminal monitor never opens a window: no X display is needed (nor may a dead one abort).
    os.environ.setdefault("QT_LOGGING_RULES",
                          "qt.multimedia.symbolsresolver=false;qt.multimedia.ffmpeg=false")
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from probe_nav.audio import AudioSettings
    from probe_nav.audio.nosound import log_no_sound

    try:
        from probe_nav.audio.qt_output import list_output_devices, start_audio
    except ImportError as exc:  # Qt's core libraries cannot be loaded
        log_no_sound(f"the sound output cannot be loaded ({exc})")
        return None
    if args.audio_device is not None:
        try:
            names = list_output_devices()
        except (ImportError, RuntimeError):
            names = []  # start_audio says why there is no sound
        if names and args.audio_device.casefold() not in {n.casefold() for n in names}:
            raise UserError(f"--audio-device: no output named {args.audio_device!r} "
                            f"(available: {', '.join(repr(n) for n in names)})")
    start = start_audio(AudioSettings(mode=args.audio_mode, volume=args.volume),
                        device=args.audio_device, seed=args.seed)
    return _Audio(start) if start.qt_running else None


POLL_MS = 5  # the Qt loop drains the device queue this often (sound follows frames this fast)


def _loop_with_audio(args, session, printer: _Printer, audio: _Audio) -> None:
    """With sound: a Qt event loop (the audio sink pulls samples from it); a timer polls the
    session every POLL_MS and feeds what it processed to the sound."""
    from PySide6.QtCore import QTimer

    from probe_nav.monitor import monitor_update
    from probe_nav.qt_app import ensure_qt_app

    app = ensure_qt_app(headless=True)
    start = time.monotonic()
    next_update = [start + args.interval]

    def tick() -> None:
        snap = session.poll()
        audio.feeder.feed(snap)
        now = time.monotonic()
        if args.duration is not None and now - start >= args.duration:
            app.quit()
            return
        if now >= next_update[0]:
            n_late = int((now - next_update[0]) / args.interval) + 1
            next_update[0] += args.interval * max(1, n_late)
            printer.show(monitor_update(snap, now - start) | _audio_fields(audio))

    def stop(signum: int, frame: object) -> None:
        app.quit()

    timer = QTimer()
    timer.setInterval(POLL_MS)
    timer.timeout.connect(tick)
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        timer.start()
        app.exec()
    finally:
        timer.stop()
        for s, handler in old.items():
            signal.signal(s, handler)


def _audio_fields(audio: _Audio) -> dict[str, Any]:
    """What the sound is doing, for the monitor's output."""
    tone = audio.feedback.tone_target_hz
    return {
        "audio": audio.start.status_text,
        "alarm": audio.feedback.active_alarm,
        "tone_hz": None if tone is None else round(tone, 1),
        "audio_underruns": audio.start.underruns,  # gaps the listener heard (docs/audio.md)
    }
