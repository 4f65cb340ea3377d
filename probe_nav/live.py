"""A live session, free of Qt: device events -> Processor -> what a display and audio need.

The console (or any other front end) calls `poll()` often (e.g. from a 30 Hz timer); each call
drains the device's event queue, runs every frame through the processing core, feeds a running
timed count or background measurement, and returns a `LiveSnapshot`. A reading is only ever
returned while the link is CONNECTED: after any gap the estimator restarts (a known background is
kept) and a timed count or background measurement in progress is abandoned, so nothing from
before a gap is passed off as live.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from probe_nav.core.background import Background
from probe_nav.core.pipeline import PipelineConfig, Processor, Reading
from probe_nav.core.rate import make_meter
from probe_nav.core.timed import TimedCount, TimedCountResult
from probe_nav.drivers.device import Device, FrameEvent, InfoEvent, LinkEvent, StatusEvent
from probe_nav.drivers.frames import (
    CounterModel,
    CounterSpec,
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    FaultFlag,
    LinkState,
    LinkStats,
)
from probe_nav.drivers.ratelimit import RateLimitedLog

if TYPE_CHECKING:
    from probe_nav.cases.session import SessionRecorder

log = logging.getLogger(__name__)
LOW_BATTERY_PCT = 10
TREND_CAPACITY = 8192  # frames kept for the trend plot (82 s at 100 frames/s)
CLOCK_JUMP_S = 30.0  # a device clock that jumps more than this (or back) restarts the trend


@dataclass(frozen=True, slots=True)
class LiveSnapshot:
    """The state of a session after one poll (rates in cps)."""

    link: LinkState
    link_reason: str
    reading: Reading | None  # None unless the link is CONNECTED and a frame came since
    last_frame: CountFrame | None
    last_frame_host_s: float | None  # host clock at the arrival of last_frame
    info: DeviceInfo | None
    status: DeviceStatus | None
    stats: LinkStats
    battery_pct: int | None
    battery_low: bool
    faults: FaultFlag  # device flags of the last frame and status
    over_range: bool
    background: Background | None  # the background in use (None while it is first measured)
    background_progress: float | None  # fraction of a background measurement running, else None
    timed: TimedCountResult | None  # the timed count running or just finished
    timed_preset_s: float | None
    timed_progress: float | None  # 0..1 while running, None when no timed count runs
    new_timed: TimedCountResult | None  # a timed count that completed in this very poll
    new_background: Background | None  # a background measurement that completed in this poll
    new_background_count: TimedCountResult | None  # the same measurement as a timed count
    spectrum: tuple[int, ...] | None  # the last spectrum received
    frames: tuple[tuple[Reading, CountFrame], ...] = ()  # what this poll processed, in order
    notice: str = ""  # the latest message for the user (abandoned count, command refused...)

    @property
    def live(self) -> bool:
        """True when `reading` may be shown as a live number."""
        return self.link is LinkState.CONNECTED and self.reading is not None


def _stated(counter: CounterSpec, device: CounterSpec | None) -> CounterSpec:
    """The user's counter, with what only the device knows (does it measure live time? how
    fast can its rate change?) taken from the device's own description."""
    if device is None:
        return counter
    return replace(counter, live_time_measured=device.live_time_measured
                   if counter.live_time_measured is None else counter.live_time_measured,
                   max_change_per_s=counter.max_change_per_s or device.max_change_per_s)


@dataclass
class _Trend:
    """A ring buffer of (device t_s, rate, sd) per frame; NaN rows mark gaps."""

    capacity: int = TREND_CAPACITY
    t_s: np.ndarray = field(init=False)
    rate_cps: np.ndarray = field(init=False)
    sd_cps: np.ndarray = field(init=False)
    n: int = 0
    head: int = 0

    def __post_init__(self) -> None:
        self.t_s = np.full(self.capacity, np.nan)
        self.rate_cps = np.full(self.capacity, np.nan)
        self.sd_cps = np.full(self.capacity, np.nan)

    def clear(self) -> None:
        self.__post_init__()
        self.n = self.head = 0

    def add(self, t_s: float, rate_cps: float, sd_cps: float) -> None:
        i = self.head
        self.t_s[i], self.rate_cps[i], self.sd_cps[i] = t_s, rate_cps, sd_cps
        self.head = (i + 1) % self.capacity
        self.n = min(self.n + 1, self.capacity)

    def last_t_s(self) -> float | None:
        if self.n == 0:
            return None
        return float(self.t_s[(self.head - 1) % self.capacity])

    def window(self, window_s: float, now_t_s: float | None) -> tuple[np.ndarray, ...]:
        """Rows within `window_s` before `now_t_s`, oldest first; t relative to now (<= 0)."""
        order = (np.arange(self.n) + self.head - self.n) % self.capacity
        t = self.t_s[order]
        if now_t_s is None or self.n == 0:
            empty = np.empty(0)
            return empty, empty, empty
        keep = ~(t < now_t_s - window_s)  # NaN gap markers are kept
        idx = order[keep]
        return self.t_s[idx] - now_t_s, self.rate_cps[idx], self.sd_cps[idx]


class LiveSession:
    """One device, one processing pipeline, timed counts and background measurements."""

    def __init__(self, device: Device, config: PipelineConfig | None = None,
                 trend_capacity: int = TREND_CAPACITY,
                 recorder: SessionRecorder | None = None,
                 counter: CounterSpec | None = None) -> None:
        self.device = device
        self.recorder = recorder  # every frame and event of the session, appended to files
        self._config = config or PipelineConfig()
        # The counter whose dead time the over-range rules use: the user's (`counter`), else one
        # stated in `config`, else the device's (DeviceInfo.counter, then its driver's default).
        self._counter = counter
        self._counter_stated = counter is not None or self._config.dead_time is not None
        default = getattr(type(device), "default_counter", None)
        if counter is not None:
            self._config = self._config.with_counter(_stated(counter, default))
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
        self._timed: TimedCount | None = None
        self._timed_last: TimedCountResult | None = None
        self._bg_measure: TimedCount | None = None
        self._spectrum: tuple[int, ...] | None = None
        self._trend = _Trend(trend_capacity)
        self._notice = ""
        self._notices: queue.Queue[str] = queue.Queue()
        self._link_log = RateLimitedLog(log, burst=10)  # a flapping link must not flood the log
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

    def set_background(self, background: Background) -> None:
        """Use a known background from now on (the hot detector restarts with it)."""
        self._config = replace(self._config, background_cps=background.rate_cps,
                               background_sd_cps=background.sd_cps)
        how = (f"measured: {background.counts} counts in {background.live_s:g} s live"
               if background.live_s > 0 else "given")
        log.info("background set to %.4g +- %.2g cps (%s)", background.rate_cps,
                 background.sd_cps, how)
        last = self._last_frame
        self._record("background_set", t_s=None if last is None else last.t_s,
                     background_cps=background.rate_cps, background_sd_cps=background.sd_cps)
        self._restart_processor()

    @property
    def background(self) -> Background | None:
        """The background in use, None while the processor is still measuring its first one."""
        if self._config.background_cps is not None:
            return Background.given(self._config.background_cps, self._config.background_sd_cps)
        if self._processor.background_ready and self._reading is not None:
            return Background.given(self._reading.background_cps, self._reading.background_sd_cps)
        return None

    def start_background(self, duration_s: float = 10.0) -> None:
        """Measure the background for `duration_s` of live time, from the next frame."""
        log.info("background measurement of %g s live started", duration_s)
        self._bg_measure = TimedCount(duration_s, "live")

    def cancel_background(self) -> None:
        """Abandon a background measurement in progress."""
        if self._bg_measure is not None:
            log.info("background measurement cancelled")
        self._bg_measure = None

    def start_timed_count(self, preset_s: float = 10.0) -> None:
        """Count for `preset_s` of live time from the next frame, against the current background."""
        self._timed = TimedCount(preset_s, "live", self.background or Background.given(0.0))
        self._timed_last = None
        log.info("timed count of %g s live started (background %.4g cps)", preset_s,
                 self._timed.background.rate_cps)

    def cancel_timed_count(self) -> None:
        """Abandon a timed count in progress."""
        if self._timed is not None and not self._timed.complete:
            log.info("timed count cancelled")
        self._timed = None

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
        from probe_nav.drivers.probelink.device import ProbeLinkDevice
        from probe_nav.drivers.probelink.messages import AckResult, Cmd

        device = self.device
        if not isinstance(device, ProbeLinkDevice):
            return False

        def job() -> str:
            ack = device.request(Cmd.SET_WINDOW, 0, float(lo_kev), float(hi_kev))
            if ack.result != AckResult.OK:
                return f"window {lo_kev:g}-{hi_kev:g} keV refused ({AckResult(ack.result).name})"
            device.request(Cmd.GET_INFO)
            return f"window 0 set to {lo_kev:g}-{hi_kev:g} keV {name}".rstrip()

        self.send_command("set window", job)
        self._restart_processor()
        return True

    def enable_spectrum(self, on: bool) -> bool:
        """Ask the device for spectra (ProbeLink SET_SPECTRUM); False if it cannot be asked."""
        from probe_nav.drivers.probelink.device import ProbeLinkDevice
        from probe_nav.drivers.probelink.messages import Cmd

        device = self.device
        if not isinstance(device, ProbeLinkDevice):
            return False
        self.send_command("spectrum", lambda: (device.request(Cmd.SET_SPECTRUM, int(on)), "")[1])
        return True

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
        if self.recorder is not None:
            self.recorder.close()
            log.info("session recording closed: %d frames in %s", self.recorder.frames_written,
                     self.recorder.directory)
        log.info("session on %s stopped", self.device.describe())

    def _record(self, kind: str, t_s: float | None = None, **fields: object) -> None:
        if self.recorder is not None:
            self._recording(lambda: self.recorder.event(kind, t_s=t_s, **fields))

    def _recording(self, write: Callable[[], None]) -> None:
        """Write to the session files; a failing disk stops the recording, never the readout."""
        try:
            write()
        except OSError as exc:
            self._notice = f"session recording stopped: {exc.strerror or exc}"
            log.warning("session recording to %s failed and stopped: %s",
                        self.recorder.directory if self.recorder else "?", exc)
            abort = getattr(self.recorder, "abort", None)
            if abort is not None:
                abort(exc)  # keeps what was written, with an `interrupted` end line
            self.recorder = None

    # ------------------------------------------------------------ the poll

    def poll(self) -> LiveSnapshot:
        """Drain the device's events and return what to show now (never blocks)."""
        processed: list[tuple[Reading, CountFrame]] = []
        new_timed: TimedCountResult | None = None
        new_background: TimedCountResult | None = None
        for event in self.device.poll(timeout_s=0.0):
            if isinstance(event, FrameEvent):
                done = self._on_frame(event, processed)
                new_timed = done[0] or new_timed
                new_background = done[1] or new_background
            elif isinstance(event, LinkEvent):
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
        if state is not LinkState.CONNECTED and not self._gap and (
            self._link is LinkState.CONNECTED or self._reading is not None
        ):
            self._start_gap()
        self._link = state

    def _start_gap(self) -> None:
        self._gap = True
        self._reading = None
        if self._timed is not None and not self._timed.complete:
            self._notice = "timed count abandoned: the link was lost"
            log.info(self._notice)
            self._timed = None
        if self._bg_measure is not None:
            self._notice = "background measurement abandoned: the link was lost"
            log.info(self._notice)
            self._bg_measure = None

    def _restart_processor(self) -> None:
        background = self.background
        if background is not None and self._config.background_cps is None:
            self._config = replace(self._config, background_cps=background.rate_cps,
                                   background_sd_cps=background.sd_cps)
        previous, self._processor = self._processor, Processor(self._config)
        self._processor.carry_over_range(previous)  # a possibly paralysed counter stays flagged
        self._reading = None

    def _use_counter(self, spec: CounterSpec) -> None:
        """The device described its counter: its dead time drives the over-range rules (unless
        the user stated one)."""
        if self._counter is not None:
            spec = _stated(self._counter, spec)
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

    def _on_frame(self, event: FrameEvent,
                  processed: list[tuple[Reading, CountFrame]]) -> tuple:
        frame = event.frame
        if self._gap:
            self._gap = False
            self._restart_processor()
            last = self._trend.last_t_s()
            if last is not None:
                self._trend.add(last, np.nan, np.nan)
        self._link = LinkState.CONNECTED
        try:
            reading = self._processor.push(frame)
        except ValueError as exc:  # impossible values that a driver's plausibility gate let by
            self._notice = f"frame refused: {exc}"
            self._link_log.log(logging.WARNING, "refused frame", "frame at t_s %r refused: %s",
                               frame.t_s, exc)
            return None, None
        if self.recorder is not None:
            self._recording(lambda: self.recorder.write(frame))
        before = self._reading
        if before is not None and reading.over_range != before.over_range:
            self._record("over_range" if reading.over_range else "in_range", t_s=frame.t_s)
        if reading.hot != (before is not None and before.hot):
            self._record("hot" if reading.hot else "cold", t_s=frame.t_s)
        self._reading = reading
        self._last_frame, self._last_frame_host_s = frame, event.host_s
        if frame.spectrum is not None:
            self._spectrum = frame.spectrum
        last_t = self._trend.last_t_s()
        if last_t is not None and not (0.0 <= frame.t_s - last_t <= CLOCK_JUMP_S):
            self._trend.clear()
        self._trend.add(frame.t_s, reading.rate_cps, reading.rate_sd_cps)
        processed.append((reading, frame))
        return self._feed_measurements(frame)

    def _feed_measurements(self, frame: CountFrame) -> tuple:
        new_timed = new_background = None
        counts, live = frame.total_window0, frame.live_s
        if self._timed is not None and not self._timed.complete:
            self._timed.add(counts, live, frame.real_s, frame.t_s)
            if self._timed.complete:
                new_timed = self._timed_last = self._timed.result
                log.info("timed count done: %d counts in %.3f s live, net %.4g +- %.2g cps%s",
                         new_timed.counts, new_timed.live_s, new_timed.net_cps,
                         new_timed.net_sd_cps, " (significant)" if new_timed.significant else "")
                self._record("timed_count", t_s=frame.t_s, counts=new_timed.counts,
                             live_s=new_timed.live_s, rate_cps=new_timed.rate_cps,
                             net_cps=new_timed.net_cps)
        if self._bg_measure is not None:
            self._bg_measure.add(counts, live, frame.real_s, frame.t_s)
            if self._bg_measure.complete:
                new_background = self._bg_measure.result
                self._record("background_taken", t_s=frame.t_s, counts=new_background.counts,
                             live_s=new_background.live_s, rate_cps=new_background.rate_cps)
                self._bg_measure = None
                self.set_background(Background.measured(new_background.counts,
                                                        new_background.live_s))
        return new_timed, new_background

    def _snapshot(self, processed: tuple, new_timed: TimedCountResult | None,
                  new_background: TimedCountResult | None) -> LiveSnapshot:
        frame, status = self._last_frame, self._status
        faults = FaultFlag.NONE
        if frame is not None:
            faults |= frame.flags
        if status is not None:
            faults |= status.faults
        battery = status.battery_pct if status is not None else None
        battery_low = bool(faults & FaultFlag.LOW_BATTERY) or (
            battery is not None and battery < LOW_BATTERY_PCT)
        live = self._link is LinkState.CONNECTED
        reading = self._reading if live else None
        over = bool(reading is not None and reading.over_range) or bool(
            live and frame is not None and frame.flags & FaultFlag.OVER_RANGE)
        timed = self._timed
        running = timed is not None and not timed.complete
        measuring = self._bg_measure
        return LiveSnapshot(
            link=self._link, link_reason=self._link_reason, reading=reading,
            last_frame=frame, last_frame_host_s=self._last_frame_host_s, info=self._info,
            status=status, stats=self.device.stats, battery_pct=battery,
            battery_low=battery_low, faults=faults, over_range=over,
            background=self.background,
            background_progress=None if measuring is None
            else min(1.0, measuring.live_s / measuring.preset_s),
            timed=timed.result if running else self._timed_last,
            timed_preset_s=timed.preset_s if timed is not None else None,
            timed_progress=min(1.0, timed.live_s / timed.preset_s) if running else None,
            new_timed=new_timed,
            new_background=None if new_background is None else Background.measured(
                new_background.counts, new_background.live_s),
            new_background_count=new_background, spectrum=self._spectrum,
            frames=processed, notice=self._notice,
        )
