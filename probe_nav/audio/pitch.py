"""The rate-to-pitch map: logarithmic in rate, logarithmic in frequency (equal ratios of count
rate give equal musical intervals), clipped to the configured range."""

from __future__ import annotations

import math


def rate_to_pitch_hz(
    rate_cps: float,
    *,
    pitch_min_hz: float = 200.0,
    pitch_max_hz: float = 2000.0,
    rate_min_cps: float = 1.0,
    rate_max_cps: float = 10000.0,
) -> float | None:
    """Tone frequency for a count rate; None when the rate is not a number (no tone).

    f = f_min * (f_max / f_min) ** x with x = log(r / r_min) / log(r_max / r_min) clipped to
    [0, 1]: zero and negative rates give f_min, infinity gives f_max.
    """
    try:
        rate = float(rate_cps)
    except (TypeError, ValueError):
        return None
    if math.isnan(rate):
        return None
    if rate <= rate_min_cps:
        return float(pitch_min_hz)
    if rate >= rate_max_cps:
        return float(pitch_max_hz)
    x = math.log(rate / rate_min_cps) / math.log(rate_max_cps / rate_min_cps)
    return float(pitch_min_hz * (pitch_max_hz / pitch_min_hz) ** x)


def pitch_to_rate_cps(
    pitch_hz: float,
    *,
    pitch_min_hz: float = 200.0,
    pitch_max_hz: float = 2000.0,
    rate_min_cps: float = 1.0,
    rate_max_cps: float = 10000.0,
) -> float:
    """Inverse of `rate_to_pitch_hz` inside the range (what rate a heard pitch stands for)."""
    x = math.log(pitch_hz / pitch_min_hz) / math.log(pitch_max_hz / pitch_min_hz)
    x = min(1.0, max(0.0, x))
    return float(rate_min_cps * (rate_max_cps / rate_min_cps) ** x)
