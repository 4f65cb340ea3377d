"""Frame types that every driver produces: counts, device status and device identity.

These are the only things that cross from `drivers` into the rest of probe-nav, so they are
plain frozen dataclasses with units in every field name.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class FaultFlag(enum.IntFlag):
    """Device fault bits, shared by every protocol (ProbeLink carries them on the wire as is)."""

    NONE = 0
    OVER_RANGE = 0x0001  # detector saturated / count rate beyond the device's range
    HV_FAULT = 0x0002  # high voltage / bias out of regulation
    LOW_BATTERY = 0x0004
    TEMPERATURE = 0x0008  # detector temperature outside its specified range
    CLOCK_RESET = 0x0010  # device clock restarted or jumped
    INTERNAL = 0x0020  # any other internal fault reported by the firmware


class LinkState(enum.StrEnum):
    """Health of the link to a device, judged on the host clock."""

    CONNECTING = "connecting"  # never connected yet
    CONNECTED = "connected"  # port open and frames arriving on time
    STALE = "stale"  # port open but no frame for too long
    DISCONNECTED = "disconnected"  # port error or closed; reconnecting


@dataclass(frozen=True, slots=True)
class CountFrame:
    """Counts of one counting interval.

    `t_s` is the device clock at the END of the interval; `real_s` the interval length and
    `live_s <= real_s` the live time (dead time removed). `counts[i]` is the count of energy
    window i; window 0 is the selected isotope's. `flags` carries `FaultFlag` bits that apply to
    this very interval (e.g. over-range), `spectrum` optional per-channel counts.
    """

    seq: int
    t_s: float
    real_s: float
    live_s: float
    counts: tuple[int, ...]
    spectrum: tuple[int, ...] | None = None
    flags: FaultFlag = FaultFlag.NONE

    @property
    def total_window0(self) -> int:
        """Counts of window 0 (the selected isotope's window)."""
        return self.counts[0] if self.counts else 0


@dataclass(frozen=True, slots=True)
class EnergyWindow:
    """An energy window in keV, [lo_kev, hi_kev)."""

    lo_kev: float
    hi_kev: float
    name: str = ""


class CounterModel(enum.StrEnum):
    """How a device's counter loses counts at high rates (DOMAIN.md, dead time)."""

    NONPARALYSABLE = "nonparalysable"  # m = n / (1 + n tau): saturates at 1/tau
    PARALYSABLE = "paralysable"  # m = n exp(-n tau): peaks at 1/(e tau), then FALLS
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """What a device's counter can physically count: its dead-time model and dead time, and the
    highest rate it can report (a frame above `max_rate_cps` x its real time is impossible and is
    rejected by the driver). From the device itself, or the driver's model table (published or
    measured values); `dead_time_s` None means not known."""

    model: CounterModel = CounterModel.UNKNOWN
    dead_time_s: float | None = None
    max_rate_cps: float | None = None
    source: str = ""  # where the figures come from (datasheet, measurement, device report)
    # True: live_s is the counter's measured live time (it collapses when the counter paralyses);
    # False: live_s is real_s or computed from the counts; None: not said (judged from the frames).
    live_time_measured: bool | None = None
    # Fastest relative change (1/s) of the true rate a hand-held movement can make at this
    # detector's paralysis level (probe_nav.core.overrange); None: the core's default.
    max_change_per_s: float | None = None


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """Identity of a device as it reports itself."""

    model: str
    serial: str = ""
    firmware: str = ""
    detector: str = "unknown"
    protocol: str = ""
    frame_period_s: float | None = None
    windows: tuple[EnergyWindow, ...] = ()
    # keV = sum(c[i] * channel**i); empty when the device has no spectrum
    energy_calibration: tuple[float, ...] = ()
    n_channels: int = 0
    counter: CounterSpec = CounterSpec()


@dataclass(frozen=True, slots=True)
class DeviceStatus:
    """Housekeeping reported by a device; None where the device does not report a value."""

    t_s: float | None = None
    battery_pct: int | None = None
    battery_v: float | None = None
    temperature_c: float | None = None
    high_voltage_v: float | None = None
    faults: FaultFlag = FaultFlag.NONE


@dataclass(frozen=True, slots=True)
class LinkStats:
    """Frame accounting for one device connection (all counts since the device object was made)."""

    frames: int = 0
    dropped_frames: int = 0
    bad_frames: int = 0
    skipped_bytes: int = 0
    reconnects: int = 0
    silent_reopens: int = 0  # ports closed and reopened because no frame came (drivers/device.py)
    identity_rejects: int = 0  # reconnections that found a different device at the URL
    driver_errors: int = 0  # exceptions from protocol code (the port was closed and reopened)
    extra: dict[str, int] = field(default_factory=dict)
