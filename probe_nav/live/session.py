"""The live session itself: one device, one Processor, the link and its gaps, the recording, the
device's counter and commands; snapshots, the trend buffer and the timed counts are in the modules
beside it (the package docstring tells the whole story)."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from probe_nav.core.background import Background
from probe_nav.core.pipeline import PipelineConfig, Processor, Reading
from probe_nav.core.rate import make_meter
from probe_nav.core.timed import TimedCountResult
from probe_nav.drivers.counters import with_device_facts
from probe_nav.drivers.device import Device, FrameEvent, InfoEvent, LinkEvent, StatusEvent
from probe_nav.drivers.frames import (
    CounterModel,
    CounterSpec,
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    FaultFlag,
    LinkState,
)
from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.live.backgrounds import BackgroundSource, SetBackground
from probe_nav.live.commands import spectrum_job, window_job
from probe_nav.live.measurements import Measurements
from probe_nav.live.recording import GuardedRecording
from probe_nav.live.snapshot import LiveSnapshot, device_health
from probe_nav.live.trend import TREND_CAPACITY, Trend

if TYPE_CHECKING:
    from probe_nav.cases.session import SessionRecorder
    from probe_nav.live.navigation import Navigator

log = logging.getLogger("probe_nav.live")  # the package's name, as before the split


class LiveSession:
    """One device, one processing pipeline, timed counts and background measurements."""

    def __init__(self, device: Device, config: PipelineConfig | None = None,
                 trend_capacity: int = TREND_CAPACITY,
                 recorder: SessionRecorder | None = None,
                 counter: CounterSpec | None = None,
                 wall_clock: Callable[[], float] = time.time,
                 navigator: Navigator | None = None) -> None:
        self.device = device
        self.navigator = navigator  # every accepted frame is posed and reconstructed there
        self._wall_clock = wall_clock  # when a background was set (its age on the display)
        # every frame and event of the session, appended to files (a failing disk stops it)
        self._recording = GuardedRecording(recorder, self._recording_stopped)
        self._config = config or PipelineConfig()
        # The counter whose dead time the over-range rules use: the user's (`counter`), else one
        # stated in `config`, else the device's (DeviceInfo.counter, then its driver's default).
        self._counter = counter
        self._counter_stated = counter is not None or self._config.dead_time is not None
        default = getattr(type(device), "default_counter", None)
        if counter is not None:
            self._config = self._config.with_counter(with_device_facts(counter, default))
        elif not self._counter_stated:
            self._config = self._config.with_counter(default)
        self._processor = Processor(self._config)
        self._link = LinkState.CONNECTING
        self._link_reason = "opening the port"
        self._reading: Reading | None = None
        self._last_frame: CountFrame | None = None
        self._last_frame_host_s: float | None = None
        self._info: DeviceInfo | None = None
        self._status: DeviceStatus | None = None
        self._gap = False
        self._stale_dropped: int | None = None  # dropped frames when a STALE pause began
        self._measurements = Measurements(self._record)
        self._spectrum: tuple[int, ...] | None = None
        self._trend = Trend(trend_capacity)
        self._notice = ""
        self._notices: queue.Queue[str] = queue.Queue()
        self._link_log = RateLimitedLog(log, burst=10)  # a flapping link must not flood the log
        self._background_entry: SetBackground | None = None
        if self._config.background_cps is not None:
            self._background_entry = SetBackground(
                Background.given(self._config.background_cps, self._config.background_sd_cps),
                BackgroundSource.ENTERED, wall_clock())
        log.info("session started on %s (meter %s, background %s cps, recording to %s)",
                 device.describe(), self._config.meter, self._config.background_cps,
                 recorder.directory if recorder is not None else "nowhere")

    # ------------------------------------------------------------ controls

    @property
    def meter(self) -> str:
        """The rate meter in use ('adaptive' or a time constant in s)."""
        return self._config.meter

    def set_meter(self, name: str) -> None:
        """Switch the rate meter (ValueError for an unknown name); the estimate restarts."""
        make_meter(name)
        self._config = replace(self._config, meter=name)
        self._restart_processor()

    def set_background(self, background: Background | SetBackground,
                       source: BackgroundSource = BackgroundSource.ENTERED) -> None:
        """Use this background from now on (the hot detector restarts with it); a bare
        Background is stamped with `source` and the time now."""
        entry = background if isinstance(background, SetBackground) else SetBackground(
            background, source, self._wall_clock())
        background = entry.background
        self._background_entry = entry
        self._config = replace(self._config, background_cps=background.rate_cps,
                               background_sd_cps=background.sd_cps, background_s=None)
        how = (f"{entry.source}: {background.counts} counts in {background.live_s:g} s live"
               if background.live_s > 0 else entry.source.value)
        log.info("background set to %.4g +- %.2g cps (%s)", background.rate_cps,
                 background.sd_cps, how)
        last = self._last_frame
        self._record("background_set", t_s=None if last is None else last.t_s,
                     background_cps=background.rate_cps, background_sd_cps=background.sd_cps,
                     source=entry.source.value, window=entry.window)
        self._restart_processor()

    def clear_background(self) -> None:
        """No background from now on (another energy window, another patient): BACKGROUND NOT
        SET, no hot decision, until one is measured or entered."""
        log.info("background cleared")
        self._background_entry = None
        self._config = replace(self._config, background_cps=None, background_sd_cps=0.0,
                               background_s=None)
        last = self._last_frame
        self._record("background_cleared", t_s=None if last is None else last.t_s)
        self._restart_processor(keep_background=False)

    @property
    def background_entry(self) -> SetBackground | None:
        """The background in use with how and when it was set; None while not set (or while
        the first S s the user declared background are still being counted)."""
        if self._background_entry is None and self.background is not None:
            self._background_entry = SetBackground(self.background,
                                                   BackgroundSource.FIRST_SECONDS,
                                                   self._wall_clock())
        return self._background_entry

    @property
    def background(self) -> Background | None:
        """The background in use; None while not set (or its declared first S s still run)."""
        if self._background_entry is not None:
            return self._background_entry.background
        if self._config.background_cps is not None:
            return Background.given(self._config.background_cps, self._config.background_sd_cps)
        measured = self._processor.background  # the first S s the user declared background
        if measured is not None:
            return Background.given(*measured)
        return None

    def start_background(self, duration_s: float = 10.0) -> None:
        """Measure the background for `duration_s` of live time, from the next frame."""
        self._measurements.start_background(duration_s)

    def cancel_background(self) -> None:
        """Abandon a background measurement in progress."""
        self._measurements.cancel_background()

    def start_timed_count(self, preset_s: float = 10.0) -> None:
        """Count for `preset_s` of live time from the next frame, against the current background."""
        self._measurements.start_timed_count(preset_s, self.background or Background.given(0.0))

    def cancel_timed_count(self) -> None:
        """Abandon a timed count in progress."""
        self._measurements.cancel_timed_count()

    def send_command(self, what: str, job: Callable[[], str]) -> None:
        """Run a device request on a short-lived thread (requests block for up to ~1 s);
        the message the job returns becomes the snapshot's notice."""
        def run() -> None:
            try:
                message = job()
            except Exception as exc:  # a refused or timed-out command is reported, not raised
                message = f"{what}: {exc}"
            self._notices.put(message)

        threading.Thread(target=run, name=f"command {what}", daemon=True).start()

    def set_window(self, lo_kev: float, hi_kev: float, name: str = "") -> bool:
        """Ask the device to count window 0 in [lo, hi) keV; False if its protocol cannot."""
        job = window_job(self.device, lo_kev, hi_kev, name)
        if job is None:
            return False
        self.send_command("set window", job)
        self._restart_processor()
        return True

    def enable_spectrum(self, on: bool) -> bool:
        """Ask the device for spectra (ProbeLink SET_SPECTRUM); False if it cannot be asked."""
        job = spectrum_job(self.device, on)
        if job is None:
            return False
        self.send_command("spectrum", job)
        return True

    def notify(self, message: str) -> None:
        """Show this message as the snapshot's notice (from the next poll on)."""
        self._notices.put(message)

    def trend(self, window_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The last `window_s` seconds of (t relative to the last frame, rate, sd); NaN = gap."""
        return self._trend.window(window_s, self._trend.last_t_s())

    @property
    def last_info(self) -> DeviceInfo | None:
        """What the device last said it is (None until it has)."""
        return self._info

    def close(self) -> None:
        """Close the device and finish the session recording."""
        self.device.close()
        self._recording.close()
        log.info("session on %s stopped", self.device.describe())

    @property
    def recorder(self) -> SessionRecorder | None:
        """The session recording, None when there is none (never started, or its disk failed)."""
        return self._recording.recorder

    def _record(self, kind: str, t_s: float | None = None, **fields: object) -> None:
        self._recording.event(kind, t_s=t_s, **fields)

    def _recording_stopped(self, message: str) -> None:
        self._notice = message

    # ------------------------------------------------------------ the poll

    def poll(self) -> LiveSnapshot:
        """Drain the device's events and return what to show now (never blocks)."""
        processed: list[tuple[Reading, CountFrame]] = []
        new_timed: TimedCountResult | None = None
        new_background: TimedCountResult | None = None
        run: list[FrameEvent] = []  # consecutive frames: processed as one chunk (bit-exact)
        for event in [*self.device.poll(timeout_s=0.0), None]:
            if isinstance(event, FrameEvent):
                run.append(event)
                continue
            if run:
                done = self._on_frames(run, processed)
                new_timed = done[0] or new_timed
                new_background = done[1] or new_background
                run = []
            if isinstance(event, LinkEvent):
                self._link_reason = event.reason
                self._set_link(event.state)
            elif isinstance(event, InfoEvent):
                self._info = event.info
                self._use_counter(event.info.counter)
            elif isinstance(event, StatusEvent):
                self._status = event.status
        self._set_link(self.device.link_state)
        while not self._notices.empty():
            self._notice = self._notices.get_nowait() or self._notice
        return self._snapshot(tuple(processed), new_timed, new_background)

    def _set_link(self, state: LinkState) -> None:
        if state is not self._link:
            self._link_log.log(logging.INFO, f"link {state.name}", "session link %s -> %s: %s",
                               self._link.name, state.name, self._link_reason)
            last = self._last_frame
            self._record("link", t_s=None if last is None else last.t_s, state=state.value,
                         reason=self._link_reason)
        if state is LinkState.STALE and not self._gap and self._stale_dropped is None:
            # A pause: nothing is shown while it lasts, but if frames resume with none lost the
            # stream is whole (a late host, a slow link) and what was being counted goes on.
            self._stale_dropped = self.device.stats.dropped_frames
        elif state is not LinkState.CONNECTED and state is not LinkState.STALE and not self._gap \
                and (self._link in (LinkState.CONNECTED, LinkState.STALE)
                     or self._reading is not None):
            self._start_gap()
        self._link = state

    def _start_gap(self) -> None:
        self._gap = True
        self._stale_dropped = None
        self._reading = None
        self._notice = self._measurements.abandon() or self._notice

    def _restart_processor(self, keep_background: bool = True) -> None:
        background = self.background if keep_background else None
        if background is not None and self._config.background_cps is None:
            self._background_entry = self.background_entry  # stamped before it is copied
            self._config = replace(self._config, background_cps=background.rate_cps,
                                   background_sd_cps=background.sd_cps)
        previous, self._processor = self._processor, Processor(self._config)
        self._processor.carry_over_range(previous)  # a possibly paralysed counter stays flagged
        self._reading = None

    def _use_counter(self, spec: CounterSpec) -> None:
        """The device described its counter: its dead time drives the over-range rules (unless
        the user stated one)."""
        if self._counter is not None:
            spec = with_device_facts(self._counter, spec)
        elif self._counter_stated or spec.model is CounterModel.UNKNOWN:
            return
        config = self._config.with_counter(spec)
        if config != self._config:
            log.info("counter of %s: %s, dead time %s s (%s)", self.device.describe(),
                     spec.model.value, spec.dead_time_s, spec.source or "no source given")
            self._config = config
            self._restart_processor()

    def clear_over_range(self) -> None:
        """The user confirms the probe is away from any strong source: release the over-range
        latch (a counter without measured live time cannot show its recovery itself)."""
        log.info("over-range latch cleared by the user")
        self._processor.clear_over_range()

    def _on_frames(self, events: list[FrameEvent],
                   processed: list[tuple[Reading, CountFrame]]) -> tuple:
        """Consecutive frames as one chunk through the Processor (chunk-invariant, so the same
        numbers as frame by frame, at a fraction of the numpy calls); a background set by one
        of them restarts the processor and the rest go through the new one."""
        new_timed = new_background = None
        while events:
            self._frames_resume()
            try:
                readings = self._processor.process_frames([e.frame for e in events])
            except ValueError:  # one frame is impossible: take them one by one, refuse it alone
                if len(events) == 1:
                    return self._on_frame(events[0], processed)
                for event in events:
                    done = self._on_frame(event, processed)
                    new_timed, new_background = done[0] or new_timed, done[1] or new_background
                return new_timed, new_background
            rest: list[FrameEvent] = []
            for i, event in enumerate(events):
                done = self._after_frame(event, readings[i], processed)
                new_timed, new_background = done[0] or new_timed, done[1] or new_background
                if done[1] is not None:  # a background was set: the processor restarted
                    rest = events[i + 1:]
                    break
            events = rest
        return new_timed, new_background

    def _frames_resume(self) -> None:
        """Frames arrive: after a pause with frames lost, or a gap, the estimate restarts."""
        if self._stale_dropped is not None:  # frames again after a pause: were any lost?
            if self.device.stats.dropped_frames > self._stale_dropped:
                self._start_gap()
            self._stale_dropped = None
        if self._gap:
            self._gap = False
            self._restart_processor()
            self._trend.mark_gap()
        self._link = LinkState.CONNECTED

    def _on_frame(self, event: FrameEvent,
                  processed: list[tuple[Reading, CountFrame]]) -> tuple:
        frame = event.frame
        self._frames_resume()
        try:
            reading = self._processor.push(frame)
        except ValueError as exc:  # impossible values that a driver's plausibility gate let by
            self._notice = f"frame refused: {exc}"
            self._link_log.log(logging.WARNING, "refused frame", "frame at t_s %r refused: %s",
                               frame.t_s, exc)
            return None, None
        return self._after_frame(event, reading, processed)

    def _after_frame(self, event: FrameEvent, reading: Reading,
                     processed: list[tuple[Reading, CountFrame]]) -> tuple:
        """Record, trend and measure one processed frame."""
        frame = event.frame
        self._recording.frame(frame)
        before = self._reading
        if before is not None and reading.over_range != before.over_range:
            self._record("over_range" if reading.over_range else "in_range", t_s=frame.t_s)
        if reading.hot != (before is not None and before.hot):
            self._record("hot" if reading.hot else "cold", t_s=frame.t_s)
        self._reading = reading
        self._last_frame, self._last_frame_host_s = frame, event.host_s
        if frame.spectrum is not None:
            self._spectrum = frame.spectrum
        self._trend.add_frame(frame.t_s, reading.rate_cps, reading.rate_sd_cps)
        processed.append((reading, frame))
        if self.navigator is not None and not reading.over_range:  # counts that mean nothing
            self.navigator.on_frame(frame, event.host_s)  # would place "no activity" by a node
        return self._feed_measurements(frame)

    def _feed_measurements(self, frame: CountFrame) -> tuple:
        new_timed, new_background = self._measurements.feed(frame)
        if new_background is not None:
            self.set_background(Background.measured(new_background.counts,
                                                    new_background.live_s),
                                BackgroundSource.MEASURED)
        return new_timed, new_background

    def _snapshot(self, processed: tuple, new_timed: TimedCountResult | None,
                  new_background: TimedCountResult | None) -> LiveSnapshot:
        frame, status = self._last_frame, self._status
        faults, battery, battery_low = device_health(frame, status)
        live = self._link is LinkState.CONNECTED
        reading = self._reading if live else None
        over = bool(reading is not None and reading.over_range) or bool(
            live and frame is not None and frame.flags & FaultFlag.OVER_RANGE)
        measurements = self._measurements
        return LiveSnapshot(
            link=self._link, link_reason=self._link_reason, reading=reading,
            last_frame=frame, last_frame_host_s=self._last_frame_host_s, info=self._info,
            status=status, stats=self.device.stats, battery_pct=battery,
            battery_low=battery_low, faults=faults, over_range=over,
            background=self.background,
            background_entry=self.background_entry,
            background_progress=measurements.background_progress,
            timed=measurements.timed_result,
            timed_preset_s=measurements.timed_preset_s,
            timed_progress=measurements.timed_progress,
            new_timed=new_timed,
            new_background=None if new_background is None else Background.measured(
                new_background.counts, new_background.live_s),
            new_background_count=new_background, spectrum=self._spectrum,
            frames=processed, notice=self._notice,
        )
