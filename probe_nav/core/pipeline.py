"""The processing pipeline: frames in, Readings out, online (one frame) or batch (arrays).

One implementation serves both: `Processor.process` takes a chunk of frames as arrays and carries
all state (rate meter, background measurement, hot detector, over-range latch) between chunks;
`Processor.push` calls it with a chunk of one frame. Every stage is chunk-invariant, so online and
batch give bit-for-bit the same numbers for the same frames.

Background: given (`background_cps`, sd `background_sd_cps`), or measured from the first
`background_s` seconds of live time because the user says those seconds are background, or NOT SET
(both None, the default): a background nobody set never yields a hot decision. While it is measured,
background fields show the measurement so far and `hot` is False; the hot-spot detector starts with
the frame after. While it is not set, background, net and z are NaN and `hot` is False
(`Reading.background_set` is False): the rate is the gross rate and nothing more.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.calibration.deadtime import DeadTimeModel
from probe_nav.core.background import BackgroundMeasurement, net_rate, z_score
from probe_nav.core.history import carried_cumsum
from probe_nav.core.overrange import MAX_CHANGE_PER_S, OverRangeDetector, dead_time_model
from probe_nav.core.rate import as_frames, make_meter, poisson_sd_cps, ratio_rate_cps
from probe_nav.drivers.frames import CounterSpec, CountFrame


@dataclass(frozen=True, slots=True)
class Reading:
    """What the display and the audio need at one frame (rates in cps)."""

    t_s: float
    rate_cps: float
    rate_sd_cps: float
    background_cps: float
    background_sd_cps: float
    net_cps: float
    net_sd_cps: float
    z: float
    hot: bool
    over_range: bool

    @property
    def background_set(self) -> bool:
        """False while no background was given or measured: `hot` then means nothing."""
        return math.isfinite(self.background_cps)


@dataclass(frozen=True, slots=True)
class Readings:
    """Readings of many frames, one array per Reading field."""

    t_s: np.ndarray
    rate_cps: np.ndarray
    rate_sd_cps: np.ndarray
    background_cps: np.ndarray
    background_sd_cps: np.ndarray
    net_cps: np.ndarray
    net_sd_cps: np.ndarray
    z: np.ndarray
    hot: np.ndarray
    over_range: np.ndarray

    def __len__(self) -> int:
        return int(self.t_s.size)

    def __getitem__(self, i: int) -> Reading:
        return Reading(*(getattr(self, f.name)[i].item() for f in fields(Reading)))

    def as_dict(self) -> dict[str, np.ndarray]:
        """The arrays by field name."""
        return {f.name: getattr(self, f.name) for f in fields(Readings)}

    @staticmethod
    def concatenate(parts: list[Readings]) -> Readings:
        """One Readings from consecutive chunks."""
        names = [f.name for f in fields(Readings)]
        return Readings(*(np.concatenate([getattr(p, n) for p in parts]) for n in names))


class HotDetectorLike(Protocol):
    """Interface of probe_nav.core.detect.HotDetector."""

    def process(self, counts: np.ndarray, live_s: np.ndarray) -> np.ndarray:
        """Causal hot decision per frame."""
        ...

    def reset(self) -> None:
        """Forget the past."""
        ...


# (background_cps, false_alarm_interval_s, background_sd_cps) -> detector
DetectorFactory = Callable[[float, float, float], HotDetectorLike]


def default_detector_factory(
    background_cps: float, false_alarm_interval_s: float, background_sd_cps: float
) -> HotDetectorLike:
    """probe_nav.core.detect.HotDetector (imported on first use)."""
    from probe_nav.core.detect import HotDetector

    return HotDetector(
        background_cps,
        false_alarm_interval_s=false_alarm_interval_s,
        background_sd_cps=background_sd_cps,
    )


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """Settings of a Processor."""

    meter: str = "adaptive"  # 'adaptive' or a fixed time constant in s ('0.5', '1', '2', '5')
    background_cps: float | None = None  # the user's background; None: see background_s
    background_sd_cps: float = 0.0
    background_s: float | None = None  # the first S s of live time ARE background (user says so)
    false_alarm_interval_s: float = 600.0
    dead_time: DeadTimeModel | None = None  # enables the rate-based over-range rules
    live_time_measured: bool | None = None  # None: judged from the frames (core/overrange.py)
    max_change_per_s: float = MAX_CHANGE_PER_S  # fastest change of the true rate (overrange.py)

    def as_dict(self) -> dict[str, object]:
        """Settings as plain values."""
        return asdict(self)

    def with_counter(self, spec: CounterSpec | None) -> PipelineConfig:
        """These settings with the over-range rules of a device's counter (DeviceInfo.counter)."""
        if spec is None:
            return replace(self, dead_time=None, live_time_measured=None,
                           max_change_per_s=MAX_CHANGE_PER_S)
        return replace(self, dead_time=dead_time_model(spec),
                       live_time_measured=spec.live_time_measured,
                       max_change_per_s=spec.max_change_per_s or MAX_CHANGE_PER_S)


class Processor:
    """Stateful processing of a frame stream; see the module docstring."""

    def __init__(
        self, config: PipelineConfig | None = None, detector_factory: DetectorFactory | None = None
    ) -> None:
        self.config = config or PipelineConfig()
        self._factory = detector_factory or default_detector_factory
        self._meter = make_meter(self.config.meter)
        cfg = self.config
        self._over = OverRangeDetector(cfg.dead_time, live_time_measured=cfg.live_time_measured,
                                       max_change_per_s=cfg.max_change_per_s)
        self.reset()

    def reset(self) -> None:
        """Start a new stream (a given background is kept; a measured one is measured again)."""
        cfg = self.config
        self._meter.reset()
        self._over.reset()
        self._bg = BackgroundMeasurement(cfg.background_s)
        self._detector: HotDetectorLike | None = None
        if cfg.background_cps is None and cfg.background_s is None:
            self._bg_value = (math.nan, math.nan)  # not set: no hot decision, ever
        elif cfg.background_cps is None:
            self._bg.start()
            self._bg_value = (0.0, float("inf"))
        else:
            self._bg_value = (float(cfg.background_cps), float(cfg.background_sd_cps))
            self._detector = self._make_detector()

    def carry_over_range(self, previous: Processor) -> None:
        """Keep the over-range latch of the Processor this one replaces (a session restarting
        its estimate after a gap or a settings change): a counter that may be paralysed stays
        flagged until it has demonstrably recovered."""
        self._over.carry_from(previous._over)

    def clear_over_range(self) -> None:
        """The user confirms the probe is away from any strong source: release the latch."""
        self._over.clear()

    @property
    def over_range_latched(self) -> bool:
        """True while the over-range latch is set."""
        return self._over.latched

    @property
    def background_ready(self) -> bool:
        """True once the background is known (given, or its measurement finished)."""
        return self._detector is not None

    @property
    def background(self) -> tuple[float, float] | None:
        """(rate, sd) in cps of the background in use, None while not set or being measured."""
        return self._bg_value if self._detector is not None else None

    def _make_detector(self) -> HotDetectorLike:
        b, sd = self._bg_value
        return self._factory(b, self.config.false_alarm_interval_s, sd)

    def push(self, frame: CountFrame) -> Reading:
        """Process one frame (online)."""
        return self.process_frames((frame,))[0]

    def process_frames(self, frames: Sequence[CountFrame]) -> Readings:
        """Process consecutive frames as one chunk (a live poll's frames: the same numbers as
        one by one, in a fraction of the numpy calls)."""
        return self.process(
            np.array([f.t_s for f in frames]), np.array([f.live_s for f in frames]),
            np.array([f.total_window0 for f in frames]),
            real_s=np.array([f.real_s for f in frames]),
            flags=np.array([int(f.flags) for f in frames]),
        )

    def process(
        self,
        t_s: ArrayLike,
        live_s: ArrayLike,
        counts: ArrayLike,
        real_s: ArrayLike | None = None,
        flags: ArrayLike | None = None,
    ) -> Readings:
        """Process a chunk of frames (any length); state carries over to the next chunk."""
        c, v = as_frames(counts, live_s)
        t = np.ascontiguousarray(t_s, dtype=np.float64).reshape(-1)
        if t.shape != c.shape:
            raise ValueError("t_s and counts differ in length")
        r = None if real_s is None else np.ascontiguousarray(real_s, dtype=np.float64).reshape(-1)
        est = self._meter.process(c, v)
        over = self._over.process(c, v, r, flags)
        b, b_sd = np.full(c.size, self._bg_value[0]), np.full(c.size, self._bg_value[1])
        hot = np.zeros(c.size, dtype=bool)
        start = 0
        if self._detector is None and self._bg.running:  # background being measured
            n0, t0 = self._bg.counts, self._bg.live_s
            start = self._bg.add(c, v)
            cum_n = n0 + np.cumsum(c[:start])
            cum_t = carried_cumsum(t0, v[:start])
            b[:start] = ratio_rate_cps(cum_n, cum_t)
            b_sd[:start] = poisson_sd_cps(cum_n, cum_t)
            if self._bg.complete:
                res = self._bg.result
                self._bg_value = (res.rate_cps, res.sd_cps)
                b[start:], b_sd[start:] = res.rate_cps, res.sd_cps
                self._detector = self._make_detector()
        if self._detector is not None and start < c.size:
            hot[start:] = self._detector.process(c[start:], v[start:])
        net, net_sd = net_rate(est.rate_cps, est.rate_sd_cps, b, b_sd)
        z = z_score(net, est.eff_live_s, b, b_sd)
        if math.isnan(self._bg_value[0]):  # no background set: no significance either
            z = np.full(c.size, math.nan)
        return Readings(t, est.rate_cps, est.rate_sd_cps, b, b_sd, net, net_sd, z, hot, over)


def process_arrays(
    t_s: ArrayLike,
    live_s: ArrayLike,
    counts: ArrayLike,
    real_s: ArrayLike | None = None,
    flags: ArrayLike | None = None,
    config: PipelineConfig | None = None,
    detector_factory: DetectorFactory | None = None,
) -> Readings:
    """Batch processing of a whole recording with a fresh Processor."""
    return Processor(config, detector_factory).process(t_s, live_s, counts, real_s, flags)
