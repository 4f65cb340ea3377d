"""ProbeLink INFO and STATUS messages -> the protocol-neutral DeviceInfo and DeviceStatus, with the
counter (dead-time model, dead time, highest reportable rate) a v2 INFO describes."""

from __future__ import annotations

from probe_nav.drivers.frames import (
    CounterModel,
    CounterSpec,
    DeviceInfo,
    DeviceStatus,
    EnergyWindow,
    FaultFlag,
)
from probe_nav.drivers.probelink.messages import VERSION_1, CounterCode, Detector, Info, Status

_DETECTOR_NAMES: dict[int, str] = {  # keyed by the INFO message's detector code
    Detector.UNKNOWN: "unknown",
    Detector.CDTE: "CdTe",
    Detector.CZT: "CZT",
    Detector.CSI_TL: "CsI(Tl)",
    Detector.NAI_TL: "NaI(Tl)",
    Detector.GM_TUBE: "GM tube",
    Detector.SIPM_SCINTILLATOR: "SiPM scintillator",
    Detector.LABR3: "LaBr3(Ce)",
}
_COUNTER_MODELS: dict[int, CounterModel] = {
    CounterCode.NONPARALYSABLE: CounterModel.NONPARALYSABLE,
    CounterCode.PARALYSABLE: CounterModel.PARALYSABLE,
}
MIN_FRAME_PERIOD_S = 0.010  # SET_FRAME_PERIOD's lower bound (10 ms)

# A device that does not describe its counter (every v1 device): model and dead time unknown, and
# a ceiling generous on purpose, since it must never refuse a real frame: 1e7 cps is 1/tau of a
# 100 ns counter, faster than any counting gamma-probe front end, and still 69 times below the
# 6.9e8 cps that a CRC-16 false accept once showed as live (issue 14).
V1_COUNTER = CounterSpec(
    CounterModel.UNKNOWN, None, 1e7,
    "ProbeLink v1 default (a v1 device does not report its counter): 1e7 cps ceiling",
)


def counter_ceiling_cps(dead_time_s: float) -> float:
    """The highest rate a counter with dead time `dead_time_s` can report in any frame.

    Recorded pulses are at least one dead time apart in both models, so a frame of length T
    holds at most T/tau + 1 of them: 1/tau, plus one pulse in the shortest frame (10 ms).
    """
    return 1.0 / dead_time_s + 1.0 / MIN_FRAME_PERIOD_S


def counter_from_message(msg: Info, default: CounterSpec = V1_COUNTER) -> CounterSpec:
    """The counter an INFO describes; `default` for a v1 INFO, which cannot describe it.

    A v2 device that states its dead time but not its highest rate gets counter_ceiling_cps;
    one that states neither gets the default ceiling.
    """
    if msg.version == VERSION_1:
        return default
    model = _COUNTER_MODELS.get(msg.counter, CounterModel.UNKNOWN)
    dead_time_s = None if msg.dead_time_ns is None else msg.dead_time_ns * 1e-9
    source = f"device (ProbeLink v{msg.version} INFO)"
    if msg.max_rate_cps:  # None (not stated) or 0 (meaningless) fall through
        return CounterSpec(model, dead_time_s, float(msg.max_rate_cps), source)
    if dead_time_s:
        return CounterSpec(model, dead_time_s, counter_ceiling_cps(dead_time_s),
                           f"{source}; highest rate from its dead time")
    return CounterSpec(model, dead_time_s, default.max_rate_cps,
                       f"{source}; highest rate not stated: {default.source}")


def info_from_message(msg: Info, default_counter: CounterSpec = V1_COUNTER) -> DeviceInfo:
    """The protocol-neutral DeviceInfo for an INFO message."""
    return DeviceInfo(
        model=msg.model,
        serial=msg.serial,
        firmware=msg.firmware,
        detector=_DETECTOR_NAMES.get(msg.detector, f"code {msg.detector}"),
        protocol=f"probelink {msg.version}.{msg.minor}",
        frame_period_s=msg.frame_period_ms / 1000.0 if msg.frame_period_ms else None,
        windows=tuple(EnergyWindow(w.lo_kev, w.hi_kev, w.name) for w in msg.windows),
        energy_calibration=tuple(msg.energy_cal),
        n_channels=msg.n_channels,
        counter=counter_from_message(msg, default_counter),
    )


def status_from_message(msg: Status) -> DeviceStatus:
    """The protocol-neutral DeviceStatus for a STATUS message."""
    return DeviceStatus(
        t_s=msg.t_us / 1e6,
        battery_pct=msg.battery_pct,
        battery_v=None if msg.battery_mv is None else msg.battery_mv / 1000.0,
        temperature_c=None if msg.temperature_cdeg is None else msg.temperature_cdeg / 100.0,
        high_voltage_v=None if msg.hv_dv is None else msg.hv_dv / 10.0,
        faults=FaultFlag(msg.faults & 0xFFFF),
    )
