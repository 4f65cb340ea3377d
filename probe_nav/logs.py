"""Logging of a probe-nav process: stderr at WARNING (or --log-level), a rotating file at INFO.

Library code only names its logger (`logging.getLogger(__name__)`) and logs; `configure_logging`
is called once by the program's entry point (`probe_nav.cli.main`), which passes the user data
directory (PROBE_NAV_DATA_DIR overrides) for the log file; a directory that cannot be written costs
one warning on stderr, never the run. This module imports nothing of probe_nav, so every layer
(the record stores among them) can import `REPORTED` from it.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
import sys
from pathlib import Path
from typing import TextIO

LOG_FILE_NAME = "probe-nav.log"
LOG_FILE_MAX_BYTES = 2 * 1024 * 1024  # rotate at 2 MB ...
LOG_FILE_BACKUPS = 3  # ... keeping 3 old files: at most 8 MB of logs
LOG_FILE_MODE = 0o600  # logs name devices and case ids: private like the databases
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
FILE_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"  # processes share it
LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
DEFAULT_LEVEL = logging.WARNING
FILE_LEVEL = logging.INFO

# `extra=REPORTED` marks a record whose news the caller also gives the user itself (an exception
# it raises and the CLI prints, a count it reports): the log file keeps it, stderr does not
# repeat it.
REPORTED = {"reported": True}

_MARK = "_probe_nav_handler"  # attribute on the handlers this module installed


def parse_level(name: str | int) -> int:
    """The logging level for 'debug', 'INFO', ... (or a level number); ValueError otherwise."""
    if isinstance(name, int):
        return name
    try:
        return LEVELS[name.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown log level {name!r} (choose from {', '.join(LEVELS)})") from None


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (tests swap it), skipping REPORTED records.

    The same trick as the standard library's own last-resort handler."""

    def __init__(self, level: int) -> None:
        logging.Handler.__init__(self, level)
        self.addFilter(lambda record: not getattr(record, "reported", False))

    @property
    def stream(self) -> TextIO:
        return sys.stderr


class _LogFile(logging.handlers.RotatingFileHandler):
    """A private rotating log file; a write that fails (disk full...) says so once on stderr and
    then the file is given up, instead of a traceback per record."""

    failed = False

    def _open(self):
        stream = super()._open()
        if os.name == "posix":
            os.chmod(self.baseFilename, LOG_FILE_MODE)
        return stream

    def emit(self, record: logging.LogRecord) -> None:
        if not self.failed:
            super().emit(record)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # a dead file must not fail the exit
            super().close()

    def handleError(self, record: logging.LogRecord) -> None:
        if not self.failed:
            self.failed = True
            error = sys.exc_info()[1]
            print(f"probe-nav: warning: cannot write the log file {self.baseFilename} "
                  f"({error}); logging to stderr only from now on", file=sys.stderr)


def _open_log_file(directory: Path, level: int) -> logging.Handler | None:
    """The rotating file handler in `directory`, or None (after one warning) if impossible."""
    path = directory / LOG_FILE_NAME
    try:
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        handler = _LogFile(path, maxBytes=LOG_FILE_MAX_BYTES, backupCount=LOG_FILE_BACKUPS,
                           encoding="utf-8")
    except OSError as exc:
        logging.getLogger(__name__).warning(
            "cannot write the log file %s (%s); logging to stderr only", path,
            exc.strerror or exc)
        return None
    handler.setLevel(level)
    return handler


def configure_logging(level: str | int = DEFAULT_LEVEL, *,
                      log_dir: Path | None = None) -> Path | None:
    """Send log records to stderr at `level` and, when `log_dir` is given, to the rotating file
    there at INFO (DEBUG if `level` is DEBUG). Returns the log file's path, None when there is none.

    Idempotent: a second call replaces the handlers of the first (no duplicates).
    """
    stderr_level = parse_level(level)
    file_level = min(FILE_LEVEL, stderr_level)
    reset_logging()
    root = logging.getLogger()
    console = _StderrHandler(stderr_level)
    console.setFormatter(logging.Formatter(FORMAT))
    setattr(console, _MARK, True)
    root.addHandler(console)
    root.setLevel(file_level if log_dir is not None else stderr_level)
    if log_dir is None:
        return None
    handler = _open_log_file(Path(log_dir), file_level)
    if handler is None:
        root.setLevel(stderr_level)
        return None
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    setattr(handler, _MARK, True)
    root.addHandler(handler)
    return Path(handler.baseFilename)


def reset_logging() -> None:
    """Remove (and close) the handlers configure_logging installed; other handlers stay."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _MARK, False):
            root.removeHandler(handler)
            handler.close()
