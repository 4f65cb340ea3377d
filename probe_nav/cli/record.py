"""`probe-nav record`: frames from a device (or the simulator on a pty) to a frame CSV or N42 file,
streamed to disk as they arrive (docs/frames-csv.md, "Recording").

A .csv recording is written as X.partial.csv - handed to the OS every second of recording time,
fsynced every 2 s - and renamed to X.csv when it ends, with its end line. An .n42 recording
journals its frames (spectra included) to X.partial.csv the same way; when it ends the N42 file
is written in one piece (a temporary file renamed) and the journal removed. Ctrl-C and SIGTERM end
a recording early: what was recorded is kept, with the end line `interrupted (SIGINT)` or
`(SIGTERM)`, and the exit status is 130 or 143. A recording does not start with under 64 MiB free
on its disk (exit 1) and stops under 16 MiB (exit 1, keeping what it wrote). An existing file is
replaced only with --force; an X.partial.csv left by an earlier recording never is.

Test hook: PROBE_NAV_RECORD_TRACE=on prints `probe-nav-trace PID POINT DETAIL` on stderr at each
point of the file's life (ready, opened, flushed, fsynced, ended, publishing, linked, published,
n42-written); PROBE_NAV_RECORD_TRACE=stop:POINT[,POINT...] also stops the process there (SIGSTOP),
so a test can kill it at exactly that point.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from datetime import datetime
from pathlib import Path

from probe_nav.cli.acquire import (
    Acquisition,
    acquire,
    add_source_arguments,
    output_suffix,
)
from probe_nav.drivers.frames import CountFrame, DeviceInfo
from probe_nav.errors import RunFailure, UserError

__all__ = ["Acquisition", "acquire", "add_source_arguments", "output_suffix", "register", "run",
           "write_acquisition"]

TRACE_ENV = "PROBE_NAV_RECORD_TRACE"
EXIT_STATUS = {"SIGINT": 130, "SIGTERM": 143}  # 128 + the signal number, as a shell reports it


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `record` subcommand."""
    p = sub.add_parser("record", help="record frames to a frame CSV (.csv) or N42 (.n42) file")
    add_source_arguments(p)
    p.add_argument("--duration", type=float, required=True, metavar="S",
                   help="seconds of device time to record")
    p.add_argument("--out", required=True, metavar="FILE", help="output: FILE.csv or FILE.n42")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    p.add_argument("--interval", type=float, metavar="S",
                   help="N42: one RadMeasurement per S seconds (default: one per frame)")
    p.add_argument("--no-spectrum", action="store_true",
                   help="do not ask a ProbeLink device for spectra (N42 export asks by default)")
    p.set_defaults(func=run)


def device_notes(info: DeviceInfo | None, start_time: datetime, source: str) -> list[str]:
    """The comment lines (or N42 remarks) that say where and when a recording was made."""
    notes = [f"recorded by probe-nav from {source}", f"start {start_time.isoformat()}"]
    if info is not None:
        notes.append(device_line(info))
    return notes


def device_line(info: DeviceInfo) -> str:
    """Who measured, as one comment line."""
    return (f"device {info.model} serial {info.serial or '-'} firmware {info.firmware or '-'} "
            f"detector {info.detector}")


def write_acquisition(acq: Acquisition, out: str, interval_s: float | None = None,
                      source: str = "", overwrite: bool = False) -> None:
    """Write a whole acquisition to a new file `out` (frame CSV or N42 by its suffix; mode 0600,
    all or nothing); UserError if it exists (unless `overwrite`) or cannot be written."""
    from probe_nav.files import OutputExists
    from probe_nav.io.frames_csv import write_frames_csv
    from probe_nav.io.n42 import recording_from_frames, write_n42

    suffix = output_suffix(out)
    notes = device_notes(acq.info, acq.start_time, source or acq.url) + acq.problems
    try:
        if suffix == ".csv":
            n_windows = max(len(f.counts) for f in acq.frames)
            write_frames_csv(out, acq.frames, n_windows, notes, overwrite=overwrite)
        else:
            write_n42(out, recording_from_frames(acq.frames, acq.start_time, acq.info,
                                                 interval_s, notes), overwrite=overwrite)
    except OutputExists:
        raise UserError(f"{out} exists; add --force to replace it") from None
    except OSError as exc:
        raise UserError(f"cannot write {out}: {exc.strerror or exc}") from None


def _trace_hook():
    """The PROBE_NAV_RECORD_TRACE test hook (see the module docstring), None when unset."""
    spec = os.environ.get(TRACE_ENV, "")
    if not spec:
        return None
    stops = set(spec.removeprefix("stop:").split(",")) if spec.startswith("stop:") else set()

    def trace(point: str, detail: str) -> None:
        os.write(2, f"probe-nav-trace {os.getpid()} {point} {detail}\n".encode())
        if point in stops:
            os.kill(os.getpid(), signal.SIGSTOP)

    return trace


class _StopSignals:
    """While active, SIGINT and SIGTERM only note that the recording is to stop (the first one
    names it); the recording loop polls `received`, so the file is always finished properly."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._old: dict[int, object] = {}

    def _handle(self, signum: int, _frame: object) -> None:
        if self.received is None:
            self.received = signal.Signals(signum).name

    def __enter__(self) -> _StopSignals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: signals untouched
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)  # type: ignore[arg-type]


class _Sink:
    """Streams the acquisition's frames into the RecordingFile; a write that fails (or a disk
    under its margin) is kept in `failure` and stops the acquisition."""

    def __init__(self, recording, source: str, spectrum: bool) -> None:
        self.recording, self.source, self.spectrum = recording, source, spectrum
        self.failure: OSError | None = None
        self.info_noted = False  # the device line is written once the device has said who

    def __call__(self, frame: CountFrame, info: DeviceInfo | None, start: datetime) -> None:
        if self.failure is not None:
            return
        rec = self.recording
        try:
            if not rec.started:
                n_windows = max(len(frame.counts), len(info.windows) if info else 0, 1)
                rec.start(n_windows, device_notes(info, start, self.source), self.spectrum)
                self.info_noted = info is not None
            elif info is not None and not self.info_noted:
                rec.comment(device_line(info))  # comments may come anywhere in a frame CSV
                self.info_noted = True
            rec.write(frame)
        except OSError as exc:
            self.failure = exc


def _open_recording(out: Path, n42: bool, force: bool, trace):
    from probe_nav import files
    from probe_nav.files import OutputExists
    from probe_nav.io.recording import DiskLow, Durability, RecordingFile, partial_path

    partial = partial_path(out)
    durability = Durability(reserve_factor=2.0 if n42 else 0.0)  # room for the N42 at the end
    try:
        files.check_new_output(out, force)  # (an N42's journal has no final name to check)
        return RecordingFile(partial, None if n42 else out, overwrite=force,
                             durability=durability, trace=trace)
    except OutputExists as exc:
        if exc.path == out:
            raise UserError(f"--out {out} exists; add --force to replace it") from None
        raise UserError(f"{exc.path} exists: a recording that was cut short? Read or repair it "
                        f"(`probe-nav repair {exc.path}`) or remove it") from None
    except DiskLow as exc:
        raise RunFailure(f"cannot start recording to {out}: {exc.strerror}") from None
    except OSError as exc:
        raise UserError(f"cannot record to {out}: {exc.strerror or exc}") from None


def run(args: argparse.Namespace) -> int:
    """Record to the file as frames arrive; one summary line on stderr (see the module doc)."""
    suffix = output_suffix(args.out)
    if not args.duration > 0:
        raise UserError(f"--duration must be > 0, got {args.duration}")
    if args.interval is not None and not args.interval > 0:
        raise UserError(f"--interval must be > 0, got {args.interval}")
    if args.speed <= 0:
        raise UserError(f"--speed must be > 0, got {args.speed}")
    out = Path(args.out)
    if not out.resolve().parent.is_dir():
        raise UserError(f"--out {args.out}: folder does not exist")
    n42 = suffix == ".n42"
    trace = _trace_hook()
    with _StopSignals() as signals:
        recording = _open_recording(out, n42, args.force, trace)
        if trace is not None:
            trace("ready", str(out))
        source = args.device or f"simulator scenario {args.sim} (seed {args.seed})"
        sink = _Sink(recording, source, spectrum=n42)
        try:
            acq = acquire(args, args.duration, spectrum=n42 and not args.no_spectrum, sink=sink,
                          stop=lambda: signals.received or (sink.failure and "write failed"),
                          keep_frames=n42)
        except BaseException as exc:
            recording.abort(exc if isinstance(exc, OSError) else f"error: {type(exc).__name__}")
            raise
        return _finish(args, out, recording, sink, acq, signals.received, trace)


def _finish(args, out: Path, recording, sink: _Sink, acq: Acquisition, received: str | None,
            trace) -> int:
    from probe_nav.files import OutputExists
    from probe_nav.io.frames_csv import END_COMPLETE, end_interrupted
    from probe_nav.io.recording import end_reason

    if sink.failure is not None:
        state = end_reason(sink.failure)
    elif acq.stopped is not None:
        state = end_interrupted(received or acq.stopped)
    else:
        state = END_COMPLETE
    if not recording.started:
        print("probe-nav: interrupted: no frame was recorded; nothing written", file=sys.stderr)
        return EXIT_STATUS.get(received or "", 1)
    comments = list(acq.problems)
    if acq.info is not None and not sink.info_noted:
        comments.insert(0, device_line(acq.info))
    try:
        path = recording.finish(state, comments)
    except OutputExists as exc:  # made by another program while recording: never replaced
        path = recording.abort(exc)
        raise RunFailure(f"{exc.path} appeared while recording and was not replaced; kept "
                         f"{recording.frames_written} frames ({recording.written_s:.1f} s) "
                         f"in {path}") from None
    except OSError as exc:
        path = recording.abort(exc)
        state = end_reason(exc)
        sink.failure = sink.failure or exc
    if out.suffix.lower() == ".n42":
        written, why = _write_n42(args, out, recording, acq, state, trace)
        if written is None:  # the journal is the recording: say so, never exit 0
            raise RunFailure(f"cannot write {out} ({why}); kept {recording.frames_written} "
                             f"frames ({recording.written_s:.1f} s) in {path}")
        path = written
    kept = f"kept {recording.frames_written} frames ({recording.written_s:.1f} s) in {path}"
    if sink.failure is not None:
        raise RunFailure(f"{sink.failure.strerror or sink.failure}; recording stopped: {kept}")
    if received is not None and state != END_COMPLETE:
        print(f"probe-nav: interrupted: {kept}", file=sys.stderr)
        return EXIT_STATUS[received]
    if acq.stopped is not None:
        raise RunFailure(f"{acq.stopped}: {kept}")
    print(f"recorded {acq.n_frames} frames, {acq.recorded_s:.3f} s, {acq.counts} counts -> "
          f"{path}", file=sys.stderr)
    for problem in acq.problems:
        print(f"probe-nav: warning: {problem}", file=sys.stderr)
    return EXIT_STATUS.get(received or "", 0)


def _write_n42(args, out: Path, recording, acq: Acquisition, state: str,
               trace) -> tuple[Path | None, str]:
    """The N42 file from the frames kept in memory (the journal has them too); the journal is
    removed once the N42 is safely written. (None, why) - the journal kept - if it cannot be
    written."""
    from probe_nav.files import OutputExists
    from probe_nav.io.n42 import recording_from_frames, write_n42

    source = args.device or f"simulator scenario {args.sim} (seed {args.seed})"
    notes = device_notes(acq.info, acq.start_time, source) + acq.problems
    notes.append(f"end: {state}, {len(acq.frames)} frames")
    try:
        write_n42(out, recording_from_frames(acq.frames, acq.start_time, acq.info,
                                             args.interval, notes), overwrite=args.force)
    except OutputExists:
        return None, "it appeared while recording and was not replaced"
    except OSError as exc:
        return None, str(exc.strerror or exc)
    if trace is not None:
        trace("n42-written", str(out))
    recording.remove()
    return out, ""
