"""Dual-isotope surgery (RSL + SLNB): both windows of the probe with crosstalk correction, Qt-free.

`DualIsotope` takes the session's snapshots (`feed`), runs every window through
probe_nav.core.windows (corrected rates, per-window hot decisions gated on the corrected rate) and
gives the console a `DualState` per poll: each window's isotope, corrected rate (shown never below
0), its sd, hot or "the other isotope dominates", and which window the sound follows (one key
switches). Backgrounds: each window's own, measured together over the same live seconds when the
user asks (B); none is ever guessed. Without a crosstalk calibration the rates are the windows'
own net rates and the state says CROSSTALK NOT CORRECTED.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from probe_nav.calibration.crosstalk import ISOTOPE_PAIRS, SpillMatrix
from probe_nav.calibration.nuclides import nuclide
from probe_nav.core.background import Background, BackgroundMeasurement
from probe_nav.core.pipeline import PipelineConfig, Reading
from probe_nav.core.windows import WindowBackground, WindowReadings, WindowsProcessor
from probe_nav.drivers.frames import CountFrame, EnergyWindow
from probe_nav.live.snapshot import LiveSnapshot

log = logging.getLogger(__name__)

PRESETS = ISOTOPE_PAIRS  # the common pairs: (seed or second tracer, node tracer)
Dual = tuple[str, SpillMatrix | None]  # (pair name, crosstalk calibration or None) to turn it on

# Timbre of each window's tone: the node (Tc-99m) keeps the familiar sine; the other is bright.
TIMBRES = ("bright", "sine")


class DualError(ValueError):
    """The device or the settings cannot do dual-isotope counting (one line for the user)."""


def preset_names() -> list[str]:
    """The names of the isotope pairs."""
    return list(PRESETS)


def window_indices(preset: str, windows: Sequence[EnergyWindow]) -> tuple[int, int]:
    """The device windows that count the preset's two nuclides (by name, else by the nuclide's
    usual window overlapping the device window most); DualError when it has no such pair."""
    if preset not in PRESETS:
        raise DualError(f"unknown isotope pair {preset!r}; known: {', '.join(PRESETS)}")
    if len(windows) < 2:
        raise DualError("this device counts one energy window: dual-isotope needs two")
    found = []
    for name in PRESETS[preset]:
        usual = nuclide(name).window
        named = [i for i, w in enumerate(windows) if w.name.lower() == name.lower()]
        overlap = [max(0.0, min(w.hi_kev, usual.hi_kev) - max(w.lo_kev, usual.lo_kev))
                   for w in windows]
        if named:
            found.append(named[0])
        elif max(overlap) > 0:
            found.append(int(np.argmax(overlap)))
        else:
            raise DualError(f"no window of this device counts {name} "
                            f"({usual.lo_kev:g}-{usual.hi_kev:g} keV)")
    if found[0] == found[1]:
        raise DualError(f"{preset}: one window of this device would count both isotopes")
    return found[0], found[1]


@dataclass(frozen=True, slots=True)
class WindowView:
    """What the console shows for one isotope."""

    nuclide: str
    corrected_cps: float  # never below 0 (NaN when not live)
    corrected_sd_cps: float
    gross_cps: float
    hot: bool
    dominated: bool  # its detector fired on the other isotope's spill
    background_set: bool


@dataclass(frozen=True, slots=True)
class DualState:
    """Both windows at one poll, and which one the sound follows."""

    windows: tuple[WindowView, WindowView]
    selected: int  # 0 or 1: index into `windows`
    live: bool
    corrected: bool  # False: no crosstalk calibration, the rates are each window's own
    background_progress: float | None


class DualIsotope:
    """See the module docstring. `spill` is over the two preset windows (0 = the first nuclide)."""

    def __init__(self, preset: str, spill: SpillMatrix | None = None,
                 config: PipelineConfig | None = None) -> None:
        if preset not in PRESETS:
            raise DualError(f"unknown isotope pair {preset!r}; known: {', '.join(PRESETS)}")
        if spill is not None and spill.n_windows != 2:
            raise DualError(f"a spill matrix of {spill.n_windows} windows for an isotope pair")
        self.preset = preset
        self.nuclides = PRESETS[preset]
        self.spill = spill
        self.config = config or PipelineConfig()
        self.selected = 1  # the sentinel node's tracer first
        self.indices: tuple[int, int] | None = None  # device windows, once the device is known
        self._backgrounds: list[WindowBackground] = [None, None]
        self._measure: list[BackgroundMeasurement] | None = None
        self._processor = self._new_processor()
        self._last: WindowReadings | None = None

    def _new_processor(self) -> WindowsProcessor:
        return WindowsProcessor(2, self.config, self.spill, self._backgrounds)

    def set_spill(self, spill: SpillMatrix | None) -> None:
        """A crosstalk calibration found later (the probe's, once it has said who it is); the
        estimate starts again, the backgrounds stay."""
        if spill is not None and spill.n_windows != 2:
            raise DualError(f"a spill matrix of {spill.n_windows} windows for an isotope pair")
        self.spill = spill
        self._processor = self._new_processor()

    def switch(self) -> int:
        """The sound follows the other isotope; returns the new selection."""
        self.selected = 1 - self.selected
        return self.selected

    def start_background(self, duration_s: float) -> None:
        """Measure both windows' backgrounds over the next `duration_s` s of live time (the user
        says the probe is over background tissue)."""
        self._measure = [BackgroundMeasurement(duration_s), BackgroundMeasurement(duration_s)]
        for m in self._measure:
            m.start()

    def cancel_background(self) -> None:
        """Stop a background measurement (keeps the previous backgrounds)."""
        self._measure = None

    def set_backgrounds(self, backgrounds: Sequence[Background | None]) -> None:
        """Each window's background (None: not set), then a fresh estimate."""
        self._backgrounds = [None if b is None else (b.rate_cps, b.sd_cps) for b in backgrounds]
        self._processor = self._new_processor()

    @property
    def backgrounds(self) -> list[WindowBackground]:
        """(rate, sd) per window, None where not set."""
        return list(self._backgrounds)

    def feed(self, snap: LiveSnapshot) -> DualState:
        """Process this poll's frames; the state to show."""
        if snap.info is not None and self.indices is None:
            self.indices = window_indices(self.preset, snap.info.windows)
        frames = [f for _, f in snap.frames]
        if not snap.live or self.indices is None:
            self._processor.reset()  # a gap: the estimate starts again, the backgrounds stay
            self._last = None
        elif frames:
            self._process(frames)
        return self._state(snap.live and self._last is not None)

    def _process(self, frames: list[CountFrame]) -> None:
        assert self.indices is not None
        i, j = self.indices
        counts = np.array([[_count(f, i), _count(f, j)] for f in frames], dtype=np.int64)
        live = np.array([f.live_s for f in frames])
        if self._measure is not None:
            for k, m in enumerate(self._measure):
                m.add(counts[:, k], live)  # the same live seconds in both windows
            if all(m.complete for m in self._measure):
                results = [m.result for m in self._measure]
                self._measure = None
                log.info("dual-isotope backgrounds: %s", [f"{b.rate_cps:.3g}" for b in results])
                self.set_backgrounds(results)
        self._last = self._processor.process(
            np.array([f.t_s for f in frames]), live, counts,
            real_s=np.array([f.real_s for f in frames]),
            flags=np.array([int(f.flags) for f in frames]))

    def readings(self) -> list[Reading]:
        """The selected window's Readings of this poll's frames, for the sound: the corrected
        rate (plus the background: the tone's scale is a gross rate) as the rate, so the pitch
        follows the isotope and not the other's spill, and the gated hot decision."""
        last = self._last
        if last is None:
            return []
        k = self.selected
        out = []
        for i in range(len(last)):
            r = last.per_window[k][i]
            corrected = float(last.corrected_cps[i, k])
            sd = float(last.corrected_sd_cps[i, k])
            rate = max(corrected, 0.0) + (r.background_cps if math.isfinite(r.background_cps)
                                          else 0.0)
            z = corrected / sd if sd > 0 and math.isfinite(r.z) else r.z
            out.append(Reading(r.t_s, rate, sd, r.background_cps, r.background_sd_cps, corrected,
                               sd, z, bool(last.hot[i, k]), bool(last.over_range[i])))
        return out

    def selected_counts(self, frame: CountFrame) -> int:
        """The selected window's counts of a frame (the clicks)."""
        if self.indices is None:
            return frame.total_window0
        return _count(frame, self.indices[self.selected])

    def _state(self, live: bool) -> DualState:
        views = []
        for k, name in enumerate(self.nuclides):
            if live and self._last is not None and len(self._last):
                last = self._last
                views.append(WindowView(
                    name, max(float(last.corrected_cps[-1, k]), 0.0),
                    float(last.corrected_sd_cps[-1, k]),
                    float(last.per_window[k].rate_cps[-1]), bool(last.hot[-1, k]),
                    bool(last.dominated[-1, k]), bool(last.background_set[-1, k])))
            else:
                views.append(WindowView(name, math.nan, math.nan, math.nan, False, False,
                                        self._backgrounds[k] is not None))
        progress = None
        if self._measure is not None:
            m = self._measure[0]
            progress = min(1.0, m.live_s / m.duration_s) if m.duration_s else None
        return DualState((views[0], views[1]), self.selected, live,
                         self.spill is not None and bool(self.spill.spills), progress)


def _count(frame: CountFrame, index: int) -> int:
    return frame.counts[index] if index < len(frame.counts) else 0
