"""Shared fixtures: run the CLI as a real process, start simulated devices."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def cli(*args: str) -> list[str]:
    """The argv that runs `probe-nav ARGS` with this interpreter."""
    return [sys.executable, "-m", "probe_nav", *args]


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run `probe-nav ARGS` to completion and capture its output."""
    return subprocess.run(cli(*args), capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, env=os.environ | {"PYTHONUNBUFFERED": "1"})


class Served:
    """A `probe-nav sim serve` process and the URL it printed."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            cli("sim", "serve", *args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, cwd=ROOT,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url:
            raise RuntimeError(f"sim serve printed no URL: {self.proc.stderr.read()}")

    def stop(self) -> int:
        """SIGTERM the server; returns its exit status."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(10)
        finally:
            for stream in (self.proc.stdout, self.proc.stderr):
                if stream is not None:
                    stream.close()


@pytest.fixture
def serve() -> Iterator[type[Served]]:
    """Start simulated devices; every one is stopped at the end of the test."""
    started: list[Served] = []

    class Tracked(Served):
        def __init__(self, *args: str) -> None:
            super().__init__(*args)
            started.append(self)

    yield Tracked
    for server in started:
        server.stop()
