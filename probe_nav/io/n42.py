"""ANSI N42.42-2012 XML export of a recording: summed spectrum, energy calibration, count series.

One `RadMeasurement` ("Sum") carries the summed spectrum of the whole recording with its live and
real time and a polynomial energy calibration (keV at the lower edge of channel i = sum c_k i^k,
the convention of N42 and of `DeviceInfo.energy_calibration`); then one `RadMeasurement` per frame
(or per interval) carries its start time, real and live time and the gross counts of window 0.
`read_n42` reads our own files back (docs/n42.md); standard tools (SpecUtils/InterSpec) read
them too.
"""

from __future__ import annotations

import math
import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


# ------------------------------------------------------------------ writing


def format_duration(seconds: float) -> str:
    """xsd:duration of seconds, e.g. PT12.5S (the shortest decimal that reads back exactly)."""
    if not (math.isfinite(seconds) and seconds >= 0):
        raise ValueError(f"a duration must be finite and >= 0, got {seconds}")
    return f"PT{np.format_float_positional(float(seconds), unique=True, trim='0')}S"


def format_time(when: datetime) -> str:
    """xsd:dateTime in UTC with microseconds, e.g. 2025-01-02T03:04:05.250000Z."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, _Q + tag, attrib)
    if text is not None:
        element.text = text
    return element


def detector_kind(detector: str) -> str:
    """The N42 RadDetectorKindCode for a detector name ('Other' when N42 has no code for it)."""
    return _DETECTOR_KIND.get(detector.strip().lower(), "Other")


def to_element(recording: N42Recording) -> ET.Element:
    """The N42 document of a recording as an ElementTree element."""
    ET.register_namespace("", NS)
    root = ET.Element(_Q + "RadInstrumentData",
                      {"n42DocUUID": str(uuid.uuid4())})
    _sub(root, "RadInstrumentDataCreatorName", CREATOR)
    for remark in recording.remarks:
        _sub(root, "Remark", remark)
    inst = recording.instrument
    info = _sub(root, "RadInstrumentInformation", id="RadInstrumentInformation-1")
    _sub(info, "RadInstrumentManufacturerName", inst.manufacturer or "unknown")
    if inst.serial:
        _sub(info, "RadInstrumentIdentifier", inst.serial)
    _sub(info, "RadInstrumentModelName", inst.model or "unknown")
    _sub(info, "RadInstrumentClassCode", "Other")
    version = _sub(info, "RadInstrumentVersion")
    _sub(version, "RadInstrumentComponentName", "Firmware")
    _sub(version, "RadInstrumentComponentVersion", inst.firmware or "unknown")
    det = _sub(root, "RadDetectorInformation", id=DETECTOR_ID)
    _sub(det, "RadDetectorCategoryCode", "Gamma")
    _sub(det, "RadDetectorKindCode", detector_kind(inst.detector))
    if detector_kind(inst.detector) == "Other":
        _sub(det, "RadDetectorDescription", inst.detector)
    if recording.spectrum is not None:
        cal = _sub(root, "EnergyCalibration", id=CALIBRATION_ID)
        coefficients = recording.energy_calibration or (0.0, 1.0)
        _sub(cal, "CoefficientValues", " ".join(repr(float(c)) for c in coefficients))
        _measurement(root, SUM_ID, recording.start_time, recording.real_s, recording.live_s,
                     recording.spectrum, None)
    for number, interval in enumerate(recording.intervals, start=1):
        _measurement(root, f"Interval-{number}",
                     recording.start_time + timedelta(seconds=interval.start_s),
                     interval.real_s, interval.live_s, interval.spectrum, interval.counts)
    return root


def counted_zeroes(values: np.ndarray) -> str:
    """Channel data in N42's CountedZeroes compression: each run of zeros as `0 <run length>`."""
    out: list[str] = []
    zeros = 0
    for value in values.tolist():
        if value == 0:
            zeros += 1
            continue
        if zeros:
            out += ["0", str(zeros)]
            zeros = 0
        out.append(str(int(value)))
    if zeros:
        out += ["0", str(zeros)]
    return " ".join(out)


def _measurement(root: ET.Element, mid: str, start: datetime, real_s: float, live_s: float,
                 spectrum: np.ndarray | None, counts: int | None) -> None:
    meas = _sub(root, "RadMeasurement", id=mid)
    _sub(meas, "MeasurementClassCode", "Foreground")
    _sub(meas, "StartDateTime", format_time(start))
    _sub(meas, "RealTimeDuration", format_duration(real_s))
    if spectrum is not None:
        spec = _sub(meas, "Spectrum", id=f"{mid}-Spectrum",
                    radDetectorInformationReference=DETECTOR_ID,
                    energyCalibrationReference=CALIBRATION_ID)
        _sub(spec, "LiveTimeDuration", format_duration(live_s))
        _sub(spec, "ChannelData", counted_zeroes(np.asarray(spectrum)),
             compressionCode="CountedZeroes")
    if counts is not None:
        gross = _sub(meas, "GrossCounts", id=f"{mid}-GrossCounts",
                     radDetectorInformationReference=DETECTOR_ID)
        _sub(gross, "LiveTimeDuration", format_duration(live_s))
        _sub(gross, "CountData", str(int(counts)))


def write_n42(path: str | Path, recording: N42Recording) -> None:
    """Write the recording as an N42.42-2012 XML file (UTF-8)."""
    tree = ET.ElementTree(to_element(recording))
    ET.indent(tree, space=" ")
    tree.write(Path(path), encoding="UTF-8", xml_declaration=True)


# ------------------------------------------------------------------ reading

_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d*)?)D)?(?:T(?:(?P<h>\d+(?:\.\d*)?)H)?(?:(?P<m>\d+(?:\.\d*)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)S)?)?$"
)


def parse_duration(text: str) -> float:
    """Seconds of an xsd:duration without years or months (PT12.5S, PT1H2M3S, P1DT2H)."""
    match = _DURATION.match(text.strip())
    if match is None or text.strip() in ("P", "PT"):
        raise ValueError(f"not a duration: {text.strip()[:40]!r}")
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def parse_time(text: str) -> datetime:
    """An xsd:dateTime; one without a zone is taken as UTC."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _text(element: ET.Element, tag: str, where: str) -> str:
    child = element.find(_Q + tag)
    if child is None or child.text is None:
        raise N42Error(f"{where}: missing {tag}")
    return child.text


def _channel_data(element: ET.Element, where: str) -> np.ndarray:
    values = [float(x) for x in (element.text or "").split()]
    if element.get("compressionCode", "None") == "CountedZeroes":
        out: list[float] = []
        it = iter(values)
        for value in it:
            if value == 0:
                out.extend([0.0] * int(next(it, 0)))
            else:
                out.append(value)
        values = out
    array = np.array(values)
    if array.size and (np.any(array < 0) or np.any(array != np.round(array))):
        raise N42Error(f"{where}: channel data must be counts (whole numbers >= 0)")
    return array.astype(np.int64)


def read_n42(path: str | Path) -> N42Recording:
    """Read an N42 file written by `write_n42`; N42Error (one line) for anything malformed."""
    name = str(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise N42Error(f"{name}: not XML: {exc}") from None
    if root.tag != _Q + "RadInstrumentData":
        raise N42Error(f"{name}: not an N42.42-2012 document (root is {root.tag!r})")
    try:
        return _recording(root, name)
    except ValueError as exc:
        if isinstance(exc, N42Error):
            raise
        raise N42Error(f"{name}: {exc}") from None


def _recording(root: ET.Element, name: str) -> N42Recording:
    info = root.find(_Q + "RadInstrumentInformation")
    det = root.find(_Q + "RadDetectorInformation")
    instrument = Instrument()
    if info is not None:
        def field_of(tag: str, default: str = "") -> str:
            child = info.find(_Q + tag)
            return child.text if child is not None and child.text else default

        version = info.find(f"{_Q}RadInstrumentVersion/{_Q}RadInstrumentComponentVersion")
        detector = "unknown"
        if det is not None:
            desc = det.find(_Q + "RadDetectorDescription")
            kind = det.find(_Q + "RadDetectorKindCode")
            detector = (desc.text if desc is not None and desc.text
                        else kind.text if kind is not None and kind.text else "unknown")
        instrument = Instrument(
            manufacturer=field_of("RadInstrumentManufacturerName", "unknown"),
            model=field_of("RadInstrumentModelName", "unknown"),
            serial=field_of("RadInstrumentIdentifier"),
            firmware="" if version is None or version.text in (None, "unknown") else version.text,
            detector=detector,
        )
    remarks = tuple(r.text or "" for r in root.findall(_Q + "Remark"))
    spectrum = None
    start_time: datetime | None = None
    real_s = live_s = None
    intervals: list[tuple[datetime, CountInterval]] = []
    for meas in root.findall(_Q + "RadMeasurement"):
        where = f"{name}: RadMeasurement {meas.get('id')!r}"
        when = parse_time(_text(meas, "StartDateTime", where))
        real = parse_duration(_text(meas, "RealTimeDuration", where))
        spec = meas.find(_Q + "Spectrum")
        bins = None
        if spec is not None:
            channel = spec.find(_Q + "ChannelData")
            if channel is None:
                raise N42Error(f"{where}: Spectrum without ChannelData")
            bins = _channel_data(channel, where)
        if meas.get("id") == SUM_ID:
            if spec is None:
                raise N42Error(f"{where}: the sum has no Spectrum")
            spectrum, start_time, real_s = bins, when, real
            live_s = parse_duration(_text(spec, "LiveTimeDuration", where))
            continue
        gross = meas.find(_Q + "GrossCounts")
        if gross is None:
            continue
        counts = float(_text(gross, "CountData", where).split()[0])
        if counts < 0 or counts != round(counts):
            raise N42Error(f"{where}: CountData must be a whole number >= 0")
        live = parse_duration(_text(gross, "LiveTimeDuration", where))
        intervals.append((when, CountInterval(start_s=0.0, real_s=real, live_s=live,
                                              counts=int(counts), spectrum=bins)))
    if start_time is None and intervals:
        start_time = intervals[0][0]
    if start_time is None:
        raise N42Error(f"{name}: no RadMeasurement with a spectrum or gross counts")
    series = tuple(replace(i, start_s=(when - start_time).total_seconds())
                   for when, i in intervals)
    if real_s is None:
        real_s = sum(i.real_s for i in series)
        live_s = sum(i.live_s for i in series)
    coefficients: tuple[float, ...] = ()
    cal = root.find(_Q + "EnergyCalibration")
    if spectrum is not None and cal is not None:
        coefficients = tuple(float(x) for x in _text(cal, "CoefficientValues", name).split())
    return N42Recording(start_time=start_time, real_s=real_s, live_s=float(live_s or 0.0),
                        intervals=series, spectrum=spectrum,
                        energy_calibration=coefficients, instrument=instrument, remarks=remarks)
