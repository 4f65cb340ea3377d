"""Every energy window through the processing path, with crosstalk correction between them.

One `Processor` per window (the single implementation: rate meter, background, hot detector,
over-range latch; chunk-invariant, so online and batch stay bit-identical), then per frame:
- the corrected rates of the windows' own isotopes (probe_nav.core.crosstalk.unmix) from the net
  rates of windows whose background is set and the gross rates of the others;
- a hot decision per window: the window's own detector (its counts against its background, with a
  share of the false-alarm budget: each of W windows gets W times the configured interval, so the
  mean interval between false cues of any window stays the configured one); for a window that
  receives crosstalk it also needs the corrected rate significant, corrected >= Z_GATE sd. The
  gate only removes cues, so the false-alarm rate stays controlled; it removes the cues the other
  isotope causes (over a Tc-99m injection site the I-125 window counts thousands of cps of
  downscatter);
- `dominated`: the window's detector says hot and the gate says no - the other isotope's spill is
  what the window sees (the display warns instead of calling it hot).
A counter is one counter: a frame over range in any window is over range in all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import ArrayLike

from probe_nav.calibration.crosstalk import SpillMatrix
from probe_nav.core.crosstalk import crosstalk_cps, unmix
from probe_nav.core.pipeline import DetectorFactory, PipelineConfig, Processor, Readings

# One-sided 3 sd: a window with none of its own isotope passes the gate in 0.13 % of independent
# meter intervals, and the window's own detector has to say hot as well.
Z_GATE = 3.0

# A given background of one window: (rate_cps, sd_cps); None = the base config's rule.
WindowBackground = tuple[float, float] | None


@dataclass(frozen=True, slots=True)
class WindowReadings:
    """Readings of many frames in W windows: per-window arrays of shape (n, W)."""

    t_s: np.ndarray  # (n,)
    over_range: np.ndarray  # (n,) any window over range
    per_window: tuple[Readings, ...]  # each window's own Readings (hot = its own detector's)
    corrected_cps: np.ndarray  # (n, W) own-isotope rate: net where the background is set
    corrected_sd_cps: np.ndarray  # (n, W)
    hot: np.ndarray  # (n, W) bool: detector hot and, with crosstalk in, corrected significant
    dominated: np.ndarray  # (n, W) bool: detector hot, corrected not significant
    background_set: np.ndarray  # (n, W) bool

    def __len__(self) -> int:
        return int(self.t_s.size)

    @property
    def n_windows(self) -> int:
        """W."""
        return len(self.per_window)

    def gross_cps(self) -> np.ndarray:
        """(n, W) rate meter outputs (each window's gross rate)."""
        return np.stack([r.rate_cps for r in self.per_window], axis=1)

    @staticmethod
    def concatenate(parts: Sequence[WindowReadings]) -> WindowReadings:
        """One WindowReadings from consecutive chunks."""
        w = parts[0].n_windows
        return WindowReadings(
            np.concatenate([p.t_s for p in parts]),
            np.concatenate([p.over_range for p in parts]),
            tuple(Readings.concatenate([p.per_window[i] for p in parts]) for i in range(w)),
            *(np.concatenate([getattr(p, name) for p in parts]) for name in
              ("corrected_cps", "corrected_sd_cps", "hot", "dominated", "background_set")),
        )


def window_config(base: PipelineConfig, index: int, n_windows: int,
                  background: WindowBackground) -> PipelineConfig:
    """The Processor settings of window `index`: its own background if given (window 0 keeps the
    base's when not), the base's measured-background rule otherwise, a 1/W share of the false-
    alarm budget."""
    config = replace(base, false_alarm_interval_s=base.false_alarm_interval_s * n_windows)
    if background is not None:
        return replace(config, background_cps=float(background[0]),
                       background_sd_cps=float(background[1]), background_s=None)
    if index > 0 and base.background_cps is not None:  # window 0's number is not this window's
        return replace(config, background_cps=None, background_sd_cps=0.0)
    return config


class WindowsProcessor:
    """Stateful processing of W windows with crosstalk correction; see the module docstring."""

    def __init__(self, n_windows: int, config: PipelineConfig | None = None,
                 spill: SpillMatrix | None = None,
                 backgrounds: Sequence[WindowBackground] | None = None,
                 detector_factory: DetectorFactory | None = None) -> None:
        base = config or PipelineConfig()
        self.spill = spill if spill is not None else SpillMatrix.none(n_windows)
        if self.spill.n_windows != n_windows:
            raise ValueError(f"a spill matrix of {self.spill.n_windows} windows for "
                             f"{n_windows} windows")
        given = list(backgrounds or ())
        if len(given) > n_windows:
            raise ValueError(f"{len(given)} backgrounds for {n_windows} windows")
        given += [None] * (n_windows - len(given))
        self.processors = [Processor(window_config(base, i, n_windows, given[i]),
                                     detector_factory) for i in range(n_windows)]
        self._gated = np.array([any(s.target == i for s in self.spill.spills)
                                for i in range(n_windows)])

    @property
    def n_windows(self) -> int:
        """W."""
        return len(self.processors)

    def reset(self) -> None:
        """Start a new stream in every window."""
        for p in self.processors:
            p.reset()

    def process(self, t_s: ArrayLike, live_s: ArrayLike, counts: ArrayLike,
                real_s: ArrayLike | None = None, flags: ArrayLike | None = None) -> WindowReadings:
        """Process a chunk; `counts` has shape (n, W). State carries over to the next chunk."""
        c = np.asarray(counts)
        if c.ndim != 2 or c.shape[1] != self.n_windows:
            raise ValueError(f"counts of shape {c.shape}: expected (n, {self.n_windows})")
        per = tuple(p.process(t_s, live_s, c[:, i], real_s, flags)
                    for i, p in enumerate(self.processors))
        over = np.logical_or.reduce([r.over_range for r in per])
        bg_set = np.stack([np.isfinite(r.background_cps) for r in per], axis=1)
        rate = np.stack([np.where(np.isfinite(r.net_cps), r.net_cps, r.rate_cps) for r in per],
                        axis=1)
        sd = np.stack([np.where(np.isfinite(r.net_sd_cps), r.net_sd_cps, r.rate_sd_cps)
                       for r in per], axis=1)
        corrected, corrected_sd = unmix(rate, sd, self.spill)
        with np.errstate(divide="ignore", invalid="ignore"):
            significant = corrected >= Z_GATE * corrected_sd
        detector_hot = np.stack([r.hot for r in per], axis=1) & ~over[:, None]
        passes = significant | ~self._gated[None, :]
        hot = detector_hot & passes
        dominated = detector_hot & ~passes
        return WindowReadings(per[0].t_s, over, per, corrected, corrected_sd, hot, dominated,
                              bg_set)


def process_windows(t_s: ArrayLike, live_s: ArrayLike, counts: ArrayLike,
                    real_s: ArrayLike | None = None, flags: ArrayLike | None = None,
                    config: PipelineConfig | None = None, spill: SpillMatrix | None = None,
                    backgrounds: Sequence[WindowBackground] | None = None) -> WindowReadings:
    """Batch processing of a whole multi-window recording with a fresh WindowsProcessor."""
    c = np.asarray(counts)
    n_windows = 1 if c.ndim == 1 else int(c.shape[1])
    return WindowsProcessor(n_windows, config, spill, backgrounds).process(
        t_s, live_s, c.reshape(-1, n_windows), real_s, flags)


def crosstalk_share(readings: WindowReadings, spill: SpillMatrix) -> np.ndarray:
    """(n, W) fraction of each window's measured rate that is the other isotopes' spill (0..1;
    NaN where the window measured nothing)."""
    received = crosstalk_cps(readings.corrected_cps, spill)
    own = np.clip(readings.corrected_cps, 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = received / (received + own)
    return np.where(np.isfinite(share), share, math.nan)
