"""Reading N42.42-2012 files written by probe_nav.io.n42 (docs/n42.md): every problem is one
N42Error line naming the file; counts are whole numbers within int64, never built larger."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from probe_nav.io.n42_model import (
    _Q,
    SUM_ID,
    CountInterval,
    Instrument,
    N42Error,
    N42Recording,
)

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


MAX_CHANNELS = 1 << 20  # far beyond any spectrometer (16k channels): a guard against bombs
INT64_MAX = 2**63 - 1


def _count(text: str, where: str, what: str) -> int:
    """A whole number of counts >= 0 within int64 (written as 12, 12.0 or 1.2e1)."""
    try:
        value = float(text)
    except ValueError:
        raise N42Error(f"{where}: {what} must be counts, got {text[:40]!r}") from None
    if not (0 <= value <= INT64_MAX) or value != round(value):  # NaN fails here too
        raise N42Error(f"{where}: {what} must be whole numbers from 0 to 2^63-1, got "
                       f"{text[:40]!r}")
    return int(value)


def _channel_data(element: ET.Element, where: str) -> np.ndarray:
    values = [_count(x, where, "channel data") for x in (element.text or "").split()]
    if element.get("compressionCode", "None") == "CountedZeroes":
        out: list[int] = []
        it = iter(values)
        for value in it:
            if value == 0:
                run = next(it, 0)
                if len(out) + run > MAX_CHANNELS:
                    raise N42Error(f"{where}: more than {MAX_CHANNELS} channels")
                out.extend([0] * run)
            else:
                out.append(value)
        values = out
    if len(values) > MAX_CHANNELS:
        raise N42Error(f"{where}: more than {MAX_CHANNELS} channels")
    return np.array(values, dtype=np.int64)


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
        counts = _count((_text(gross, "CountData", where).split() or [""])[0], where,
                        "CountData")
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
