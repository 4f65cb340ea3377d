"""A private Xvfb (a real X server) for tests that need a real display: the console on xcb, the
3D navigation scene on OpenGL. Import `x_display` into a test module to use it as a fixture."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="module")
def x_display() -> Iterator[str]:
    """A private Xvfb on a free display number (e.g. ":3"), stopped afterwards."""
    if shutil.which("Xvfb") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but no Xvfb (Debian package xvfb)")
        pytest.skip("no Xvfb (Debian package xvfb)")
    read_fd, write_fd = os.pipe()
    proc = subprocess.Popen(["Xvfb", "-displayfd", str(write_fd), "-screen", "0",
                             "1600x900x24", "-nolisten", "tcp"], pass_fds=(write_fd,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_fd)
    with os.fdopen(read_fd) as f:
        number = f.readline().strip()  # written once the server accepts clients
    if not number:
        proc.kill()
        pytest.fail("Xvfb did not start")
    try:
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(10)
