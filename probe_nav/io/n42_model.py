"""The content of an ANSI N42.42-2012 file of ours: instrument, count series, summed spectrum.

`recording_from_frames` builds it from CountFrames; probe_nav.io.n42 writes it, and
probe_nav.io.n42_read reads it back (docs/n42.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from probe_nav.drivers.frames import CountFrame, DeviceInfo

NS = "http://physics.nist.gov/N42/2011/N42"
_Q = f"{{{NS}}}"
DETECTOR_ID = "Gamma"
CALIBRATION_ID = "EnergyCalibration-1"
SUM_ID = "Sum"
CREATOR = "probe-nav"

# N42 RadDetectorKindCode values for the detector names our drivers report.
_DETECTOR_KIND = {"cdte": "CdTe", "czt": "CZT", "csi": "CsI", "csi(tl)": "CsI", "nai": "NaI",
                  "nai(tl)": "NaI", "hpge": "HPGe", "labr3": "LaBr3", "gm": "GMT",
                  "geiger": "GMT", "gmt": "GMT", "pvt": "PVT"}


class N42Error(ValueError):
    """An N42 file that cannot be read; the message is one line naming the file and the problem."""


@dataclass(frozen=True, slots=True)
class Instrument:
    """Who measured: written to RadInstrumentInformation and RadDetectorInformation."""

    manufacturer: str = "unknown"
    model: str = "unknown"
    serial: str = ""
    firmware: str = ""
    detector: str = "unknown"

    @classmethod
    def from_device_info(cls, info: DeviceInfo | None) -> Instrument:
        """The instrument as a device reported itself (unknown fields stay 'unknown')."""
        if info is None:
            return cls()
        return cls(manufacturer=info.protocol or "unknown", model=info.model or "unknown",
                   serial=info.serial, firmware=info.firmware, detector=info.detector)


@dataclass(frozen=True, slots=True)
class CountInterval:
    """One entry of the count series: start (s after the recording start), times, gross counts."""

    start_s: float
    real_s: float
    live_s: float
    counts: int
    spectrum: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class N42Recording:
    """What an N42 file of ours holds; `spectrum` is None when the device gave none."""

    start_time: datetime
    real_s: float
    live_s: float
    intervals: tuple[CountInterval, ...]
    spectrum: np.ndarray | None = None
    energy_calibration: tuple[float, ...] = ()
    instrument: Instrument = field(default_factory=Instrument)
    remarks: tuple[str, ...] = ()

    @property
    def gross_counts(self) -> int:
        """Window-0 counts of the whole recording (the sum of the count series)."""
        return int(sum(i.counts for i in self.intervals))


def recording_from_frames(
    frames: Iterable[CountFrame],
    start_time: datetime,
    info: DeviceInfo | None = None,
    interval_s: float | None = None,
    remarks: Sequence[str] = (),
) -> N42Recording:
    """Sum frames into a recording: spectra summed channel by channel, counts per frame or interval.

    `start_time` is the wall-clock time of the start of the first frame. With `interval_s`,
    consecutive frames are grouped into intervals of at least that length of device time.
    Frames whose spectrum length differs from the first spectrum's are not summed (counted in a
    remark).
    """
    if interval_s is not None and not interval_s > 0:
        raise ValueError(f"interval must be > 0 s, got {interval_s}")
    frames = list(frames)
    if start_time.tzinfo is None:
        raise ValueError("start_time must carry a time zone")
    spectrum: np.ndarray | None = None
    skipped_spectra = 0
    intervals: list[CountInterval] = []
    t0 = frames[0].t_s - frames[0].real_s if frames else 0.0
    group: list[CountFrame] = []

    group_spectrum: list[np.ndarray] = []

    def close_group() -> None:
        if group:
            first = group[0]
            intervals.append(CountInterval(
                start_s=first.t_s - first.real_s - t0,
                real_s=sum(f.real_s for f in group), live_s=sum(f.live_s for f in group),
                counts=sum(f.total_window0 for f in group),
                spectrum=np.sum(group_spectrum, axis=0) if group_spectrum else None))
            group.clear()
            group_spectrum.clear()

    for frame in frames:
        if frame.spectrum is not None:
            bins = np.asarray(frame.spectrum, dtype=np.int64)
            if spectrum is None:
                spectrum = np.zeros_like(bins)
            if bins.size == spectrum.size:
                spectrum += bins
                group_spectrum.append(bins)
            else:
                skipped_spectra += 1
        group.append(frame)
        group_start = group[0].t_s - group[0].real_s
        if interval_s is None or frame.t_s - group_start >= interval_s - 1e-9:
            close_group()
    close_group()
    notes = list(remarks)
    if skipped_spectra:
        notes.append(f"{skipped_spectra} spectra of a different length were not summed")
    calibration = tuple(info.energy_calibration) if info is not None else ()
    return N42Recording(
        start_time=start_time,
        real_s=sum(f.real_s for f in frames),
        live_s=sum(f.live_s for f in frames),
        intervals=tuple(intervals),
        spectrum=spectrum,
        energy_calibration=calibration if spectrum is not None else (),
        instrument=Instrument.from_device_info(info),
        remarks=tuple(notes),
    )
