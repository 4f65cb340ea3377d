"""Test doubles for the core tests."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np


class CusumDetector:
    """A small Poisson CUSUM with the HotDetector interface (causal, chunk-invariant).

    Alarm for a doubling of the background: W = max(0, W + x ln 2 - b dt), hot while W >= h;
    W is capped at 2h so that the decision ends soon after the source is gone.
    Only a stand-in so the pipeline tests do not depend on the real detector's tuning.
    """

    created: ClassVar[list[tuple[float, float, float]]] = []

    def __init__(
        self, background_cps: float, false_alarm_interval_s: float = 600.0,
        background_sd_cps: float = 0.0,
    ) -> None:
        CusumDetector.created.append((background_cps, false_alarm_interval_s, background_sd_cps))
        self.b = max(background_cps, 1e-3)
        self.h = math.log(max(false_alarm_interval_s, 1.0))
        self.reset()

    def reset(self) -> None:
        self.w = 0.0

    def process(self, counts: np.ndarray, live_s: np.ndarray) -> np.ndarray:
        out = np.zeros(len(counts), dtype=bool)
        for i, (x, dt) in enumerate(zip(counts.tolist(), live_s.tolist(), strict=True)):
            self.w = min(max(0.0, self.w + x * math.log(2.0) - self.b * dt), 2 * self.h)
            out[i] = self.w >= self.h
        return out
