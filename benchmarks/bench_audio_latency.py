"""Audio latency: from a frame written to the serial device (a real pty) to the changed tone
leaving the synthesiser, through the path `probe-nav monitor --audio` uses (ProbeLink driver ->
Qt event loop polling every 5 ms -> Processor -> AudioFeedback -> QAudioSink pulling samples).

Prints median and 99th percentile of
- frame -> synthesiser: write to the pty until the end of the first render() after the update;
- frame -> sink (estimate): the same plus the audio already queued in the QAudioSink buffer at
  that render (the sound server's own latency is not included);
- render cost per call.
Without an audio device, a thread pulls 5 ms blocks in real time instead of the sink.
Goal: p99 < 50 ms frame -> synthesiser.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_LOGGING_RULES",
                      "qt.multimedia.symbolsresolver=false;qt.multimedia.ffmpeg=false")

from probe_nav.audio import AudioFeedback, AudioSettings
from probe_nav.audio.feeder import FeedbackFeeder
from probe_nav.core.pipeline import PipelineConfig
from probe_nav.drivers.probelink.codec import encode
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.drivers.probelink.messages import Count
from probe_nav.simulator.links import PtyLink

FRAME_S = 0.05
DURATION_S = 20.0
POLL_MS = 5


class Probe(threading.Thread):
    """Writes COUNT frames at 20 frames/s: 100 cps and 3,000 cps alternating every second."""

    def __init__(self, link: PtyLink) -> None:
        super().__init__(daemon=True)
        self.link = link
        self.written: dict[int, float] = {}
        self.stop = threading.Event()
        self.rng = np.random.default_rng(1)

    def run(self) -> None:
        start = time.monotonic()
        seq = 0
        while not self.stop.is_set():
            rate = 100.0 if int(seq * FRAME_S) % 2 == 0 else 3000.0
            n = int(self.rng.poisson(rate * FRAME_S))
            t_us = round((seq + 1) * FRAME_S * 1e6)
            msg = Count(frame_seq=seq, t_end_us=t_us, real_us=50000, live_us=50000, counts=(n,))
            self.written[seq] = time.monotonic()
            self.link.write(encode(msg))
            seq += 1
            self.stop.wait(max(0.0, start + seq * FRAME_S - time.monotonic()))


class TimedFeedback(AudioFeedback):
    """Records when each update is taken and when each render ends."""

    def __init__(self, settings: AudioSettings) -> None:
        super().__init__(settings)
        self.renders: list[tuple[float, float, float]] = []  # (start, end, queued_s)
        self.queued_s = lambda: 0.0

    def render(self, n_samples: int) -> np.ndarray:
        t0 = time.monotonic()
        queued = self.queued_s()
        out = super().render(n_samples)
        self.renders.append((t0, time.monotonic(), queued))
        return out


class TimedFeeder(FeedbackFeeder):
    """Records the frame sequence number and the time its update reached the synthesiser."""

    def __init__(self, feedback: AudioFeedback) -> None:
        super().__init__(feedback, PipelineConfig(background_cps=100.0, background_sd_cps=1.0))
        self.updated: dict[int, float] = {}

    def handle(self, event) -> None:
        super().handle(event)
        frame = getattr(event, "frame", None)
        if frame is not None:
            self.updated[frame.seq] = time.monotonic()


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) * 1000.0


def main() -> int:
    from PySide6.QtCore import QTimer

    from probe_nav.audio.qt_output import QtAudioOutput
    from probe_nav.qt_app import ensure_qt_app

    app = ensure_qt_app(headless=True)
    link = PtyLink()
    device = ProbeLinkDevice(link.url)
    device.open()
    feedback = TimedFeedback(AudioSettings())
    feeder = TimedFeeder(feedback)
    output = QtAudioOutput(feedback, buffer_ms=40.0)
    pull_thread = None
    stop_pull = threading.Event()
    if output.start():
        feedback.queued_s = output.buffered_s
        where = f"QAudioSink on '{output.status_text}', 40 ms buffer"
    else:
        where = "no audio device: a thread pulls 5 ms blocks"

        def pull() -> None:
            t = time.monotonic()
            while not stop_pull.is_set():
                feedback.render(240)
                t += 0.005
                stop_pull.wait(max(0.0, t - time.monotonic()))

        pull_thread = threading.Thread(target=pull, daemon=True)
        pull_thread.start()
    probe = Probe(link)

    def tick() -> None:
        for event in device.poll(timeout_s=0.0):
            feeder.handle(event)

    timer = QTimer()
    timer.setInterval(POLL_MS)
    timer.timeout.connect(tick)
    timer.start()
    QTimer.singleShot(int(DURATION_S * 1000), app.quit)
    probe.start()
    app.exec()
    probe.stop.set()
    stop_pull.set()
    timer.stop()
    output.stop()
    device.close()
    link.close()

    renders = np.array(feedback.renders)
    ends = renders[:, 1]
    synth, sink, poll = [], [], []
    for seq, t_written in probe.written.items():
        t_update = feeder.updated.get(seq)
        if t_update is None or seq < 20:  # not received, or the first second (start-up)
            continue
        i = int(np.searchsorted(renders[:, 0], t_update))
        if i >= len(renders):
            continue
        synth.append(ends[i] - t_written)
        sink.append(ends[i] - t_written + renders[i, 2])
        poll.append(t_update - t_written)
    cost = renders[:, 1] - renders[:, 0]
    print(f"audio latency over {len(synth)} frames ({where}), 20 frames/s, poll every {POLL_MS} ms")
    print(f"  frame -> update (driver + poll): median {pct(poll, 50):6.1f} ms   "
          f"p99 {pct(poll, 99):6.1f} ms")
    print(f"  frame -> synthesiser output:     median {pct(synth, 50):6.1f} ms   "
          f"p99 {pct(synth, 99):6.1f} ms   (goal p99 < 50 ms)")
    if pull_thread is None:  # played on a real sink
        print(f"  frame -> sink (estimate):        median {pct(sink, 50):6.1f} ms   "
              f"p99 {pct(sink, 99):6.1f} ms   (+ audio queued in the QAudioSink buffer)")
    print(f"  render() cost: median {np.median(cost) * 1e6:.0f} us, "
          f"p99 {np.percentile(cost, 99) * 1e6:.0f} us per call "
          f"({len(cost) / DURATION_S:.0f} calls/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
