"""Geiger clicks: one click per counted event, at Poisson-faithful times, decimated when fast.

Placement: given N counts in a frame of live time T, the event times of a Poisson process are
independent and uniform on the interval, so the N clicks of a frame are drawn uniform on the
next T seconds of the audio timeline (a frame is heard one frame late, in order). Clicks closer
than `min_spacing_s` (2 ms) are pushed apart so each one stays audible and countable.

Decimation: with the rate r above `click_max_rate_cps`, one click per k counts where
k = ceil(r / click_max_rate_cps); a running count carries the remainder from frame to frame, so
clicks x k = counts exactly over time. Whatever the rate says, k is at least large enough that a
frame's clicks fit in it at the minimum spacing (a burst, or a rate that is not a number).
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

CLICK_S = 0.001  # length of one click
MIN_SPACING_S = 0.002  # clicks never start closer than this
MAX_LEAD_S = 0.25  # the click schedule never runs further than this ahead of the audio
MAX_DECIMATION = 10**12
MAX_FRAME_S = 10.0  # longer frames are heard as this long


def click_waveform(sample_rate_hz: int) -> np.ndarray:
    """One click: a 1 ms burst at 3.5 kHz with a fast decay (a sharp, dry Geiger tick)."""
    n = max(4, round(CLICK_S * sample_rate_hz))
    t = np.arange(n) / sample_rate_hz
    env = (1.0 - np.arange(n) / n) ** 2
    return env * np.sin(2.0 * math.pi * 3500.0 * t + 0.5 * math.pi)


def decimation_factor(rate_cps: float, click_max_rate_cps: float) -> int:
    """Counts per click: 1 up to the maximum click rate, then ceil(rate / maximum)."""
    if math.isnan(rate_cps) or rate_cps <= click_max_rate_cps:
        return 1
    if math.isinf(rate_cps) or rate_cps / click_max_rate_cps >= MAX_DECIMATION:
        return MAX_DECIMATION
    return min(MAX_DECIMATION, math.ceil(rate_cps / click_max_rate_cps))


class ClickTrack:
    """Schedules clicks on the audio sample clock and renders them."""

    def __init__(self, sample_rate_hz: int, seed: int = 0) -> None:
        self.sample_rate_hz = int(sample_rate_hz)
        self._rng = np.random.default_rng(seed)
        self._wave = click_waveform(self.sample_rate_hz)
        self._pending: deque[int] = deque()  # absolute sample positions, sorted
        self._schedule_end = 0  # sample where the next frame's interval starts
        self._carry = 0  # counts since the last click (decimation)
        self._tail = np.zeros(0)  # part of a click that spills into the next block
        self.clicks_scheduled = 0

    def add_frame(self, counts: int, live_s: float, now_sample: int, k: int = 1) -> int:
        """Schedule a frame's clicks after `now_sample`; returns how many were scheduled."""
        if not math.isfinite(live_s) or live_s <= 0:
            return 0
        if counts <= 0:
            self._advance_schedule(min(live_s, MAX_FRAME_S), now_sample)
            return 0
        live_s = min(live_s, MAX_FRAME_S)
        # Never more clicks than fit in the frame at their minimum spacing.
        fit = max(1, int(live_s / MIN_SPACING_S))
        k = max(1, int(k), math.ceil(counts / fit))
        start, length = self._advance_schedule(live_s, now_sample)
        # Every k-th count (counting from the carry) clicks.
        first = k - 1 - self._carry if self._carry < k else 0
        n_clicks = 0 if first >= counts else 1 + (counts - 1 - first) // k
        self._carry = (self._carry + counts) % k
        if n_clicks == 0:
            return 0
        picked = self._kth_event_times(counts, first, k, n_clicks)
        positions = start + np.floor(picked * length).astype(np.int64)
        spacing = round(MIN_SPACING_S * self.sample_rate_hz)
        last = self._pending[-1] if self._pending else -spacing
        placed: list[int] = []
        for pos in positions.tolist():
            pos = max(pos, last + spacing)
            placed.append(pos)
            last = pos
        self._pending.extend(placed)
        self.clicks_scheduled += len(placed)
        return len(placed)

    def _kth_event_times(self, counts: int, first: int, k: int, n_clicks: int) -> np.ndarray:
        """Times (fractions of the frame) of events first, first + k, ... among `counts` sorted
        uniform times, drawn exactly in O(clicks): the gaps of N sorted uniforms are
        exponentials over their sum, so a group of k gaps is a Gamma(k) variate."""
        rest = counts + 1 - (first + 1) - (n_clicks - 1) * k
        shapes = np.concatenate([[first + 1.0], np.full(n_clicks - 1, float(k)), [float(rest)]])
        gaps = self._rng.gamma(shapes)
        return np.cumsum(gaps[:-1]) / gaps.sum()

    def _advance_schedule(self, live_s: float, now_sample: int) -> tuple[int, int]:
        """The next interval of the click timeline for a frame of `live_s`."""
        length = max(1, round(live_s * self.sample_rate_hz))
        lead = int(MAX_LEAD_S * self.sample_rate_hz)
        start = self._schedule_end
        if start < now_sample or start > now_sample + lead:
            start = now_sample  # fell behind (or ran ahead): restart at the audio clock
        self._schedule_end = start + length
        return start, length

    def clear(self) -> None:
        """Forget scheduled clicks (the data stopped: nothing stale may click on)."""
        self._pending.clear()
        self._carry = 0
        self._schedule_end = 0

    def render(self, start_sample: int, n: int) -> np.ndarray:
        """Samples [start_sample, start_sample + n) of the click track."""
        out = np.zeros(n)
        m = min(n, self._tail.size)
        out[:m] += self._tail[:m]
        self._tail = self._tail[m:]
        end = start_sample + n
        wave = self._wave
        while self._pending and self._pending[0] < end:
            pos = self._pending.popleft() - start_sample
            pos = max(0, pos)
            take = min(wave.size, n - pos)
            out[pos:pos + take] += wave[:take]
            if take < wave.size:
                spill = wave[take:]
                if self._tail.size < spill.size:
                    self._tail = np.pad(self._tail, (0, spill.size - self._tail.size))
                self._tail[:spill.size] += spill
        return out
