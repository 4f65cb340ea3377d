"""Open Gamma Detector serial output (OpenGammaProject firmware 4.x, software/ogd_pico): pure.

Every second (a TaskScheduler interval of 1000 ms) the firmware prints, depending on `set out`:
- `spectrum`: the 4096-bin pulse-height histogram, `n;n;...;` CR LF. The histogram is CUMULATIVE
  (accumulated since power-on or `reset spectrum`), so counts per interval are the difference of
  consecutive lines; a bin that decreases means the histogram was reset.
- `events`: the 12-bit ADC value of each pulse since the last output, `n;n;...;` CR LF, and
  nothing at all in a second without pulses.
Messages are lines starting `[#] ` (information) or `[!] ` (error); `read settings` prints the
settings as pretty JSON. Energies come from a calibration keV = sum(c[i] * channel**i).
Numbers are parsed bounded: a data field is 1 to MAX_DIGITS ASCII digits (the firmware's counters
are 32-bit), a message's dead time and temperature a few digits, so nothing huge is ever built.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from probe_nav.drivers.frames import EnergyWindow

N_CHANNELS = 4096
MAX_DIGITS = 10  # 2^32 - 1 has 10 digits
MAX_DEAD_TIME_US = 1000.0  # a larger "Average Dead Time" is a garbled message, not a detector
# A placeholder linear calibration (0.75 keV per ADC channel, ~3 MeV full scale): the real one
# depends on the crystal and must come from two or more known peaks.
DEFAULT_CALIBRATION: tuple[float, ...] = (0.0, 0.75)
DEFAULT_WINDOWS: tuple[EnergyWindow, ...] = (
    EnergyWindow(126.0, 155.0, "Tc-99m"),
    EnergyWindow(0.0, float("inf"), "total"),
)

_FIRMWARE = re.compile(r"Firmware Version:?\s*(\S+)")
_DEAD_TIME = re.compile(r"Average Dead Time:\s*([0-9]{1,6}(?:\.[0-9]{1,6})?)\s*µs")
_TEMPERATURE = re.compile(r"Temperature:\s*(-?[0-9]{1,3}(?:\.[0-9]{1,3})?)\s*°C")
_DATA_LINE = re.compile(rf"(?:[0-9]{{1,{MAX_DIGITS}}};)+")
_SETTING = re.compile(r'"(ser_output|geiger_mode|print_spectrum)"\s*:\s*(true|false)')
_MODE_MESSAGES = {
    "Set serial output mode to spectrum histogram.": "spectrum",
    "Set serial output mode to events.": "events",
    "Disabled serial outputs.": "off",
}


def parse_data_line(line: str) -> tuple[int, ...]:
    """`"3;0;12;"` -> (3, 0, 12); ValueError unless every field is an integer of 1 to MAX_DIGITS
    ASCII digits ended by ';'."""
    text = line.strip()
    if not text.endswith(";"):
        raise ValueError(f"data line does not end with ';': {text[-20:]!r}")
    if _DATA_LINE.fullmatch(text) is None:
        raise ValueError(f"a field is not an integer of 1 to {MAX_DIGITS} digits: {text[:40]!r}")
    return tuple(int(field) for field in text[:-1].split(";"))


@dataclass(frozen=True, slots=True)
class Message:
    """What a text line told us (fields are None when the line did not say)."""

    error: bool = False
    firmware: str | None = None
    mode: str | None = None  # 'spectrum', 'events' or 'off'
    dead_time_us: float | None = None
    temperature_c: float | None = None
    setting: tuple[str, bool] | None = None


def parse_message(line: str) -> Message:
    """Parse a `[#]`/`[!]` message or a settings JSON line."""
    text = line.strip()
    error = text.startswith("[!]")
    body = text[4:] if text.startswith(("[#] ", "[!] ")) else text
    firmware = _FIRMWARE.search(body)
    dead = _DEAD_TIME.search(body)
    temp = _TEMPERATURE.search(body)
    setting = _SETTING.search(body)
    dead_time_us = float(dead.group(1)) if dead else None
    return Message(
        error=error,
        firmware=firmware.group(1) if firmware else None,
        mode=_MODE_MESSAGES.get(body),
        dead_time_us=dead_time_us if dead_time_us is not None
        and dead_time_us <= MAX_DEAD_TIME_US else None,
        temperature_c=float(temp.group(1)) if temp else None,
        setting=(setting.group(1), setting.group(2) == "true") if setting else None,
    )


def histogram(events: Sequence[int], n_channels: int = N_CHANNELS) -> list[int]:
    """Per-channel counts of a list of ADC values; ValueError for a value outside the ADC range."""
    bins = [0] * n_channels
    for value in events:
        if value >= n_channels:
            raise ValueError(f"ADC value {value} outside 0..{n_channels - 1}")
        bins[value] += 1
    return bins


class SpectrumDiffer:
    """Turns the cumulative histogram into per-interval spectra.

    A bin that decreases is a reset on the device (`reset spectrum`, a reboot) only when the total
    fell to at most half the previous one, as when everything accumulated was zeroed; then the
    whole new histogram is the interval's. Otherwise the line (or the previous one) was garbled in
    a way that kept it parseable: no frame, and the line becomes the new zero (`inconsistent`
    counts these).
    """

    def __init__(self) -> None:
        self._last: tuple[int, ...] | None = None
        self.inconsistent = 0

    def reset(self) -> None:
        """Forget the previous histogram (after a reconnect, a mode change or a lost line)."""
        self._last = None

    def feed(self, cumulative: tuple[int, ...]) -> tuple[list[int] | None, bool]:
        """-> (counts since the previous line, or None when the line only sets the zero; True if
        the device reset)."""
        last, self._last = self._last, cumulative
        if last is None or len(last) != len(cumulative):
            return None, False
        delta = [now - before for now, before in zip(cumulative, last, strict=True)]
        if min(delta) < 0:
            if 2 * sum(cumulative) <= sum(last):
                return list(cumulative), True  # reset since the last line: all of it is new
            self.inconsistent += 1
            return None, False
        return delta, False


def channel_energy_kev(channel: int, calibration: Sequence[float]) -> float:
    """keV of an ADC channel under a polynomial calibration."""
    return sum(c * channel**i for i, c in enumerate(calibration))


class WindowMap:
    """Which channels fall in which energy window (window i: lo <= E(channel) < hi)."""

    def __init__(self, calibration: Sequence[float], windows: Sequence[EnergyWindow],
                 n_channels: int = N_CHANNELS) -> None:
        if len(calibration) < 2:
            raise ValueError("an energy calibration needs at least an offset and a gain")
        energies = [channel_energy_kev(k, calibration) for k in range(n_channels)]
        self.windows = tuple(windows)
        self.channels = tuple(
            tuple(k for k, e in enumerate(energies) if w.lo_kev <= e < w.hi_kev) for w in windows
        )

    def counts(self, spectrum: Sequence[int]) -> tuple[int, ...]:
        """Counts per window."""
        return tuple(sum(spectrum[k] for k in channels) for channels in self.channels)


def encode_values(values: Sequence[int]) -> bytes:
    """A data line as the firmware prints it (for emulators)."""
    return ("".join(f"{v};" for v in values) + "\r\n").encode("ascii")


def encode_message(text: str, error: bool = False) -> bytes:
    """A message line as the firmware prints it (for emulators)."""
    return (("[!] " if error else "[#] ") + text + "\r\n").encode("utf-8")
