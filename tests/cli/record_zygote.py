"""A zygote for the `record` kill test: imports probe-nav once, then forks one `probe-nav record`
per command, so each starts in milliseconds instead of an interpreter start-up.

Protocol (one line each): stdin `go TRACE ARG...` forks a child that runs
`probe_nav.cli.main.main([ARG...])` with PROBE_NAV_RECORD_TRACE=TRACE ("-": unset) and its stderr
on the zygote's stdout, and the zygote prints `pid P`; the child's trace lines
(`probe-nav-trace P POINT DETAIL`) and messages follow on the same pipe, and `exit P STATUS`
when main returns. `reap P` waits for the (killed or finished) child and prints
`reaped P STATUS` (negative: killed by that signal).
"""

from __future__ import annotations

import os
import sys
import threading
import traceback

from probe_nav.cli import acquire, record, sim  # noqa: F401  (imported before the forks)
from probe_nav.cli.main import build_parser, main
from probe_nav.cli.record import TRACE_ENV
from probe_nav.drivers import registry  # noqa: F401
from probe_nav.io import frames_csv, n42, recording  # noqa: F401
from probe_nav.simulator import launch  # noqa: F401


def _say(text: str) -> None:
    os.write(1, (text + "\n").encode())


def _child(trace: str, args: list[str]) -> None:
    os.dup2(1, 2)
    if trace != "-":
        os.environ[TRACE_ENV] = trace
    try:
        status = main(args)
    except BaseException:
        for line in traceback.format_exc().splitlines():
            _say(f"traceback {os.getpid()} {line}")
        status = 99
    _say(f"exit {os.getpid()} {status}")
    sys.stdout.flush()
    os._exit(status)


def _warm_up() -> None:
    """Serve and read the simulator once, so what it loads lazily (scenarios, emulators, codecs)
    is loaded before the forks; its threads end before any fork."""
    from probe_nav.cli.sim import open_probe
    from probe_nav.drivers.device import FrameEvent

    device, server = open_probe("probelink", None, "sln-static", 0, 20.0)
    try:
        while not any(isinstance(e, FrameEvent) for e in device.poll(timeout_s=0.1)):
            pass
    finally:
        device.close()
        server.stop()
    assert threading.active_count() == 1, threading.enumerate()


def run() -> None:
    build_parser()  # imports every subcommand module
    _warm_up()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "go":
            pid = os.fork()
            if pid == 0:
                _child(words[1], words[2:])
            _say(f"pid {pid}")
        elif words[0] == "reap":
            _, status = os.waitpid(int(words[1]), 0)
            code = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
            _say(f"reaped {words[1]} {code}")


if __name__ == "__main__":
    run()
