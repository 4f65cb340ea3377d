"""Open Gamma Detector emulator: firmware 4.2 serial output and shell, byte for byte.

Each 1 s tick the physics' window-0 counts become pulses in the nuclide's window (a Gaussian
photopeak of a small scintillator's resolution, truncated to the window, because those counts ARE
window counts) and the physics' other recorded pulses become a continuum outside the window, so
the driver's window 0 must give back exactly the simulator's counts. The firmware then prints
the cumulative 4096-bin histogram (`set out spectrum`), the tick's ADC values (`set out events`,
nothing in a tick without pulses) or nothing (`set out off`). Shell commands `read info`,
`read settings`, `set out ...` and `reset spectrum` answer with the firmware's texts; other input
gets no answer (the shell library's reply to unknown commands is not reproduced).
"""

from __future__ import annotations

import math

import numpy as np

from probe_nav.calibration.nuclides import nuclide
from probe_nav.drivers.ogd.codec import (
    DEFAULT_CALIBRATION,
    N_CHANNELS,
    WindowMap,
    channel_energy_kev,
    encode_message,
    encode_values,
)
from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.engine import Simulation

FIRMWARE = "4.2.0"
_MODE_TEXT = {"spectrum": "Set serial output mode to spectrum histogram.",
              "events": "Set serial output mode to events.", "off": "Disabled serial outputs."}
_FWHM_AT_662 = 0.10  # relative energy resolution of a small CsI/NaI crystal at 662 keV


class OgdEmulator(Emulator):
    """An Open Gamma Detector on USB (CDC: no baud rate, no loss when the host reads slowly)."""

    protocol = "ogd"

    def __init__(self, simulation: Simulation, mode: str = "spectrum", seed: int = 0) -> None:
        super().__init__(simulation)
        if mode not in _MODE_TEXT:
            raise ValueError(f"mode must be one of {sorted(_MODE_TEXT)}")
        self.mode = mode
        self.rng = np.random.default_rng(seed)
        self.spectrum = np.zeros(N_CHANNELS, dtype=np.int64)  # cumulative, like the firmware's
        self.total_pulses = 0
        self.writes: list[str] = []  # shell commands that save settings to flash
        self._rx = bytearray()
        self._peak_channels, self._peak_p, self._other_channels, self._other_p = self._shapes()

    def _shapes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Channels (and their weights) for pulses in window 0 and for all the others."""
        window = self.sim.windows[0]  # the window the physics' counts[0] were counted in
        (inside,) = WindowMap(DEFAULT_CALIBRATION, (window,)).channels
        energies = np.array([channel_energy_kev(k, DEFAULT_CALIBRATION)
                             for k in range(N_CHANNELS)])
        e0 = nuclide(self.sim.scenario.nuclide_name).main_line.energy_kev
        if not window.lo_kev <= e0 < window.hi_kev:  # window 0 is another isotope's
            e0 = (window.lo_kev + window.hi_kev) / 2.0
        sigma = _FWHM_AT_662 * math.sqrt(662.0 * e0) / 2.355
        peak = np.array(inside)
        peak_w = np.exp(-0.5 * ((energies[peak] - e0) / sigma) ** 2)
        in_window = set(inside)
        other = np.array([k for k in range(N_CHANNELS) if k not in in_window and energies[k] > 20])
        other_w = np.exp(-energies[other] / 400.0)
        return peak, peak_w / peak_w.sum(), other, other_w / other_w.sum()

    @property
    def period_s(self) -> float:
        """The firmware's output interval."""
        return 1.0

    # ------------------------------------------------------------ shell

    def power_on(self) -> bytes:
        return (encode_message("Welcome to the Open Gamma Detector!")
                + encode_message(f"Firmware Version {FIRMWARE}"))

    def receive(self, data: bytes) -> bytes:
        self._rx += data
        out = bytearray()
        while True:
            ends = [i for i in (self._rx.find(b"\n"), self._rx.find(b"\r")) if i >= 0]
            if not ends:
                del self._rx[:-256]
                return bytes(out)
            end = min(ends)
            text = self._rx[:end].decode("utf-8", errors="replace").strip()
            del self._rx[: end + 1]
            if text:
                out += self._command(text)

    def _command(self, text: str) -> bytes:
        if text == "read info":
            return self._info()
        if text == "read settings":
            return self._settings()
        if text.startswith("set out"):
            arg = text[len("set out"):].strip()
            if arg not in _MODE_TEXT:
                return (encode_message(f"Invalid input '{arg}'.", error=True)
                        + encode_message("Must be 'spectrum', 'events' or 'off'.", error=True))
            self.mode = arg
            self.writes.append(text)
            return encode_message(_MODE_TEXT[arg])
        if text == "reset spectrum":
            self.spectrum[:] = 0
            return (encode_message("Resetting spectrum...")
                    + encode_message("Successfully reset spectrum!"))
        return b""

    def _info(self) -> bytes:
        dead_us = self.sim.scenario.probe.dead_time_s * 1e6
        runtime_s = self.sim.t_s
        frac = dead_us * self.total_pulses / 1000.0 / max(runtime_s * 1000.0, 1.0) * 100.0
        lines = [
            "=========================", "-- Open Gamma Detector --",
            "By NuclearPhoenix, Open Gamma Project", "2023. https://github.com/OpenGammaProject",
            f"Firmware Version: {FIRMWARE}", "=========================",
            f"Runtime: \t\t{runtime_s:.2f} s",
            "Average Dead Time: \t" + ("n/a" if not self.total_pulses else f"{round(dead_us)}")
            + " µs",
            f"Total Dead Time: \t{frac:.2f} %", f"Total Pulses: \t{self.total_pulses}",
            "CPU Frequency: \t133.00 MHz", "Used Heap Memory: \t41.20 kB / 16%",
            "Free Heap Memory: \t215.13 kB / 84%", "Temperature: \t31.5 °C",
            "USB Connection: \t1", "Supply Voltage: \t4.9 V", "Power Cycle Count: \t12",
            "Power-on hours: \t3",
        ]
        return b"".join(encode_message(line) for line in lines)

    def _settings(self) -> bytes:
        settings = {"ser_output": self.mode != "off", "geiger_mode": False,
                    "print_spectrum": self.mode == "spectrum", "meas_avg": 2,
                    "enable_display": False, "enable_trng": False, "subtract_baseline": True,
                    "cps_correction": False, "enable_ticker": False, "tick_rate": 20}
        body = ",\r\n".join(f'  "{k}": {str(v).lower()}' for k, v in settings.items())
        return ("{\r\n" + body + "\r\n}\r\n").encode("ascii") + encode_message(
            "Read settings file successfully.")

    # ------------------------------------------------------------ counting

    def _pulses(self, window_counts: int, total_counts: int) -> np.ndarray:
        peak = self.rng.choice(self._peak_channels, size=window_counts, p=self._peak_p)
        n_other = max(0, total_counts - window_counts)  # the physics' pulses outside window 0
        other = self.rng.choice(self._other_channels, size=n_other, p=self._other_p)
        pulses = np.concatenate([peak, other])
        self.rng.shuffle(pulses)
        return pulses

    def advance(self, device_t_s: float) -> bytes:
        out = bytearray()
        while self.sim.t_s + 1.0 <= device_t_s + 1e-9:
            frame = self.sim.step(1.0)
            pulses = self._pulses(frame.counts[0], frame.total_counts)
            np.add.at(self.spectrum, pulses, 1)
            self.total_pulses += len(pulses)
            if self.mode == "spectrum":
                out += encode_values(self.spectrum.tolist())
                self.record(frame)
            elif self.mode == "events" and len(pulses):
                out += encode_values(pulses.tolist())
                self.record(frame)
            else:
                self.record(frame, sent=False)
        return bytes(out)
