"""Entry point of `probe-nav`: one parser from the subcommand modules; errors -> exit codes."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence

from probe_nav import __version__
from probe_nav.errors import RunFailure, UserError


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The full `probe-nav` parser with every subcommand registered."""
    from probe_nav.cli import calibrate, case, demo, gui, monitor, ports, qc, record, replay, sim

    parser = OneLineParser(prog="probe-nav", description=__doc__)
    parser.add_argument("--version", action="version", version=f"probe-nav {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=OneLineParser)
    sub.required = True
    for module in (demo, gui, monitor, sim, ports, replay, record, case, qc, calibrate):
        module.register(sub)
    return parser


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM ends a run as cleanly as Ctrl-C does."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        print(f"probe-nav: error: {exc}", file=sys.stderr)
        return UserError.exit_status
    except RunFailure as exc:
        print(f"probe-nav: failed: {exc}", file=sys.stderr)
        return RunFailure.exit_status
    except KeyboardInterrupt:
        return 0
    except BrokenPipeError:
        # Reader of our stdout went away (e.g. `| head`): not an error of ours.
        sys.stderr.close()
        return 0
