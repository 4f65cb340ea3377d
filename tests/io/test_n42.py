"""N42.42-2012 export: our reader round-trips, and Sandia's SpecUtils (an independent, published
N42 reader behind InterSpec and Cambio) reads the same counts, live time and calibration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from probe_nav.drivers.frames import CountFrame, DeviceInfo
from probe_nav.io.n42 import (
    N42Error,
    counted_zeroes,
    format_duration,
    parse_duration,
    read_n42,
    recording_from_frames,
    write_n42,
)

SpecUtils = pytest.importorskip("SpecUtils")

START = datetime(2025, 3, 4, 5, 6, 7, 250000, tzinfo=UTC)
INFO = DeviceInfo(model="PN-1", serial="SN42", firmware="1.2.0", detector="CdTe",
                  protocol="probelink", frame_period_s=0.05,
                  energy_calibration=(0.5, 1.01, 2.5e-5), n_channels=128)


def make_frames(n: int, seed: int = 1, channels: int = 128, spectra: bool = True
                ) -> list[CountFrame]:
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n):
        live = 0.05 - float(rng.integers(0, 2000)) * 1e-6
        spectrum = tuple(int(x) for x in rng.poisson(0.4, channels)) if spectra else None
        frames.append(CountFrame(seq=i, t_s=round(0.05 * (i + 1), 9), real_s=0.05, live_s=live,
                                 counts=(int(rng.poisson(20)), int(rng.poisson(3))),
                                 spectrum=spectrum))
    return frames


def load_specutils(path: Path):
    spec = SpecUtils.SpecFile()
    spec.loadFile(str(path), SpecUtils.ParserType.N42_2012)
    return spec


def test_specutils_reads_the_same_sum_live_time_and_calibration(tmp_path: Path) -> None:
    frames = make_frames(60)
    recording = recording_from_frames(frames, START, INFO)
    path = tmp_path / "rec.n42"
    write_n42(path, recording)
    spec = load_specutils(path)
    assert spec.parseWarnings() == []
    measurements = spec.measurements()
    assert len(measurements) == 1 + len(frames)  # the sum, then one per frame
    total = measurements[0]
    expected = np.sum([f.spectrum for f in frames], axis=0)
    assert np.array_equal(np.asarray(total.gammaCounts()), expected)
    # SpecUtils keeps times and coefficients as 32-bit floats.
    assert total.liveTime() == pytest.approx(sum(f.live_s for f in frames), rel=1e-6)
    assert total.realTime() == pytest.approx(3.0, rel=1e-6)
    assert total.calibrationCoeffs() == pytest.approx(INFO.energy_calibration, rel=1e-6)
    assert total.numGammaChannels() == 128
    assert spec.instrumentModel() == "PN-1"
    assert spec.instrumentId() == "SN42"
    assert total.startTime().replace(tzinfo=UTC) == START


def test_specutils_reads_the_count_series_per_interval(tmp_path: Path) -> None:
    frames = make_frames(40, seed=2)
    recording = recording_from_frames(frames, START, INFO, interval_s=0.5)
    path = tmp_path / "series.n42"
    write_n42(path, recording)
    series = load_specutils(path).measurements()[1:]
    assert len(series) == 4
    for k, measurement in enumerate(series):
        group = frames[10 * k: 10 * (k + 1)]
        assert np.array_equal(np.asarray(measurement.gammaCounts()),
                              np.sum([f.spectrum for f in group], axis=0))
        assert measurement.liveTime() == pytest.approx(sum(f.live_s for f in group), rel=1e-6)
        assert measurement.realTime() == pytest.approx(0.5, rel=1e-6)
        got = measurement.startTime().replace(tzinfo=UTC)
        assert abs(got - (START + timedelta(seconds=0.5 * k))) < timedelta(microseconds=2)


def test_own_reader_round_trips_exactly(tmp_path: Path) -> None:
    frames = make_frames(30, seed=3)
    recording = recording_from_frames(frames, START, INFO, remarks=["hello"])
    path = tmp_path / "rec.n42"
    write_n42(path, recording)
    back = read_n42(path)
    assert back.start_time == START
    assert back.live_s == sum(f.live_s for f in frames)
    assert back.real_s == sum(f.real_s for f in frames)
    assert back.energy_calibration == INFO.energy_calibration
    assert np.array_equal(back.spectrum, recording.spectrum)
    assert [i.counts for i in back.intervals] == [f.counts[0] for f in frames]
    assert [i.live_s for i in back.intervals] == [f.live_s for f in frames]
    assert back.gross_counts == sum(f.counts[0] for f in frames)
    assert back.instrument == recording.instrument
    assert back.remarks == ("hello",)


def test_counts_only_device_writes_gross_counts_without_spectrum(tmp_path: Path) -> None:
    frames = make_frames(10, spectra=False)
    recording = recording_from_frames(frames, START, None)
    assert recording.spectrum is None and recording.energy_calibration == ()
    path = tmp_path / "gm.n42"
    write_n42(path, recording)
    back = read_n42(path)
    assert back.spectrum is None
    assert [i.counts for i in back.intervals] == [f.counts[0] for f in frames]
    assert back.live_s == pytest.approx(sum(f.live_s for f in frames), rel=1e-12)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.floats(0.001, 5.0), st.floats(0.0, 1.0),
                          st.integers(0, 10**6)), min_size=1, max_size=20),
       st.lists(st.integers(0, 50), min_size=1, max_size=40))
def test_round_trip_property(tmp_path_factory, rows, spectrum) -> None:
    frames, t = [], 0.0
    for i, (real_s, dead_fraction, counts) in enumerate(rows):
        t += real_s
        frames.append(CountFrame(i, t, real_s, real_s * (1 - dead_fraction), (counts,),
                                 tuple(spectrum)))
    path = tmp_path_factory.mktemp("n42") / "p.n42"
    recording = recording_from_frames(frames, START, INFO)
    write_n42(path, recording)
    back = read_n42(path)
    assert [i.counts for i in back.intervals] == [r[2] for r in rows]
    assert [i.real_s for i in back.intervals] == [f.real_s for f in frames]
    assert [i.live_s for i in back.intervals] == [f.live_s for f in frames]
    assert np.array_equal(back.spectrum, np.array(spectrum) * len(frames))


@given(st.floats(0, 1e7, allow_nan=False))
def test_duration_round_trip(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def test_durations_with_hours_and_minutes() -> None:
    assert parse_duration("PT1H2M3.5S") == 3723.5
    assert parse_duration("P1DT1S") == 86401.0
    for bad in ("PT", "P", "12S", "PT-1S", "PTxS"):
        with pytest.raises(ValueError):
            parse_duration(bad)


@given(st.lists(st.integers(0, 3), max_size=60))
def test_counted_zeroes_round_trip(tmp_path_factory, values) -> None:
    from xml.etree import ElementTree as ET

    from probe_nav.io.n42 import _channel_data

    element = ET.Element("ChannelData", {"compressionCode": "CountedZeroes"})
    element.text = counted_zeroes(np.array(values, dtype=np.int64))
    assert _channel_data(element, "x").tolist() == values


@pytest.mark.parametrize("text, message", [
    ("not xml at all <", "not XML"),
    ("<root/>", "not an N42.42-2012 document"),
    ('<RadInstrumentData xmlns="http://physics.nist.gov/N42/2011/N42"/>', "no RadMeasurement"),
    ('<RadInstrumentData xmlns="http://physics.nist.gov/N42/2011/N42"><RadMeasurement id="a">'
     "<StartDateTime>2025-01-01T00:00:00Z</StartDateTime></RadMeasurement></RadInstrumentData>",
     "missing RealTimeDuration"),
    ('<RadInstrumentData xmlns="http://physics.nist.gov/N42/2011/N42"><RadMeasurement id="a">'
     "<StartDateTime>2025-01-01T00:00:00Z</StartDateTime><RealTimeDuration>PT1S"
     '</RealTimeDuration><GrossCounts id="g" radDetectorInformationReference="Gamma">'
     "<LiveTimeDuration>PT1S</LiveTimeDuration><CountData>-3</CountData></GrossCounts>"
     "</RadMeasurement></RadInstrumentData>", "whole number"),
    ('<RadInstrumentData xmlns="http://physics.nist.gov/N42/2011/N42"><RadMeasurement id="a">'
     "<StartDateTime>yesterday</StartDateTime><RealTimeDuration>PT1S</RealTimeDuration>"
     "</RadMeasurement></RadInstrumentData>", "yesterday"),
])
def test_malformed_files_give_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.n42"
    path.write_text(text)
    with pytest.raises(N42Error) as caught:
        read_n42(path)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert str(path) in str(caught.value)
