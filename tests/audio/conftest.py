"""Fixtures and helpers of the audio tests: Readings, spectra, a private PulseAudio null sink."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from probe_nav.core.pipeline import Reading
from tests.audio.pulse_server import PrivatePulse, PulseStartError, missing_reason

ROOT = Path(__file__).resolve().parents[2]
SINK = "probe_nav_null"
SINK_DESCRIPTION = "probe-nav-null"
FS = 48000


def reading(rate_cps: float, *, z: float = 0.0, hot: bool = False, over_range: bool = False,
            t_s: float = 0.0) -> Reading:
    """A Reading with the fields the audio uses; background 5 cps."""
    return Reading(t_s, rate_cps, 1.0, 5.0, 0.5, rate_cps - 5.0, 1.0, z, hot, over_range)


def dominant_hz(x: np.ndarray, fs: int = FS) -> float:
    """Frequency of the strongest spectral peak (Hann window, parabolic interpolation of the
    log magnitude: accurate to a small fraction of a bin for a steady sine)."""
    spec = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    k = int(np.argmax(spec[1:-1])) + 1
    a, b, c = np.log(spec[k - 1 : k + 2] + 1e-300)
    delta = 0.5 * (a - c) / (a - 2 * b + c)
    return (k + delta) * fs / x.size


def band_energy(x: np.ndarray, lo_hz: float, hi_hz: float, fs: int = FS) -> float:
    """Energy of `x` between two frequencies."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(x.size, 1.0 / fs)
    return float(spec[(f >= lo_hz) & (f < hi_hz)].sum())


def pulse_onsets(x: np.ndarray, fs: int = FS, threshold: float = 0.05,
                 min_gap_s: float = 0.03) -> np.ndarray:
    """Start times (s) of bursts of sound: envelope above `threshold` after a quiet gap."""
    env = np.abs(x)
    loud = np.flatnonzero(env > threshold)
    if loud.size == 0:
        return np.zeros(0)
    gaps = np.diff(loud) > min_gap_s * fs
    starts = np.concatenate([[loud[0]], loud[1:][gaps]])
    return starts / fs


@pytest.fixture(scope="session")
def pulse_sink() -> Iterator[str]:
    """This worker's private PulseAudio daemon with the null sink (pulse_server.py); its address
    is in os.environ for the session, so subprocesses (parecord, `monitor --audio`) use it.
    Skipped without PulseAudio, except under CI=true where the real audio tests must run."""
    why = missing_reason()
    if why is not None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but no PulseAudio for the audio tests: {why}")
        pytest.skip(f"no PulseAudio: {why}")
    server = PrivatePulse(SINK, SINK_DESCRIPTION, FS)
    try:
        server.start()
    except PulseStartError as exc:
        pytest.fail(str(exc))
    saved = {name: os.environ.get(name) for name in server.client_env}
    os.environ.update(server.client_env)
    try:
        yield SINK
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        server.stop()


class Recorder:
    """Records the null sink's monitor source with parecord (s16le, 48 kHz, mono)."""

    def __init__(self, path: Path, sink: str = SINK) -> None:
        self.path = path
        self.sink = sink
        self._start()

    def _start(self) -> None:
        self._file = open(self.path, "wb")  # noqa: SIM115 (closed in stop)
        self.proc = subprocess.Popen(
            ["parecord", f"--device={self.sink}.monitor", "--raw", "--format=s16le",
             f"--rate={FS}", "--channels=1", "--latency-msec=20"],
            stdout=self._file, stderr=subprocess.PIPE,
        )

    def restart(self) -> None:
        """Throw away what was recorded so far and record afresh."""
        self.stop()
        self._start()

    def stop(self) -> np.ndarray:
        """Stop recording; the samples as floats in [-1, 1)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(10)
        if self.proc.stderr is not None:
            self.proc.stderr.close()
        self._file.close()
        return np.fromfile(self.path, dtype="<i2").astype(np.float64) / 32768.0


@pytest.fixture
def recorder(pulse_sink: str, tmp_path: Path) -> Iterator[Recorder]:
    """A running recording of the null sink, stopped at the end of the test."""
    rec = Recorder(tmp_path / "sink.raw", pulse_sink)
    yield rec
    rec.stop()
