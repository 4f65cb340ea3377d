"""ANSI N42.42-2012 XML export of a recording: summed spectrum, energy calibration, count series.

One `RadMeasurement` ("Sum") carries the summed spectrum of the whole recording with its live and
real time and a polynomial energy calibration (keV at the lower edge of channel i = sum c_k i^k,
the convention of N42 and of `DeviceInfo.energy_calibration`); then one `RadMeasurement` per frame
(or per interval) carries its start time, real and live time and the gross counts of window 0.
`read_n42` reads our own files back (docs/n42.md); standard tools (SpecUtils/InterSpec) read
them too.
"""

from __future__ import annotations

import io
import math
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from probe_nav.files import atomic_write
from probe_nav.io.frames_csv import spectrum_cell
from probe_nav.io.n42_model import (
    _DETECTOR_KIND,
    _Q,
    CALIBRATION_ID,
    CREATOR,
    DETECTOR_ID,
    NS,
    SUM_ID,
    CountInterval,
    Instrument,
    N42Error,
    N42Recording,
    recording_from_frames,
)
from probe_nav.io.n42_read import _channel_data, parse_duration, parse_time, read_n42

__all__ = ["CountInterval", "Instrument", "N42Error", "N42Recording", "_channel_data",
           "counted_zeroes", "detector_kind", "format_duration", "format_time", "n42_bytes",
           "parse_duration", "parse_time", "read_n42", "recording_from_frames", "to_element",
           "write_n42"]


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
    """Channel data in N42's CountedZeroes compression: each run of zeros as `0 <run length>`
    (the frame CSV's spectrum cell uses the same encoding)."""
    return spectrum_cell(values.tolist())


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


def n42_bytes(recording: N42Recording) -> bytes:
    """The recording as an N42.42-2012 XML document (UTF-8, with its declaration)."""
    tree = ET.ElementTree(to_element(recording))
    ET.indent(tree, space=" ")
    out = io.BytesIO()
    tree.write(out, encoding="UTF-8", xml_declaration=True)
    return out.getvalue()


def write_n42(path: str | Path, recording: N42Recording, *, overwrite: bool = False) -> Path:
    """Write the recording as an N42.42-2012 XML file: mode 0600, all or nothing (an XML file
    cannot be streamed: the recorder journals frames to a frame CSV and writes this at the end);
    an existing file is an error (OutputExists) unless `overwrite`."""
    return atomic_write(Path(path), n42_bytes(recording), overwrite=overwrite)


