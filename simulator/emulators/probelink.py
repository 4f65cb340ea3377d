"""ProbeLink v1 device emulator: answers commands and streams COUNT, SPECTRUM and STATUS messages
(docs/protocol-probelink.md), with up to 8 energy windows, a draining battery and the device
faults of the fault plan (drop, lowbat, clockjump; flags for saturate and hv)."""

from __future__ import annotations

import math
import struct
from dataclasses import replace

from probe_nav.drivers.frames import FaultFlag
from probe_nav.drivers.probelink.codec import (
    DELIMITER,
    ProbeLinkError,
    StreamDecoder,
    command_args,
    encode,
)
from probe_nav.drivers.probelink.messages import (
    MAX_SPECTRUM_CHUNK,
    MAX_WINDOWS,
    Ack,
    AckResult,
    Cmd,
    Command,
    Count,
    Info,
    Message,
    SpectrumChunk,
    Status,
    WindowDef,
)
from probe_nav.simulator.detector import material
from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.engine import SimFrame, Simulation
from probe_nav.simulator.faults import Fault

STATUS_PERIOD_S = 1.0
BATTERY_START_PCT = 87.0
BATTERY_LIFE_H = 10.0  # full to empty while streaming
LOW_BATTERY_PCT = 10.0
TEMPERATURE_CDEG = 3150
NOMINAL_HV_V = {"CdTe": 500.0, "CZT": 800.0, "CsI(Tl)": 29.0}  # detector bias / SiPM bias


class ProbeLinkEmulator(Emulator):
    """A ProbeLink probe. Streams from power-on, like a probe that was left streaming."""

    protocol = "probelink"

    def __init__(self, simulation: Simulation, serial: str = "SIM-0001") -> None:
        super().__init__(simulation)
        self.serial = serial
        self.streaming = True
        self.frame_seq = 0
        self.frames_dropped = 0
        self._tx_seq = 0
        self._next_status_s = 0.0
        self._device_t_s = 0.0
        self._decoder = StreamDecoder()
        self._drops_done: dict[Fault, int] = {}
        self._last_over_range = False

    # ------------------------------------------------------------ helpers

    def _tx(self, msg: Message) -> bytes:
        self._tx_seq = (self._tx_seq + 1) & 0xFFFF
        return encode(replace(msg, seq=self._tx_seq))

    @property
    def windows(self) -> list[WindowDef]:
        """The energy windows the device counts, window 0 first."""
        return [WindowDef(w.lo_kev, w.hi_kev, w.name) for w in self.sim.windows]

    def info_message(self) -> Info:
        """The INFO this device reports."""
        probe = self.sim.scenario.probe
        return Info(
            model="probe-nav simulated probe",
            serial=self.serial,
            firmware="sim-2.0",
            detector=material(probe.detector).protocol_code,
            frame_period_ms=round(self.period_s * 1000),
            n_channels=probe.spectrum_channels,
            energy_cal=(0.0, probe.kev_per_channel),
            windows=tuple(self.windows),
        )

    def battery_pct(self, t_s: float) -> float:
        """Charge left: draining linearly while streaming, or what a lowbat fault says."""
        pct = max(0.0, BATTERY_START_PCT - 100.0 * t_s / (BATTERY_LIFE_H * 3600.0))
        fault = self.faults.active("lowbat", t_s)
        return min(pct, float(fault.param)) if fault is not None and fault.param is not None \
            else pct

    def _hv_v(self, t_s: float) -> float:
        nominal = NOMINAL_HV_V.get(material(self.sim.scenario.probe.detector).name, 500.0)
        return nominal * self.faults.gain_at(t_s) if self.faults.active("hv", t_s) else nominal

    def _flags(self, t_s: float) -> FaultFlag:
        flags = FaultFlag.NONE
        if self.faults.active("hv", t_s):
            flags |= FaultFlag.HV_FAULT
        if self.battery_pct(t_s) < LOW_BATTERY_PCT:
            flags |= FaultFlag.LOW_BATTERY
        return flags

    def _clock_us(self, t_s: float) -> int:
        return max(0, round((t_s + self.faults.clock_offset_s(t_s)) * 1e6))

    def status_message(self) -> Status:
        """The STATUS this device reports now."""
        t = self._device_t_s
        pct = self.battery_pct(t)
        flags = self._flags(t) | (FaultFlag.OVER_RANGE if self._last_over_range else 0)
        return Status(
            t_us=self._clock_us(t),
            battery_pct=round(pct),
            battery_mv=round(3300 + 9 * pct),
            temperature_cdeg=TEMPERATURE_CDEG,
            hv_dv=round(self._hv_v(t) * 10),
            faults=int(flags),
        )

    # ------------------------------------------------------------ Emulator

    def power_on(self) -> bytes:
        return DELIMITER + self._tx(self.info_message())

    def receive(self, data: bytes) -> bytes:
        out = bytearray()
        for msg in self._decoder.feed(data):
            if isinstance(msg, Command):
                out += self._on_command(msg)
        return bytes(out)

    def _on_command(self, msg: Command) -> bytes:
        result = AckResult.OK
        follow: Message | None = None
        try:
            args = command_args(msg)
            if msg.cmd == Cmd.PING:
                pass
            elif msg.cmd == Cmd.START_STREAM:
                self.streaming = True
            elif msg.cmd == Cmd.STOP_STREAM:
                self.streaming = False
            elif msg.cmd == Cmd.SET_FRAME_PERIOD:
                (period_ms,) = args
                if not 10 <= period_ms <= 10000:
                    result = AckResult.BAD_ARGUMENT
                else:
                    self.sim.scenario = replace(self.sim.scenario, frame_period_s=period_ms / 1e3)
            elif msg.cmd == Cmd.SET_WINDOW:
                index, lo, hi = args
                if index >= MAX_WINDOWS or math.isnan(lo + hi):
                    result = AckResult.BAD_ARGUMENT
                else:
                    self.sim.set_window(index, lo, hi)
            elif msg.cmd == Cmd.GET_INFO:
                follow = self.info_message()
            elif msg.cmd == Cmd.GET_STATUS:
                follow = self.status_message()
            elif msg.cmd == Cmd.SET_SPECTRUM:
                (enable,) = args
                if enable not in (0, 1):
                    result = AckResult.BAD_ARGUMENT
                else:
                    self.sim.spectrum_enabled = bool(enable)
            else:
                result = AckResult.UNKNOWN_COMMAND
        except (ProbeLinkError, struct.error, ValueError):
            result = AckResult.BAD_ARGUMENT
        out = self._tx(Ack(msg.seq, msg.cmd, result))
        if follow is not None:
            out += self._tx(follow)
        return out

    def _dropped(self, frame: SimFrame) -> bool:
        """True when a drop fault swallows this frame (judged at mid-interval)."""
        t = frame.t_end_s - frame.real_s / 2
        for fault in self.faults.of_kind("drop"):
            if fault.end_s > fault.start_s:
                if fault.active(t):
                    return True
            elif t >= fault.start_s and self._drops_done.get(fault, 0) < fault.count:
                self._drops_done[fault] = self._drops_done.get(fault, 0) + 1
                return True
        return False

    def _frame_messages(self, frame: SimFrame, flags: FaultFlag) -> bytes:
        out = bytearray()
        if frame.spectrum is not None:
            n = len(frame.spectrum)
            for first in range(0, n, MAX_SPECTRUM_CHUNK):
                bins = frame.spectrum[first:first + MAX_SPECTRUM_CHUNK]
                out += self._tx(SpectrumChunk(self.frame_seq, n, first, bins))
        out += self._tx(Count(
            frame_seq=self.frame_seq,
            t_end_us=self._clock_us(frame.t_end_s),
            real_us=round(frame.real_s * 1e6),
            live_us=min(round(frame.live_s * 1e6), round(frame.real_s * 1e6)),
            counts=tuple(min(c, 0xFFFFFFFF) for c in frame.counts),
            flags=int(flags),
        ))
        return bytes(out)

    def advance(self, device_t_s: float) -> bytes:
        out = bytearray()
        while self.sim.t_s + self.period_s <= device_t_s + 1e-9:
            t_start = self.sim.t_s
            frame = self.sim.step()
            self._device_t_s = frame.t_end_s
            self._last_over_range = frame.over_range
            if not self.streaming:
                continue
            flags = self._flags(frame.t_end_s - frame.real_s / 2)  # as the physics: mid-frame
            if frame.over_range:
                flags |= FaultFlag.OVER_RANGE
            if self.faults.started_in("clockjump", t_start, frame.t_end_s):
                flags |= FaultFlag.CLOCK_RESET
            sent = not self._dropped(frame)
            if sent:
                out += self._frame_messages(frame, flags)
            else:
                self.frames_dropped += 1
            self.record(frame, sent=sent, frame_seq=self.frame_seq, flags=int(flags))
            self.frame_seq = (self.frame_seq + 1) & 0xFFFFFFFF
            if frame.t_end_s >= self._next_status_s:
                out += self._tx(self.status_message())
                self._next_status_s = frame.t_end_s + STATUS_PERIOD_S
        return bytes(out)
