"""Sound output through QtMultimedia: a QAudioSink in pull mode reading from a QIODevice whose
readData renders the next samples from AudioFeedback, so the sound is made when the sink needs it
(small buffer, low latency) and nothing ever blocks the GUI or the monitor loop.

Without an audio device, without QtMultimedia's libraries (it links libpulse.so.0), or when the sink
fails, `available` is False, `status_text` says so, `reason` says why, and one line is logged;
the caller keeps working without sound.

`start_audio` is the one start-up of the console (gui/audio_bridge.py) and `monitor --audio`:
synthesiser, Qt application and output, with every way of failing reduced to one reason line.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QCoreApplication, QIODevice, QObject, QTimer, qInstallMessageHandler

from probe_nav.audio.feedback import AudioFeedback
from probe_nav.audio.nosound import log_no_sound
from probe_nav.audio.settings import AudioSettings
from probe_nav.audio.underrun import UnderrunMeter
from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.qt_app import ensure_qt_app

try:
    from PySide6.QtMultimedia import (
        QAudioDevice,
        QAudioFormat,
        QAudioSink,
        QMediaDevices,
        QtAudio,
    )
except ImportError as exc:  # e.g. "libpulse.so.0: cannot open shared object file"
    MULTIMEDIA_ERROR: str | None = str(exc) or type(exc).__name__
    FATAL_ERRORS: tuple[object, ...] = ()
else:
    MULTIMEDIA_ERROR = None
    FATAL_ERRORS = (QtAudio.Error.OpenError, QtAudio.Error.IOError, QtAudio.Error.FatalError)

log = logging.getLogger("probe_nav.audio")
NO_DEVICE = "NO AUDIO DEVICE"
WATCH_MS = 200  # how often the sink's state is checked for errors


@contextlib.contextmanager
def qt_messages_logged() -> Iterator[None]:
    """While Qt's sound back-end starts, its own messages (e.g. "PulseAudioService:
    pa_context_connect() failed" without a sound server) go to the debug log, not to stderr:
    the reason for no sound is said once, by log_no_sound. The previous handler is restored."""

    def to_log(mode: object, context: object, message: str) -> None:
        log.debug("Qt (%s): %s", getattr(context, "category", "?"), message)

    previous = qInstallMessageHandler(to_log)
    try:
        yield
    finally:
        qInstallMessageHandler(previous)


def list_output_devices() -> list[str]:
    """Descriptions of the audio outputs Qt sees (the default first); none without
    QtMultimedia."""
    if MULTIMEDIA_ERROR is not None:
        return []
    ensure_qt_app(headless=True)
    with qt_messages_logged():
        devices = QMediaDevices.audioOutputs()
    devices = sorted(devices, key=lambda d: not d.isDefault())
    return [d.description() for d in devices]


def find_output_device(name: str | None) -> QAudioDevice | None:
    """The output whose description (or id) is `name`, exactly or ignoring case; the default
    output for None; None when there is no such device (or no QtMultimedia)."""
    if MULTIMEDIA_ERROR is not None:
        return None
    ensure_qt_app(headless=True)
    devices = QMediaDevices.audioOutputs()
    if not devices:
        return None
    if name is None:
        default = QMediaDevices.defaultAudioOutput()
        return default if not default.isNull() else devices[0]
    for match in (
        lambda d: d.description() == name,
        lambda d: d.description().casefold() == name.casefold(),
        lambda d: bytes(d.id().data()).decode(errors="replace") == name,
    ):
        for d in devices:
            if match(d):
                return d
    return None


class FeedbackStream(QIODevice):
    """A read-only, endless QIODevice: each read renders the next samples (16-bit PCM) and
    checks whether the sink ran dry since the last read (an underrun: a gap in the sound)."""

    def __init__(self, feedback: AudioFeedback, channels: int = 1, buffer_s: float = 0.04,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.feedback = feedback
        self.channels = max(1, int(channels))
        self.bytes_read = 0
        self.underruns = UnderrunMeter(feedback.settings.sample_rate_hz, buffer_s)
        self._underrun_log = RateLimitedLog(log)

    def readData(self, maxlen: int) -> bytes:
        """Qt pulls the next samples. Never raises: an exception cannot cross back into Qt (it is
        printed as a traceback and lost), so a failure is logged and plays silence, and a Ctrl-C
        that lands here (a handler raising KeyboardInterrupt) ends the event loop instead."""
        try:
            return self._render(maxlen)
        except KeyboardInterrupt:
            log.info("interrupted during the audio callback: ending the event loop")
            QCoreApplication.quit()
        except Exception as exc:
            self._underrun_log.log(logging.ERROR, "render", "audio callback failed (%s: %s); "
                                   "playing silence", type(exc).__name__, exc)
        return bytes(max(0, int(maxlen)) // (2 * self.channels) * 2 * self.channels)

    def _render(self, maxlen: int) -> bytes:
        frame_bytes = 2 * self.channels
        n = int(maxlen) // frame_bytes
        if n <= 0:
            return b""
        gap_s = self.underruns.pulled(n, time.monotonic())
        if gap_s > 0.0:
            self._underrun_log.log(
                logging.WARNING, "underrun", "audio underrun: about %.0f ms of silence (%d so "
                "far); the process did not get the CPU in time", 1000.0 * gap_s,
                self.underruns.count)
        samples = self.feedback.render(n)
        pcm = np.round(samples * 32767.0).astype("<i2")
        if self.channels > 1:
            pcm = np.repeat(pcm, self.channels)
        data = pcm.tobytes()
        self.bytes_read += len(data)
        return data

    def writeData(self, data: bytes, maxlen: int = 0) -> int:
        return -1

    def bytesAvailable(self) -> int:
        return 1 << 20

    def isSequential(self) -> bool:
        return True


class QtAudioOutput:
    """Plays an AudioFeedback on an audio device (default: the system's default output)."""

    def __init__(self, feedback: AudioFeedback, device: str | None = None,
                 buffer_ms: float = 40.0) -> None:
        self.feedback = feedback
        self.device_name = device
        self.buffer_ms = float(buffer_ms)
        self._sink: QAudioSink | None = None
        self._stream: FeedbackStream | None = None
        self._available = False
        self._status = "stopped"
        self._reason = "not started"
        self._logged = False
        self._watch: QTimer | None = None
        self._underruns = 0  # of streams already stopped

    @property
    def available(self) -> bool:
        """True while sound is playing on a device."""
        return self._available

    @property
    def status_text(self) -> str:
        """The device's description while playing, else what is wrong (e.g. NO AUDIO DEVICE)."""
        return self._status

    @property
    def reason(self) -> str:
        """Why there is no sound (e.g. "no output device found"), without the state's name: the
        detail line under the console's NO AUDIO DEVICE banner. Empty while playing."""
        return "" if self._available else self._reason

    @property
    def underruns(self) -> int:
        """How often the sound stuttered because the sink ran dry (since start)."""
        return self._stream.underruns.count if self._stream is not None else self._underruns

    @property
    def underrun_gap_s(self) -> float:
        """The silence, in s, the underruns of the running stream caused (0 without one)."""
        return self._stream.underruns.gap_s if self._stream is not None else 0.0

    @property
    def sink(self) -> QAudioSink | None:
        """The QAudioSink while started (buffer figures for latency estimates)."""
        return self._sink

    def start(self) -> bool:
        """Open the device and start pulling; False (available False) when there is none."""
        self.stop()
        if MULTIMEDIA_ERROR is not None:
            return self._fail(NO_DEVICE, f"QtMultimedia cannot be loaded ({MULTIMEDIA_ERROR})")
        ensure_qt_app(headless=True)
        device = find_output_device(self.device_name)
        if device is None:
            if self.device_name is None:
                return self._fail(NO_DEVICE, "no output device found")
            return self._fail(f"{NO_DEVICE}: {self.device_name!r} not found",
                              f"output device {self.device_name!r} not found")
        fmt = self._format_for(device)
        if fmt is None:
            return self._fail(f"{NO_DEVICE}: no 16-bit format on {device.description()}",
                              f"output device {device.description()!r} takes no 16-bit PCM")
        rate = fmt.sampleRate()
        if rate != self.feedback.settings.sample_rate_hz:
            settings = self.feedback.settings
            settings.sample_rate_hz = rate
            self.feedback.apply_settings(settings)
        frame_bytes = 2 * fmt.channelCount()
        buffer_bytes = max(frame_bytes * 64, int(rate * self.buffer_ms / 1000.0) * frame_bytes)
        self._stream = FeedbackStream(self.feedback, fmt.channelCount(),
                                      buffer_s=buffer_bytes / (frame_bytes * rate))
        self._stream.open(QIODevice.OpenModeFlag.ReadOnly | QIODevice.OpenModeFlag.Unbuffered)
        sink = QAudioSink(device, fmt)
        sink.setBufferSize(buffer_bytes)
        self._sink = sink
        self._available = True
        self._status = device.description()
        sink.start(self._stream)
        # stateChanged cannot reach Python (PySide6 cannot convert QAudio::State): poll instead.
        self._watch = QTimer()
        self._watch.setInterval(WATCH_MS)
        self._watch.timeout.connect(self._on_state)
        self._watch.start()
        if sink.error() in FATAL_ERRORS:
            return self._fail(f"AUDIO ERROR: {sink.error().name}",
                              f"the output failed ({sink.error().name})")
        return True

    def stop(self) -> None:
        """Stop the sound and release the device."""
        if self._watch is not None:
            self._watch.stop()
            self._watch = None
        if self._sink is not None:
            sink, self._sink = self._sink, None
            sink.stop()
            sink.deleteLater()
        if self._stream is not None:
            self._underruns = self._stream.underruns.count
            self._stream.close()
            self._stream = None
        if self._available:
            self._status = self._reason = "stopped"
        self._available = False

    def buffered_s(self) -> float:
        """Sound rendered but not yet handed to the sound server (0 when not playing)."""
        sink = self._sink
        if sink is None:
            return 0.0
        fmt = sink.format()
        used = max(0, sink.bufferSize() - sink.bytesFree())
        return used / float(fmt.bytesPerFrame() * fmt.sampleRate())

    def _format_for(self, device: QAudioDevice) -> QAudioFormat | None:
        preferred = device.preferredFormat()
        for rate in (self.feedback.settings.sample_rate_hz, preferred.sampleRate()):
            for channels in (1, max(1, preferred.channelCount())):
                fmt = QAudioFormat()
                fmt.setSampleRate(int(rate))
                fmt.setChannelCount(channels)
                fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
                if device.isFormatSupported(fmt):
                    return fmt
        return None

    def _on_state(self) -> None:
        sink = self._sink
        if sink is None:
            return
        if sink.error() in FATAL_ERRORS:
            self._fail(f"AUDIO ERROR: {sink.error().name}",
                       f"the output stopped ({sink.error().name})")

    def _fail(self, status: str, reason: str) -> bool:
        """No sound: `status` for displays, `reason` for the banner and one log line."""
        self._status = status
        self._reason = reason
        self._available = False
        if not self._logged:
            log_no_sound(reason)
            self._logged = True
        return False


@dataclass
class AudioStart:
    """What the audio start-up gives: the synthesiser (always: it also drives the monitor's tone
    figures), the output while it plays (None when there is none), why not, and whether a Qt
    application runs (without one there is no event loop to pull sound)."""

    feedback: AudioFeedback
    output: QtAudioOutput | None
    failed_reason: str = ""  # why the start-up gave no output ("" when it did)
    failed_status: str = NO_DEVICE  # the status line when it gave no output
    qt_running: bool = True

    @property
    def available(self) -> bool:
        """True while sound plays (False if the output failed after starting)."""
        return self.output is not None and self.output.available

    @property
    def reason(self) -> str:
        """Why there is no sound, as one line without the state's name ("" while it plays)."""
        if self.output is not None:
            return self.output.reason
        return self.failed_reason

    @property
    def status_text(self) -> str:
        """The device's description while playing, else the state (NO AUDIO DEVICE ...)."""
        return self.output.status_text if self.output is not None else self.failed_status

    @property
    def underruns(self) -> int:
        """Gaps the listener heard (0 without an output)."""
        return self.output.underruns if self.output is not None else 0

    def stop(self) -> None:
        """Stop the sound and release the device (nothing to do without an output)."""
        if self.output is not None:
            self.output.stop()


def start_audio(settings: AudioSettings | None = None, *, device: str | None = None,
                seed: int = 0, buffer_ms: float = 40.0) -> AudioStart:
    """Start the sound: a Qt application (headless if there is no display), then the output on
    `device` (None: the default). Never raises for a missing library, Qt platform or device:
    that is one logged line and an AudioStart without output, and the caller runs on."""
    feedback = AudioFeedback(settings, seed=seed)
    try:
        ensure_qt_app(headless=True)
    except (ImportError, RuntimeError) as exc:  # e.g. libGL or libEGL missing: no Qt at all
        return _silent(feedback, f"Qt cannot start ({exc})", qt_running=False)
    output = QtAudioOutput(feedback, device=device, buffer_ms=buffer_ms)
    try:
        with qt_messages_logged():
            started = output.start()  # logs its own one line when it fails
    except Exception as exc:  # a broken sound stack must not stop the program
        output.stop()
        return _silent(feedback, f"the sound output failed ({exc})")
    if started:
        return AudioStart(feedback, output)
    status, reason = output.status_text, output.reason
    output.stop()
    return AudioStart(feedback, None, reason, status)


def _silent(feedback: AudioFeedback, reason: str, *, qt_running: bool = True) -> AudioStart:
    log_no_sound(reason)
    return AudioStart(feedback, None, reason, NO_DEVICE, qt_running)
