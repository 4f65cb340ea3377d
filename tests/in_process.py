"""Run `probe-nav ARGS` inside the test process: argument and input errors need no new
interpreter (a second or more each on a loaded machine). Real-process runs stay for what needs
one (tests/e2e/test_cli_errors.py keeps a smoke test of the console script and `python -m`)."""

from __future__ import annotations

import contextlib
import io
import logging
import signal
import subprocess
import warnings

from probe_nav.cli.main import main
from probe_nav.logs import reset_logging


def run_main(*args: str) -> subprocess.CompletedProcess[str]:
    """`probe_nav.cli.main.main(args)` with its stdout, stderr and exit status, shaped like
    `subprocess.run(..., capture_output=True, text=True)` so assertions read the same.

    argparse ends through `parser.exit` (SystemExit(2); --version: SystemExit(0)): caught and
    turned into the status. Warnings raised meanwhile are printed into stderr as the interpreter
    would (always, not once per place), so "one line on stderr" still fails on a stray warning.
    Logging, the SIGTERM and SIGINT handlers and the root logger's level that main() sets are put
    back.
    """
    out, err = io.StringIO(), io.StringIO()
    sigterm, sigint = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    level = logging.getLogger().level
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                status = main(list(args))
            except SystemExit as exc:
                status = _exit_status(exc.code, err)
            for w in caught:
                err.write(warnings.formatwarning(w.message, w.category, w.filename, w.lineno))
    finally:
        signal.signal(signal.SIGTERM, sigterm)
        signal.signal(signal.SIGINT, sigint)
        reset_logging()
        logging.getLogger().setLevel(level)
    return subprocess.CompletedProcess(["probe-nav", *args], status, out.getvalue(),
                                       err.getvalue())


def _exit_status(code: object, err: io.StringIO) -> int:
    """The status the interpreter would exit with for SystemExit(code)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    err.write(f"{code}\n")  # SystemExit("text"): printed, status 1
    return 1
