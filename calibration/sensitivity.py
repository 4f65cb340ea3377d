"""Sensitivity (cps/MBq), background check, daily constancy and battery check.

Sensitivity S = (N/t - B) / A with N counts in live time t, background rate B (sd sB) and the
decay-corrected mean activity A (sd sA) of a certified source over the count. Relative variances
add: (sS/S)^2 = (N/t^2 + sB^2) / (N/t - B)^2 + (sA/A)^2. The geometry (distance, holder, medium)
is part of the result's meaning and is carried along as text.
Constancy compares a check-source rate with its baseline decayed to today (DOMAIN.md: +-10 %).
A sensitivity is refused when its inputs are impossible for a gamma probe: an observed rate above
MAX_OBSERVED_CPS, or a net rate above the photons the source emits (A x 1e6 x sum of its line
yields, every photon counted), which is what a wrong live time or an activity in the wrong unit
gives (100 counts in 1 us would claim 3.7e7 cps/MBq).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from probe_nav.calibration.errors import AnalysisError
from probe_nav.calibration.nuclides import nuclide
from probe_nav.calibration.sources import CertifiedSource, elapsed_s

# A counter with dead time tau counts at most 1/tau (non-paralysable): gamma probes' chains have
# tau of ~1-10 us and ceilings of ~1e4-1e5 cps (DOMAIN.md), so 1e6 observed cps is not a count.
MAX_OBSERVED_CPS = 1e6
DECAYS_PER_S_PER_MBQ = 1e6


@dataclass(frozen=True, slots=True)
class NetRate:
    """A background-subtracted count rate with its 1 sd."""

    net_cps: float
    net_sd_cps: float
    gross_cps: float
    gross_sd_cps: float


def net_rate(counts: float, live_s: float, background_cps: float = 0.0,
             background_sd_cps: float = 0.0) -> NetRate:
    """(N/t - B) with sd sqrt(N/t^2 + sB^2); AnalysisError for impossible inputs."""
    if not (live_s > 0 and math.isfinite(live_s)):
        raise AnalysisError(f"live time must be > 0 s, got {live_s}")
    if not (counts >= 0 and math.isfinite(counts)):
        raise AnalysisError(f"counts must be >= 0, got {counts}")
    if background_cps < 0 or background_sd_cps < 0:
        raise AnalysisError("background rate and its sd must be >= 0")
    gross = counts / live_s
    gross_sd = math.sqrt(max(counts, 1.0)) / live_s  # a zero count still has ~1 count of sd
    return NetRate(gross - background_cps, math.hypot(gross_sd, background_sd_cps), gross,
                   gross_sd)


@dataclass(frozen=True, slots=True)
class Sensitivity:
    """Net rate per MBq with its 1 sd, and what it came from."""

    cps_per_mbq: float
    sd: float
    net_cps: float
    net_sd_cps: float
    activity_mbq: float  # mean over the count, decay corrected
    activity_sd_mbq: float
    geometry: str = ""

    @property
    def relative_sd(self) -> float:
        """sd / value."""
        return self.sd / self.cps_per_mbq


def sensitivity(counts: float, live_s: float, background_cps: float, background_sd_cps: float,
                source: CertifiedSource, when: datetime, geometry: str = "",
                count_duration_s: float | None = None) -> Sensitivity:
    """Sensitivity from a count of a certified source; `when` is when the count started.

    The activity is averaged over the count's real duration (count_duration_s, default live_s),
    which matters for a short-lived source counted for long.
    """
    rate = net_rate(counts, live_s, background_cps, background_sd_cps)
    if rate.gross_cps > MAX_OBSERVED_CPS:
        raise AnalysisError(f"implausible count: {counts:.0f} counts in {live_s:.3g} s live is "
                            f"{rate.gross_cps:.3g} cps, above the {MAX_OBSERVED_CPS:.0e} cps any "
                            "probe can count; check the live time")
    if rate.net_cps <= 3.0 * rate.net_sd_cps:
        raise AnalysisError(f"the source is not seen: net rate {rate.net_cps:.3g} +- "
                            f"{rate.net_sd_cps:.2g} cps is within 3 sd of the background")
    activity = source.mean_activity_over(when, count_duration_s or live_s)
    _check_emission(rate.net_cps, activity.mbq, source)
    s = rate.net_cps / activity.mbq
    rel = math.hypot(rate.net_sd_cps / rate.net_cps, activity.sd_mbq / activity.mbq)
    return Sensitivity(s, s * rel, rate.net_cps, rate.net_sd_cps, activity.mbq, activity.sd_mbq,
                       geometry)


def _check_emission(net_cps: float, activity_mbq: float, source: CertifiedSource) -> None:
    """AnalysisError when the net rate exceeds every photon the source emits (4 pi, all
    counted): the activity, its unit, the nuclide or the live time is wrong."""
    photons_per_decay = sum(line.yield_per_decay for line in source.nuclide.lines)
    emitted_per_s = activity_mbq * DECAYS_PER_S_PER_MBQ * photons_per_decay
    if net_cps > emitted_per_s:
        raise AnalysisError(
            f"implausible sensitivity: the net rate {net_cps:.3g} cps is more than the "
            f"{emitted_per_s:.3g} photons/s that {activity_mbq:.3g} MBq of "
            f"{source.nuclide_name} emits ({net_cps / activity_mbq:.3g} cps/MBq); check the "
            "activity and its unit (MBq), the nuclide and the live time")


@dataclass(frozen=True, slots=True)
class BackgroundCheck:
    """A background count judged against a ceiling and/or against its own baseline."""

    rate_cps: float
    rate_sd_cps: float
    excess_z: float | None  # (rate - baseline) / combined sd; None without a baseline
    passed: bool
    reason: str


def background_check(counts: float, live_s: float, max_cps: float | None = None,
                     baseline_cps: float | None = None, baseline_sd_cps: float = 0.0,
                     z_limit: float = 3.0) -> BackgroundCheck:
    """Daily background: fails above max_cps or when significantly (> z_limit sd) above the
    baseline background, which is how contamination of the probe or room shows."""
    rate = net_rate(counts, live_s)
    reasons = []
    z = None
    if max_cps is not None and rate.gross_cps > max_cps:
        reasons.append(f"background {rate.gross_cps:.3g} cps is above the limit {max_cps:g} cps")
    if baseline_cps is not None:
        z = (rate.gross_cps - baseline_cps) / math.hypot(rate.gross_sd_cps, baseline_sd_cps)
        if z > z_limit:
            reasons.append(f"background {rate.gross_cps:.3g} cps is {z:.1f} sd above its "
                           f"baseline {baseline_cps:.3g} cps: check for contamination")
    return BackgroundCheck(rate.gross_cps, rate.gross_sd_cps, z, not reasons,
                           "; ".join(reasons) or "ok")


@dataclass(frozen=True, slots=True)
class ConstancyResult:
    """Measured / expected (baseline decayed to today), its 1 sd and the verdict."""

    ratio: float
    ratio_sd: float
    passed: bool
    expected_cps: float
    expected_sd_cps: float
    tolerance: float

    @property
    def deviation_pct(self) -> float:
        """(ratio - 1) in %."""
        return 100.0 * (self.ratio - 1.0)


def constancy(measured_cps: float, measured_sd: float, baseline_cps: float, baseline_sd: float,
              baseline_when: datetime, when: datetime, nuclide_name: str,
              tolerance: float = 0.10) -> ConstancyResult:
    """Check-source rate against its baseline decayed from baseline_when to when (+-tolerance)."""
    if not 0 < tolerance < 1:
        raise AnalysisError(f"tolerance must be between 0 and 1 (e.g. 0.10), got {tolerance}")
    if not (baseline_cps > 0 and math.isfinite(baseline_cps)):
        raise AnalysisError(f"the baseline rate must be > 0 cps, got {baseline_cps}")
    if measured_sd < 0 or baseline_sd < 0 or not math.isfinite(measured_cps):
        raise AnalysisError("rates must be finite and their sd >= 0")
    factor = math.exp2(-elapsed_s(baseline_when, when) / nuclide(nuclide_name).half_life_s)
    expected, expected_sd = baseline_cps * factor, baseline_sd * factor
    ratio = measured_cps / expected
    ratio_sd = abs(ratio) * math.hypot(measured_sd / measured_cps if measured_cps else 0.0,
                                       expected_sd / expected)
    if measured_cps == 0:
        ratio_sd = measured_sd / expected
    return ConstancyResult(ratio, ratio_sd, abs(ratio - 1.0) <= tolerance, expected, expected_sd,
                           tolerance)


@dataclass(frozen=True, slots=True)
class BatteryCheck:
    """Battery level against a minimum; passed is None when the device does not report it."""

    battery_pct: float | None
    min_pct: float
    passed: bool | None


def battery_check(battery_pct: float | None, min_pct: float = 20.0) -> BatteryCheck:
    """Routine battery check (NEMA NU 3); devices that do not report a level give None."""
    if battery_pct is None:
        return BatteryCheck(None, min_pct, None)
    return BatteryCheck(float(battery_pct), min_pct, battery_pct >= min_pct)
