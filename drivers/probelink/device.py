"""ProbeLink device class: speaks docs/protocol-probelink.md over a SerialTransport."""

from __future__ import annotations

import threading

from probe_nav.drivers.device import Device
from probe_nav.drivers.errors import DeviceTimeout
from probe_nav.drivers.frames import CountFrame, DeviceInfo, DeviceStatus, EnergyWindow, FaultFlag
from probe_nav.drivers.probelink.codec import DELIMITER, StreamDecoder, command, encode
from probe_nav.drivers.probelink.messages import (
    Ack,
    AckResult,
    Cmd,
    Count,
    Detector,
    Info,
    Message,
    SpectrumChunk,
    Status,
)
from probe_nav.drivers.probing import Identification, read_for
from probe_nav.drivers.transport import SerialPort

_DETECTOR_NAMES: dict[int, str] = {  # keyed by the INFO message's detector code
    Detector.UNKNOWN: "unknown",
    Detector.CDTE: "CdTe",
    Detector.CZT: "CZT",
    Detector.CSI_TL: "CsI(Tl)",
    Detector.NAI_TL: "NaI(Tl)",
    Detector.GM_TUBE: "GM tube",
    Detector.SIPM_SCINTILLATOR: "SiPM scintillator",
    Detector.LABR3: "LaBr3(Ce)",
}
_RETRY_S = 1.0


def info_from_message(msg: Info) -> DeviceInfo:
    """The protocol-neutral DeviceInfo for an INFO message."""
    return DeviceInfo(
        model=msg.model,
        serial=msg.serial,
        firmware=msg.firmware,
        detector=_DETECTOR_NAMES.get(msg.detector, f"code {msg.detector}"),
        protocol=f"probelink 1.{msg.minor}",
        frame_period_s=msg.frame_period_ms / 1000.0 if msg.frame_period_ms else None,
        windows=tuple(EnergyWindow(w.lo_kev, w.hi_kev, w.name) for w in msg.windows),
        energy_calibration=tuple(msg.energy_cal),
        n_channels=msg.n_channels,
    )


def status_from_message(msg: Status) -> DeviceStatus:
    """The protocol-neutral DeviceStatus for a STATUS message."""
    return DeviceStatus(
        t_s=msg.t_us / 1e6,
        battery_pct=msg.battery_pct,
        battery_v=None if msg.battery_mv is None else msg.battery_mv / 1000.0,
        temperature_c=None if msg.temperature_cdeg is None else msg.temperature_cdeg / 100.0,
        high_voltage_v=None if msg.hv_dv is None else msg.hv_dv / 10.0,
        faults=FaultFlag(msg.faults & 0xFFFF),
    )


class ProbeLinkDevice(Device):
    """A probe speaking ProbeLink v1."""

    protocol = "probelink"
    default_baudrate = 115200
    default_frame_period_s = 0.05
    identify_order = 20

    def __init__(self, url: str, *, baudrate: int | None = None,
                 stale_after_s: float | None = None) -> None:
        super().__init__(url, baudrate=baudrate, stale_after_s=stale_after_s)
        self._decoder = StreamDecoder()
        self._reported_rejects: dict[str, int] = {}
        self._reported_skipped = 0
        self._cmd_seq = 0
        self._seq_lock = threading.Lock()
        self._pending: dict[int, tuple[threading.Event, list[Ack]]] = {}
        self._last_frame_seq: int | None = None
        self._spectrum: dict[int, list[int]] = {}
        self._connected_at_s = 0.0
        self._last_request_s = 0.0
        self._frames_this_connection = 0

    @classmethod
    def identify(cls, port: SerialPort, timeout_s: float = 0.6) -> Identification | None:
        """Send GET_INFO: a ProbeLink device answers with ACK and INFO (and may be streaming)."""
        port.write(DELIMITER + encode(command(Cmd.GET_INFO, 1)))

        def messages(buf: bytes) -> list[Message]:
            return StreamDecoder().feed(buf)

        raw = read_for(port, timeout_s,
                       done=lambda buf: any(isinstance(m, Info) for m in messages(buf)))
        found = messages(raw)
        info = next((m for m in found if isinstance(m, Info)), None)
        if info is not None:
            who = f"{info.model} #{info.serial}" if info.serial else info.model
            return Identification("probelink", f"{who} firmware {info.firmware}")
        if any(isinstance(m, Ack | Count) for m in found):
            return Identification("probelink", "ProbeLink device")
        return None

    # ------------------------------------------------------------ commands

    def _next_seq(self) -> int:
        with self._seq_lock:
            self._cmd_seq = (self._cmd_seq + 1) & 0xFFFF
            return self._cmd_seq

    def _send_command(self, cmd: Cmd, *args: object) -> int:
        seq = self._next_seq()
        self.send(encode(command(cmd, seq, *args)))
        return seq

    def request(self, cmd: Cmd, *args: object, timeout_s: float = 1.0) -> Ack:
        """Send a command and wait for its ACK; DeviceTimeout if none. Not for the reader thread."""
        seq = self._next_seq()
        event: threading.Event = threading.Event()
        box: list[Ack] = []
        self._pending[seq] = (event, box)
        try:
            self.send(encode(command(cmd, seq, *args)))
            if not event.wait(timeout_s):
                raise DeviceTimeout(f"no acknowledgement of {cmd.name} within {timeout_s} s")
            return box[0]
        finally:
            self._pending.pop(seq, None)

    # ------------------------------------------------------------ Device hooks

    def on_connect(self) -> None:
        self._decoder = StreamDecoder()
        self._reported_rejects = {}
        self._reported_skipped = 0
        self._spectrum.clear()
        self._frames_this_connection = 0
        self.send(DELIMITER)  # terminate any half-sent packet on the device side
        self._ask_identity_and_stream()

    def _ask_identity_and_stream(self) -> None:
        self._last_request_s = self.clock()
        self._send_command(Cmd.GET_INFO)
        self._send_command(Cmd.START_STREAM)

    def on_tick(self, now_s: float) -> None:
        # A command can be lost on the wire like any frame: ask again until the device answers.
        missing = self.info is None or self._frames_this_connection == 0
        if missing and now_s - self._last_request_s > _RETRY_S:
            self._ask_identity_and_stream()

    def on_close(self) -> None:
        self._send_command(Cmd.STOP_STREAM)

    def on_data(self, data: bytes) -> None:
        for msg in self._decoder.feed(data):
            if isinstance(msg, Count):
                self._on_count(msg)
            elif isinstance(msg, SpectrumChunk):
                self._on_spectrum(msg)
            elif isinstance(msg, Status):
                self.emit_status(status_from_message(msg))
            elif isinstance(msg, Info):
                self.emit_info(info_from_message(msg))
            elif isinstance(msg, Ack):
                self._on_ack(msg)
        self._report_decoder_stats()

    # ------------------------------------------------------------ message handlers

    def _on_count(self, msg: Count) -> None:
        dropped = 0
        last = self._last_frame_seq
        if last is not None and msg.frame_seq > last:
            dropped = msg.frame_seq - last - 1
        self._last_frame_seq = msg.frame_seq
        spectrum = self._spectrum.pop(msg.frame_seq, None)
        for stale_seq in [s for s in self._spectrum if s < msg.frame_seq]:
            del self._spectrum[stale_seq]
            self.count_bad(incomplete_spectra=1)
        if spectrum is not None and min(spectrum) < 0:
            self.count_bad(incomplete_spectra=1)
            spectrum = None
        self._frames_this_connection += 1
        self.emit_frame(
            CountFrame(
                seq=msg.frame_seq,
                t_s=msg.t_end_us / 1e6,
                real_s=msg.real_us / 1e6,
                live_s=msg.live_us / 1e6,
                counts=tuple(msg.counts),
                spectrum=None if spectrum is None else tuple(spectrum),
                flags=FaultFlag(msg.flags & 0xFFFF),
            ),
            dropped_before=dropped,
        )

    def _on_spectrum(self, msg: SpectrumChunk) -> None:
        bins = self._spectrum.setdefault(msg.frame_seq, [-1] * msg.n_channels)
        if len(bins) != msg.n_channels:
            self.count_bad(incomplete_spectra=1)
            bins = self._spectrum[msg.frame_seq] = [-1] * msg.n_channels
        bins[msg.first_channel : msg.first_channel + len(msg.bins)] = msg.bins

    def _on_ack(self, msg: Ack) -> None:
        if msg.result != AckResult.OK:
            self.count_bad(nacks=1)
        pending = self._pending.get(msg.cmd_seq)
        if pending is not None:
            event, box = pending
            box.append(msg)
            event.set()

    def _report_decoder_stats(self) -> None:
        stats = self._decoder.stats
        rejected = stats.rejected()
        delta = {k: v - self._reported_rejects.get(k, 0) for k, v in rejected.items()}
        delta = {k: v for k, v in delta.items() if v}
        skipped = stats.skipped_bytes - self._reported_skipped
        if delta or skipped:
            self.count_bad(bad_frames=sum(delta.values()), skipped_bytes=skipped,
                           details=self._decoder.last_errors, **delta)
        self._reported_rejects = rejected
        self._reported_skipped = stats.skipped_bytes
