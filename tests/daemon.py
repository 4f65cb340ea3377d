"""Start a test daemon (a private Orthanc, PulseAudio, ...) as a child process and wait, bounded,
until it answers: the one start-and-poll loop of tests/pacs.py and tests/audio/pulse_server.py.
The daemon's output goes to a log file, whose last lines name what went wrong when it exits or
does not answer in time."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

LOG_TAIL_LINES = 5


class DaemonStartError(RuntimeError):
    """A daemon exited or did not answer in time; the message ends with its log's tail."""


def log_tail(log_path: Path, lines: int = LOG_TAIL_LINES) -> str:
    """The last `lines` non-empty lines of a log, joined by ' | ' (one line for a message)."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return "no log"
    return " | ".join([line for line in text.strip().splitlines() if line.strip()][-lines:]) \
        or "no output"


def stop_process(proc: subprocess.Popen[bytes] | None, timeout_s: float) -> None:
    """Stop `proc` if it still runs: SIGTERM, then SIGKILL after `timeout_s`."""
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout_s)


def start_and_wait(command: Sequence[str], *, env: dict[str, str], log_path: Path,
                   answers: Callable[[], bool], timeout_s: float, poll_s: float, name: str,
                   cwd: Path | None = None, stop_timeout_s: float = 10.0,
                   ) -> subprocess.Popen[bytes]:
    """Start `command` (stdout and stderr into log_path) and poll `answers()` every poll_s until
    it is true: the running process. If the process exits first, or `answers()` is still false
    after timeout_s (a bound, not an expectation), it is stopped and DaemonStartError raised,
    naming `name`, what happened and the log's tail."""
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(list(command), env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=log)
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            what = f"{name} exited with status {proc.returncode}"
            break
        if answers():
            return proc
        if time.monotonic() > deadline:
            what = f"{name} did not answer within {timeout_s:g} s"
            break
        time.sleep(poll_s)
    stop_process(proc, stop_timeout_s)
    raise DaemonStartError(f"{what}; its log: {log_tail(log_path)}")
