"""Open Gamma Detector as a probe-nav device: one output line a second -> one CountFrame with the
interval's spectrum and its counts per energy window.

On connect the driver sends the read-only shell commands `read info` (firmware, dead time,
temperature) and `read settings` (which output mode is on); it changes the output mode only when
asked (`set_output=`), because the firmware saves that setting to its flash.

Time: the detector prints no timestamp. In spectrum mode a line comes every output period, so
`t_s` counts lines x `output_period_s`. In events mode a second without pulses prints nothing, so
each line stands for round(host gap / output_period_s) periods (at least one). `live_s` is
`real_s` minus counts x the firmware's average dead time when `read info` reported it.

A lost data line (rejected, overlong, left unfinished) breaks the count of periods: in spectrum
mode the next line then only sets a new zero (its difference would span an unknown number of
periods: the lost "lines" may be fragments of one line or several glued together), and in events
mode the next line's interval is measured from the lost one (which was an output too). In auto
mode (the detector did not say its mode) a fragment of a spectrum line looks like an events line:
the first data line of a connection, which may be the tail of a line sent before we listened, is
discarded (`partial_first_line`) unless it is a whole spectrum; and once two consecutive lines
were cumulative spectra (a difference with no bin falling), a shorter line is a fragment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from probe_nav.drivers.counters import OGD, ogd_counter
from probe_nav.drivers.frames import (
    CounterSpec,
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    EnergyWindow,
    FaultFlag,
)
from probe_nav.drivers.line_device import LineDevice
from probe_nav.drivers.lines import is_text_line
from probe_nav.drivers.ogd.codec import (
    DEFAULT_CALIBRATION,
    DEFAULT_WINDOWS,
    N_CHANNELS,
    SpectrumDiffer,
    WindowMap,
    histogram,
    parse_data_line,
    parse_message,
)
from probe_nav.drivers.probing import Identification, read_for
from probe_nav.drivers.transport import SerialPort

QUERIES = b"\nread info\nread settings\n"  # the first line end ends a half-typed command


class OgdDevice(LineDevice):
    """An Open Gamma Detector (USB CDC; the baud rate is ignored by the Pico)."""

    protocol: ClassVar[str] = "ogd"
    default_baudrate: ClassVar[int] = 2_000_000
    default_frame_period_s: ClassVar[float] = 1.0
    identify_order: ClassVar[int] = 30
    max_line_bytes: ClassVar[int] = 300_000  # 50 000 buffered events of up to 4 digits and ';'
    # The Pico's ADC samples at 500 kS/s at most: no more pulses than that can be counted.
    fallback_max_rate_cps: ClassVar[float | None] = 5e5
    default_counter: ClassVar[CounterSpec] = OGD  # drivers/counters.py

    def __init__(
        self,
        url: str,
        *,
        baudrate: int | None = None,
        stale_after_s: float | None = None,
        mode: str = "auto",
        energy_calibration: Sequence[float] = DEFAULT_CALIBRATION,
        windows: Sequence[EnergyWindow] = DEFAULT_WINDOWS,
        output_period_s: float = 1.0,
        query_on_connect: bool = True,
        set_output: str | None = None,
    ) -> None:
        super().__init__(url, baudrate=baudrate, stale_after_s=stale_after_s)
        if mode not in ("auto", "spectrum", "events"):
            raise ValueError(f"mode must be auto, spectrum or events, not {mode!r}")
        if set_output not in (None, "spectrum", "events"):
            raise ValueError(f"set_output must be spectrum or events, not {set_output!r}")
        self.mode = None if mode == "auto" else mode
        self.calibration = tuple(energy_calibration)
        self.windows = tuple(windows)
        self.output_period_s = output_period_s
        self.query_on_connect = query_on_connect
        self.set_output = set_output
        self.firmware = ""
        self.dead_time_s: float | None = None
        self.geiger_mode = False
        self._map = WindowMap(self.calibration, self.windows)
        self._differ = SpectrumDiffer()
        self._inconsistent_seen = 0
        self._auto_spectrum = False  # auto mode: the stream is known to be cumulative spectra
        self._periods = 0
        self._frames = 0
        self._last_line_s: float | None = None

    # ------------------------------------------------------------ Device hooks

    def on_line_connect(self) -> None:
        self._differ.reset()
        self._auto_spectrum = False
        self._last_line_s = None
        if self.set_output:
            self.send(f"set out {self.set_output}\n".encode("ascii"))
        if self.query_on_connect:
            self.send(QUERIES)
        self.emit_info(self._info())

    def on_lines_lost(self) -> None:
        self._lost_line(self.clock())

    def _lost_line(self, now_s: float) -> None:
        """A data line was lost: resynchronise (see the module docstring)."""
        self._differ.reset()
        self._last_line_s = now_s

    def on_line(self, line: str, now_s: float) -> None:
        if ";" in line:
            self._on_data_line(line, now_s)
        elif is_text_line(line):
            self._on_text(line)
        else:
            self.reject_line(line, "not printable text")

    # ------------------------------------------------------------ lines

    def _on_text(self, line: str) -> None:
        msg = parse_message(line)
        if msg.firmware:
            self.firmware = msg.firmware
            self.emit_info(self._info())
        if msg.dead_time_us is not None:
            self.dead_time_s = msg.dead_time_us * 1e-6
            self.emit_info(self._info())  # the counter's dead time is now the firmware's
        if msg.temperature_c is not None:
            self.emit_status(DeviceStatus(temperature_c=msg.temperature_c))
        if msg.mode is not None:
            self._set_mode(msg.mode)
        if msg.setting is not None:
            key, value = msg.setting
            if key == "print_spectrum":
                self._set_mode("spectrum" if value else "events")
            elif key == "geiger_mode":
                self.geiger_mode = value
            elif key == "ser_output" and not value:
                self._set_mode("off")
        if msg.error:
            self.count_bad(device_errors=1)

    def _set_mode(self, mode: str) -> None:
        if mode == "off":
            self.report_problem("the detector's serial output is off (`set out spectrum` on it)")
            return
        if mode != self.mode:
            self.mode = mode
            self._differ.reset()
            self.emit_info(self._info())

    def _on_data_line(self, line: str, now_s: float) -> None:
        try:
            values = parse_data_line(line)
            mode = self._line_mode(values)
            if mode is None:
                self.count_bad(partial_first_line=1, details={
                    "partial_first_line": f"first data line of {len(values)} values in auto mode"})
                self._last_line_s = now_s
                return
            if mode == "spectrum":
                if len(values) != N_CHANNELS:
                    raise ValueError(f"spectrum of {len(values)} bins, expected {N_CHANNELS}")
                spectrum, reset = self._differ.feed(values)
                periods = 1
            else:
                spectrum, reset = histogram(values), False
                gap = None if self._last_line_s is None else now_s - self._last_line_s
                periods = 1 if gap is None else max(1, round(gap / self.output_period_s))
        except ValueError as exc:
            self.reject_line(line, str(exc))
            self._lost_line(now_s)
            return
        self._last_line_s = now_s
        self._periods += periods
        if spectrum is None:
            if self._differ.inconsistent > self._inconsistent_seen:
                self._inconsistent_seen = self._differ.inconsistent
                self.count_bad(bad_frames=1, inconsistent_spectra=1, details={
                    "inconsistent_spectra": "bins fell but the total did not: a garbled line"})
            else:  # the first cumulative histogram (or the first after a loss) sets the zero
                self.count_bad(baseline_spectra=1)
            return
        if reset:
            self.count_bad(spectrum_resets=1)
        elif self.mode is None and mode == "spectrum":
            self._auto_spectrum = True
        self._emit(spectrum, periods, reset)

    def _line_mode(self, values: tuple[int, ...]) -> str | None:
        """How to read a data line: 'spectrum' or 'events'; None to discard it (see the module
        docstring); ValueError for a fragment of a spectrum line."""
        if self.mode is not None:
            return self.mode
        if len(values) == N_CHANNELS:
            return "spectrum"
        if self.lines_this_connection == 1:
            return None
        if self._auto_spectrum:
            raise ValueError(f"{len(values)} values in a stream of {N_CHANNELS}-bin spectra: "
                             "a fragment")
        return "events"

    def _emit(self, spectrum: list[int], periods: int, reset: bool) -> None:
        total = sum(spectrum)
        counts = (total,) * len(self.windows) if self.geiger_mode else self._map.counts(spectrum)
        real_s = periods * self.output_period_s
        live_s = real_s if self.dead_time_s is None else max(0.0, real_s - total * self.dead_time_s)
        self._frames += 1
        self.emit_frame(CountFrame(
            seq=self._frames - 1,
            t_s=self._periods * self.output_period_s,
            real_s=real_s,
            live_s=live_s,
            counts=counts,
            spectrum=tuple(spectrum),
            flags=FaultFlag.CLOCK_RESET if reset else FaultFlag.NONE,
        ))

    def _info(self) -> DeviceInfo:
        return DeviceInfo(
            model="Open Gamma Detector",
            firmware=self.firmware,
            detector="SiPM scintillator",
            protocol=f"ogd {self.mode or 'auto'}",
            frame_period_s=self.output_period_s,
            windows=self.windows,
            energy_calibration=self.calibration,
            n_channels=N_CHANNELS,
            counter=ogd_counter(self.dead_time_s),
        )

    # ------------------------------------------------------------ autodetection

    @classmethod
    def identify(cls, port: SerialPort, timeout_s: float = 1.5) -> Identification | None:
        """Ask `read info` (read-only) and listen: its banner or a data line gives it away."""
        port.write(b"\nread info\n")  # the first line end ends whatever the shell holds
        raw = read_for(port, timeout_s, done=lambda buf: cls.recognise(buf) is not None,
                       quiet_s=0.1)
        return cls.recognise(raw)

    @classmethod
    def recognise(cls, captured: bytes) -> Identification | None:
        """The `read info` banner, or an `n;n;...;` data line."""
        firmware = parse_message(captured.decode("utf-8", errors="replace")).firmware
        if b"Open Gamma Detector" in captured:
            suffix = f" firmware {firmware}" if firmware else ""
            return Identification("ogd", f"Open Gamma Detector{suffix}")
        for raw in captured.replace(b"\r", b"\n").split(b"\n")[:-1]:
            try:
                parse_data_line(raw.decode("ascii"))
            except (ValueError, UnicodeDecodeError):
                continue
            return Identification("ogd", "Open Gamma Detector (data lines)")
        return None
