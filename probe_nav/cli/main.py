"""Entry point of `probe-nav`: one parser from the subcommand modules; errors -> exit codes."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from collections.abc import Sequence

from probe_nav import __version__
from probe_nav.errors import RunFailure, UserError
from probe_nav.logs import LEVELS, REPORTED, configure_logging
from probe_nav.storage.paths import user_data_dir

log = logging.getLogger(__name__)


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full `probe-nav` parser with every subcommand registered."""
    from probe_nav.cli import (
        calibrate,
        case,
        db,
        demo,
        dosimetry,
        gui,
        locate,
        monitor,
        ports,
        qc,
        record,
        replay,
        sim,
        track,
    )
    from probe_nav.cli import repair as repair_files

    parser = OneLineParser(prog="probe-nav", description=__doc__)
    parser.add_argument("--version", action="version", version=f"probe-nav {__version__}")
    parser.add_argument("--log-level", type=str.lower, choices=tuple(LEVELS), default="warning",
                        metavar="LEVEL", help="what to log on stderr: debug, info, warning "
                        "(default) or error; the log file in the data directory gets INFO")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for module in (demo, gui, monitor, sim, ports, replay, record, repair_files, case, qc,
                   calibrate, track, locate, dosimetry, db):
        module.register(sub)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (and SIGINT) end a run as cleanly as Ctrl-C does. (The console replaces this with
    handlers that raise nothing, before Qt is imported: probe_nav/gui/stops.py.)"""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    log_file = configure_logging(args.log_level, log_dir=user_data_dir())
    # the command only, not its arguments: they may hold a note's text
    log.info("probe-nav %s: %s", __version__, args.command)
    log.debug("log file: %s", log_file)
    signal.signal(signal.SIGTERM, _interrupt)
    # Ctrl-C is how every command is stopped (a recording kept, exit 130): honoured even when the
    # process was started with SIGINT ignored (a background job of a script inherits that)
    signal.signal(signal.SIGINT, _interrupt)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        log.info("exit %d: %s", UserError.exit_status, exc, extra=REPORTED)
        print(f"probe-nav: error: {exc}", file=sys.stderr)
        return UserError.exit_status
    except RunFailure as exc:
        log.error("exit %d: %s", RunFailure.exit_status, exc, extra=REPORTED)
        print(f"probe-nav: failed: {exc}", file=sys.stderr)
        return RunFailure.exit_status
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # Reader of our stdout went away (e.g. `| head`): not an error of ours.
        sys.stderr.close()
        return 0
    except Exception:
        log.critical("crashed", exc_info=True, extra=REPORTED)  # Python prints the traceback
        raise
