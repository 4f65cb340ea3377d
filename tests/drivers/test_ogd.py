"""Open Gamma Detector: output lines, cumulative spectra, windows, and the device class.

Formats from the firmware source (github.com/OpenGammaProject/Open-Gamma-Detector,
software/ogd_pico/ogd_pico.ino 4.2.0 and Helper.cpp): `dataOutput()` prints the 4096 cumulative
histogram bins or the buffered ADC values as `n;` each, then println (CR LF); `println()` prefixes
messages with `[#] ` (or `[!] ` for errors); `read settings` prints the settings as pretty JSON.
"""

from __future__ import annotations

import pytest

from probe_nav.drivers.device import InfoEvent, LinkEvent, StatusEvent
from probe_nav.drivers.frames import EnergyWindow, FaultFlag
from probe_nav.drivers.ogd.codec import (
    SpectrumDiffer,
    WindowMap,
    histogram,
    parse_data_line,
    parse_message,
)
from probe_nav.drivers.ogd.device import OgdDevice
from tests.drivers.expected_protocol import collect, expected_protocol, frames_of

QUERIES = b"\nread info\nread settings\n"
INFO = ("[#] =========================\r\n[#] -- Open Gamma Detector --\r\n"
        "[#] Firmware Version: 4.2.0\r\n[#] =========================\r\n"
        "[#] Runtime: \t\t12.34 s\r\n[#] Average Dead Time: \t20 \u00b5s\r\n"
        "[#] Temperature: \t27.3 \u00b0C\r\n").encode("utf-8")


def settings(print_spectrum: bool, geiger: bool = False, output: bool = True) -> bytes:
    body = (f'{{\r\n  "ser_output": {str(output).lower()},\r\n'
            f'  "geiger_mode": {str(geiger).lower()},\r\n'
            f'  "print_spectrum": {str(print_spectrum).lower()},\r\n  "meas_avg": 2\r\n}}\r\n')
    return body.encode() + b"[#] Read settings file successfully.\r\n"


def spectrum_line(bins: dict[int, int]) -> bytes:
    """4096 cumulative bins, as `dataOutput()` prints them."""
    return b"".join(b"%d;" % bins.get(k, 0) for k in range(4096)) + b"\r\n"


# Channel 187 is 140.25 keV (in the Tc-99m window 126-155 keV) and channel 500 is 375 keV under
# the default 0.75 keV/channel calibration.
def test_codec_lines_messages_and_windows() -> None:
    assert parse_data_line("3;0;12;") == (3, 0, 12)
    for bad in ("3;0;12", "3;x;12;", "3;-1;"):
        with pytest.raises(ValueError):
            parse_data_line(bad)
    msg = parse_message("[#] Firmware Version: 4.2.0")
    assert msg.firmware == "4.2.0" and not msg.error
    assert parse_message("[#] Average Dead Time: \t20 \u00b5s").dead_time_us == 20.0
    assert parse_message("[#] Set serial output mode to events.").mode == "events"
    assert parse_message('  "print_spectrum": true,').setting == ("print_spectrum", True)
    assert parse_message("[!] Invalid input 'x'.").error
    windows = WindowMap((0.0, 0.75), (EnergyWindow(126, 155), EnergyWindow(0, float("inf"))))
    spectrum = [0] * 4096
    spectrum[167], spectrum[168], spectrum[206], spectrum[207], spectrum[500] = 1, 2, 3, 4, 5
    assert windows.counts(spectrum) == (5, 15)
    assert histogram([187, 187, 500])[187] == 2
    with pytest.raises(ValueError):
        histogram([4096])


def test_cumulative_spectra_difference_and_reset() -> None:
    differ = SpectrumDiffer()
    assert differ.feed((1, 2, 3)) == (None, False)
    assert differ.feed((2, 2, 5)) == ([1, 0, 2], False)
    assert differ.feed((0, 1, 0)) == ([0, 1, 0], True)  # smaller: `reset spectrum` or a reboot


def test_spectrum_mode_frames_are_differences_of_cumulative_histograms() -> None:
    script = [(QUERIES, INFO + settings(print_spectrum=True)),
              (None, spectrum_line({187: 10, 500: 4}) + spectrum_line({187: 13, 500: 9})
               + spectrum_line({187: 20, 500: 9, 900: 1}))]
    with expected_protocol(OgdDevice, script) as (device, _port):
        events = collect(device, frames=2)
    frames = frames_of(events)
    assert [f.counts for f in frames] == [(3, 8), (7, 8)]  # (Tc-99m window, total)
    assert [f.t_s for f in frames] == [2.0, 3.0]  # the first line only sets the zero
    assert frames[0].spectrum[187] == 3 and frames[0].spectrum[500] == 5
    # live time = 1 s - counts x the firmware's average dead time (20 us)
    assert frames[0].live_s == pytest.approx(1.0 - 8 * 20e-6)
    info = [e.info for e in events if isinstance(e, InfoEvent)][-1]
    assert (info.firmware, info.protocol, info.n_channels) == ("4.2.0", "ogd spectrum", 4096)
    assert info.energy_calibration == (0.0, 0.75) and info.windows[0].name == "Tc-99m"
    temps = [e.status.temperature_c for e in events if isinstance(e, StatusEvent)]
    assert temps == [27.3]
    assert device.stats.extra["baseline_spectra"] == 1 and device.stats.bad_frames == 0


def test_spectrum_reset_on_the_detector_is_flagged() -> None:
    script = [(QUERIES, settings(print_spectrum=True)),
              (None, spectrum_line({187: 10}) + spectrum_line({187: 2, 500: 1}))]
    with expected_protocol(OgdDevice, script) as (device, _port):
        frame = frames_of(collect(device, frames=1))[0]
    assert frame.counts == (2, 3) and frame.flags & FaultFlag.CLOCK_RESET
    assert device.stats.extra["spectrum_resets"] == 1


def test_events_mode_histograms_the_adc_values() -> None:
    script = [(QUERIES, settings(print_spectrum=False)),
              (None, b"187;500;187;188;\r\n999;\r\n")]
    with expected_protocol(OgdDevice, script, query_on_connect=True) as (device, _port):
        events = collect(device, frames=2)
    frames = frames_of(events)
    assert [f.counts for f in frames] == [(3, 4), (0, 1)]
    assert [f.real_s for f in frames] == [1.0, 1.0]  # lines arrived back to back
    assert frames[0].spectrum[187] == 2


def test_geiger_mode_counts_every_pulse_in_every_window() -> None:
    script = [(QUERIES, settings(print_spectrum=False, geiger=True)), (None, b"0;0;0;\r\n")]
    with expected_protocol(OgdDevice, script) as (device, _port):
        frame = frames_of(collect(device, frames=1))[0]
    assert frame.counts == (3, 3)


def test_output_off_is_reported() -> None:
    script = [(QUERIES, settings(print_spectrum=False, output=False))]
    with expected_protocol(OgdDevice, script) as (device, _port):
        events = collect(device, until=lambda ev: any(
            isinstance(e, LinkEvent) and "serial output is off" in e.reason for e in ev))
    assert not frames_of(events)


def test_output_mode_is_only_changed_when_asked() -> None:
    script = [(b"set out events\n", b"[#] Set serial output mode to events.\r\n"),
              (QUERIES, settings(print_spectrum=False)), (None, b"187;\r\n")]
    with expected_protocol(OgdDevice, script, set_output="events") as (device, _port):
        collect(device, frames=1)
    assert device.mode == "events"


def test_garbage_and_fragments_are_counted_not_framed() -> None:
    script = [(QUERIES, settings(print_spectrum=False)),
              (None, b"7;500;\r\n"  # (not first: the settings came first) a good line
               b"12;4a;\r\n\x00\xff\xfe\r\n13;14\r\n187;\r\n")]
    with expected_protocol(OgdDevice, script) as (device, _port):
        events = collect(device, frames=2)
        collect(device, until=lambda _ev: device.stats.bad_frames == 3)
    assert [f.counts for f in frames_of(events)] == [(0, 2), (1, 1)]


def test_recognise() -> None:
    assert OgdDevice.recognise(INFO).description == "Open Gamma Detector firmware 4.2.0"
    assert OgdDevice.recognise(b"4;\r\n187;500;\r\n") is not None
    assert OgdDevice.recognise(b"CPS, 1, CPM, 21, uSv/hr, 0.11, SLOW\r\n") is None
