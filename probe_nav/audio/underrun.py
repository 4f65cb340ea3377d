"""Underrun detection for a pull-mode audio sink: did the sound stutter?

A sink in pull mode asks for samples whenever its buffer has room, so while it keeps up the
lag `d = wall time since the first pull - audio handed over before this pull` stays at a
constant level (the sound server's start-up delay minus the buffer), up to the pulls' jitter.
When the process is starved of CPU the sink plays out its buffer and the speaker goes silent;
once the process runs again the sink refills its buffer with a quick burst of pulls, and from
then on `d` sits higher by the length of the silence. A pull that is merely late (the buffer
still held sound) raises `d` only until the buffer is full again. So a rise counts as an
underrun, of the size it keeps, only if `d` stays above the level for a buffer's worth of audio
pulled after it. Counting them tells a stuttering console from a quiet one in the log, and tells
the audio tests when the machine, not the sound, was at fault.

While the stream is starting (the server takes a few hundred ms to begin playing the first
buffer) a rise is not a gap in sound that was playing: rises count only once the sink has pulled
SETTLE_S of audio steadily.

Pure arithmetic on a clock the caller passes in; no Qt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# A pull comes late by the scheduler's jitter, and a pull's chunk (5-10 ms of audio) makes the
# lag step; 10 ms above the level is below what a listener hears as a gap.
TOLERANCE_S = 0.010
# The sound card's sample clock and the host's monotonic clock drift apart by up to ~100 ppm;
# allowing 200 ppm of the time since the level was set keeps an hour's drift (0.7 s) from
# counting as underruns.
DRIFT = 2e-4
SETTLE_S = 0.2  # audio pulled without a rise before rises count as underruns


@dataclass
class UnderrunMeter:
    """Counts underruns of a sink playing `sample_rate_hz` samples per second from a buffer of
    `buffer_s` seconds."""

    sample_rate_hz: float
    buffer_s: float = 0.04
    count: int = 0
    gap_s: float = 0.0  # total silence the underruns caused
    _first_s: float | None = None
    _samples: int = 0  # handed over since the first pull
    _level_s: float = math.inf
    _level_since_s: float = 0.0
    _steady_samples: int = 0  # pulled since the last settled rise
    _rise_min_s: float | None = None  # lowest lag since a rise began (None: no rise pending)
    _rise_samples: int = 0  # pulled since the rise began

    def pulled(self, n_samples: int, now_s: float) -> float:
        """The sink took `n_samples` more at `now_s`; returns the gap (s) of an underrun decided
        at this pull, 0.0 if none."""
        if self._first_s is None:
            self._first_s, self._level_since_s = now_s, now_s
        lag_s = (now_s - self._first_s) - self._samples / self.sample_rate_hz
        self._samples += n_samples
        limit_s = self._level_s + TOLERANCE_S + DRIFT * (now_s - self._level_since_s)
        if self._rise_min_s is None:
            if lag_s <= limit_s:
                self._level_s = min(self._level_s, lag_s)
                self._steady_samples += n_samples
                return 0.0
            self._rise_min_s, self._rise_samples = lag_s, 0  # a late pull, or a gap: wait
        self._rise_min_s = min(self._rise_min_s, lag_s)
        self._rise_samples += n_samples
        if self._rise_min_s <= limit_s:  # the buffer refilled to the old level: only late
            self._rise_min_s = None
            self._steady_samples += n_samples
            return 0.0
        if self._rise_samples < self.buffer_s * self.sample_rate_hz:
            return 0.0  # not yet refilled: undecided
        gap_s = self._rise_min_s - self._level_s
        counted = self._steady_samples >= SETTLE_S * self.sample_rate_hz
        self._level_s, self._level_since_s = self._rise_min_s, now_s
        self._rise_min_s, self._steady_samples = None, 0
        if not counted:
            return 0.0  # the stream was still starting
        self.count += 1
        self.gap_s += gap_s
        return gap_s

    def restart(self) -> None:
        """Forget the timeline (the sink was stopped or suspended on purpose)."""
        self._first_s, self._samples, self._steady_samples = None, 0, 0
        self._level_s, self._rise_min_s = math.inf, None
