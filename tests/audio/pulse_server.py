"""A private PulseAudio daemon for the audio tests: its own runtime directory, configuration and
socket under a temporary directory, one null sink, no default script; the user's sound server and
home directory are never touched. Each pytest-xdist worker that needs it starts its own (the
session fixture `pulse_sink` in conftest.py), so recordings of different workers cannot mix."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.daemon import DaemonStartError, start_and_wait, stop_process

# The programs the tests run, and the Debian packages that have them (.ci/system-packages).
TOOLS = {"pulseaudio": "pulseaudio", "pactl": "pulseaudio-utils", "parecord": "pulseaudio-utils"}
START_TIMEOUT_S = 30.0  # a bound, not an expectation: the daemon answers in ~0.1 s when idle
POLL_S = 0.1
STOP_TIMEOUT_S = 10.0


def missing_reason() -> str | None:
    """Why the real-sound tests cannot run here (naming the Debian package), or None."""
    missing = sorted({pkg for tool, pkg in TOOLS.items() if shutil.which(tool) is None})
    if missing:
        names = " and ".join(missing)
        plural = "s" if len(missing) > 1 else ""
        return f"Debian package{plural} {names} not installed (see .ci/system-packages)"
    from probe_nav.audio.qt_output import MULTIMEDIA_ERROR

    if MULTIMEDIA_ERROR is not None:
        hint = " (Debian package libpulse0 not installed)" if "libpulse" in MULTIMEDIA_ERROR else ""
        return f"QtMultimedia cannot be loaded: {MULTIMEDIA_ERROR}{hint}"
    return None


class PulseStartError(DaemonStartError):
    """The private daemon did not start or did not answer in time."""


class PrivatePulse:
    """One PulseAudio daemon with a null sink, reachable only through `client_env`."""

    def __init__(self, sink: str, description: str, rate_hz: int) -> None:
        self.sink = sink
        self.description = description
        self.rate_hz = rate_hz
        # mkdtemp: mode 0700 and a short path (a unix socket path must fit in 108 bytes).
        self.dir = Path(tempfile.mkdtemp(prefix="probe-nav-pulse-"))
        self.socket = self.dir / "native"
        self.log_path = self.dir / "daemon.log"
        self.proc: subprocess.Popen[bytes] | None = None
        (self.dir / "client.conf").write_text("autospawn = no\n")

    @property
    def client_env(self) -> dict[str, str]:
        """What a client needs to reach this daemon and only it: explicit server, a client
        configuration and cookie of its own (no file of the user's is read or written), and Qt
        told to use PulseAudio (Qt >= 6.10 may prefer a PipeWire server, ignoring PULSE_SERVER)."""
        return {"PULSE_SERVER": f"unix:{self.socket}",
                "PULSE_CLIENTCONFIG": str(self.dir / "client.conf"),
                "PULSE_COOKIE": str(self.dir / "cookie"),
                "QT_AUDIO_BACKEND": "pulseaudio"}

    def _daemon_env(self) -> dict[str, str]:
        home = self.dir / "home"
        runtime = self.dir / "run"
        for d in (home, runtime):
            d.mkdir(mode=0o700, exist_ok=True)
        # A minimal environment: no D-Bus session, no X display, nothing of the user's.
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C",
                "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
                "XDG_RUNTIME_DIR": str(runtime), "PULSE_RUNTIME_PATH": str(runtime / "pulse"),
                "PULSE_STATE_PATH": str(self.dir / "state")}

    def _command(self) -> list[str]:
        cmd = ["pulseaudio", "-n", "--daemonize=no", "--use-pid-file=no", "--system=no",
               "--exit-idle-time=-1", "--disallow-exit", "--high-priority=no", "--realtime=no",
               "--log-target=stderr", "--log-level=notice",
               # the sink first: once the socket answers, the sink exists
               "-L", f"module-null-sink sink_name={self.sink} rate={self.rate_hz} "
                     f"sink_properties=device.description={self.description}",
               "-L", f"module-native-protocol-unix socket={self.socket} auth-anonymous=1"]
        setpriv = shutil.which("setpriv")
        if setpriv is not None:  # the daemon dies with this process, even if it is killed
            cmd = [setpriv, "--pdeathsig", "TERM", *cmd]
        return cmd

    def answers(self) -> bool:
        """True when `pactl info` gets an answer from this daemon."""
        run = subprocess.run(["pactl", "info"], env=os.environ | self.client_env,
                             capture_output=True, timeout=10)
        return run.returncode == 0

    def start(self) -> None:
        """Start the daemon and wait (bounded) until it answers; PulseStartError otherwise."""
        try:
            self.proc = start_and_wait(self._command(), env=self._daemon_env(),
                                       log_path=self.log_path, answers=self.answers,
                                       timeout_s=START_TIMEOUT_S, poll_s=POLL_S,
                                       name="pulseaudio (`pactl info`)",
                                       stop_timeout_s=STOP_TIMEOUT_S)
        except DaemonStartError as exc:
            self.stop()
            raise PulseStartError(f"private PulseAudio daemon: {exc}") from None

    def stop(self) -> None:
        """Stop the daemon and remove its directory."""
        proc, self.proc = self.proc, None
        stop_process(proc, STOP_TIMEOUT_S)
        shutil.rmtree(self.dir, ignore_errors=True)
