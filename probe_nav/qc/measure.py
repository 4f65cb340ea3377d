"""Measurements for QC: counts per frame (or interval), live and real times, an optional summed
spectrum, and who measured - from a recorded file (frame CSV or N42) or from an acquisition."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from probe_nav.drivers.frames import CountFrame, DeviceInfo
from probe_nav.errors import UserError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Measurement:
    """One QC measurement's data; `raw_data` says where the raw data are kept."""

    counts: np.ndarray  # window-0 counts per frame or interval
    live_s: np.ndarray
    real_s: np.ndarray
    start_time: datetime
    raw_data: str
    model: str = ""
    serial: str = ""
    detector: str = ""
    spectrum: np.ndarray | None = None
    energy_calibration: tuple[float, ...] = ()
    battery_pct: int | None = None

    @property
    def total_counts(self) -> int:
        """Window-0 counts of the whole measurement."""
        return int(self.counts.sum())

    @property
    def total_live_s(self) -> float:
        """Live time of the whole measurement."""
        return float(self.live_s.sum())

    @property
    def total_real_s(self) -> float:
        """Real (clock) time of the whole measurement."""
        return float(self.real_s.sum())

    def split_counts(self, n: int) -> np.ndarray:
        """Window-0 counts of n consecutive, equally long (in frames) parts (chi-square test)."""
        if n < 1 or self.counts.size < n:
            raise UserError(f"cannot split {self.counts.size} frames into {n} counts; "
                            "record longer or ask for fewer counts")
        per = self.counts.size // n
        return self.counts[: per * n].reshape(n, per).sum(axis=1)


def from_frames(frames: list[CountFrame], info: DeviceInfo | None, start_time: datetime,
                raw_data: str, battery_pct: int | None = None) -> Measurement:
    """A measurement from acquired frames (summed spectrum where frames carry spectra)."""
    spectra = [f.spectrum for f in frames if f.spectrum is not None]
    spectrum = None
    if spectra and len({len(s) for s in spectra}) == 1:
        spectrum = np.sum(np.asarray(spectra, dtype=np.int64), axis=0)
    return Measurement(
        counts=np.array([f.total_window0 for f in frames], dtype=np.int64),
        live_s=np.array([f.live_s for f in frames]), real_s=np.array([f.real_s for f in frames]),
        start_time=start_time, raw_data=raw_data,
        model=info.model if info else "", serial=info.serial if info else "",
        detector=info.detector if info else "", spectrum=spectrum,
        energy_calibration=tuple(info.energy_calibration) if info and spectrum is not None
        else (), battery_pct=battery_pct)


def from_file(path: str) -> Measurement:
    """A measurement from a frame CSV (.csv) or N42 (.n42) file; UserError when unreadable."""
    from probe_nav.io.frames_csv import FrameCsvError, read_frames_csv
    from probe_nav.io.n42 import N42Error, read_n42

    file = Path(path)
    suffix = file.suffix.lower()
    try:
        if suffix == ".csv":
            table = read_frames_csv(file)
            if table.notice:  # a recording cut short or interrupted: its frames still count
                log.warning("%s", table.notice)
            if len(table) == 0:
                raise UserError(f"{path}: no frames")
            real = table.real_s if table.real_s is not None else np.diff(
                np.concatenate([[table.t_s[0] - table.live_s[0]], table.t_s]))
            start = datetime.fromtimestamp(file.stat().st_mtime, UTC)
            return Measurement(table.counts, table.live_s, np.asarray(real, dtype=float),
                               start, str(file.resolve()))
        if suffix == ".n42":
            rec = read_n42(file)
            for remark in rec.remarks:
                if remark.startswith("end: interrupted"):
                    log.warning("%s: recording %s", path, remark.removeprefix("end: "))
            if not rec.intervals:
                raise UserError(f"{path}: no count series (GrossCounts) in the file")
            return Measurement(
                counts=np.array([i.counts for i in rec.intervals], dtype=np.int64),
                live_s=np.array([i.live_s for i in rec.intervals]),
                real_s=np.array([i.real_s for i in rec.intervals]),
                start_time=rec.start_time, raw_data=str(file.resolve()),
                model="" if rec.instrument.model == "unknown" else rec.instrument.model,
                serial=rec.instrument.serial, detector=rec.instrument.detector,
                spectrum=rec.spectrum, energy_calibration=rec.energy_calibration)
    except (FrameCsvError, N42Error) as exc:
        raise UserError(str(exc)) from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    raise UserError(f"{path}: unknown file type {suffix or '(none)'!r}; use .csv or .n42")
