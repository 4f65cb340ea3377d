"""ProbeLink device emulator: answers commands and streams COUNT, SPECTRUM and STATUS messages
(docs/protocol-probelink.md), with up to 8 energy windows, a draining battery and the device
faults of the fault plan (drop, lowbat, clockjump; flags for saturate and hv).

It speaks v2 and v1 like a v2 firmware: v1 from power-on (so a v1 host works), the version a HELLO
negotiates after answering it, and the version of any other command it is sent (a v1 host that
took over is answered in v1). `ProbeLinkV1Emulator` is a firmware from before v2: v1 only, and
HELLO is an unknown command to it. Its v2 INFO reports the simulated probe's real counter.
"""

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
from probe_nav.drivers.probelink.convert import counter_ceiling_cps
from probe_nav.drivers.probelink.messages import (
    MAX_SPECTRUM_CHUNK,
    MAX_WINDOWS,
    SUPPORTED_VERSIONS,
    UNKNOWN_U32,
    VERSION_1,
    Ack,
    AckResult,
    Cmd,
    Command,
    Count,
    CounterCode,
    Info,
    Message,
    SpectrumChunk,
    Status,
    WindowDef,
    mask_versions,
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
_COUNTER_CODES = {"nonparalysable": CounterCode.NONPARALYSABLE,
                  "paralysable": CounterCode.PARALYSABLE}
_COMMANDS = frozenset(int(c) for c in Cmd)


class ProbeLinkEmulator(Emulator):
    """A ProbeLink probe. Streams from power-on, like a probe that was left streaming."""

    protocol = "probelink"
    versions: tuple[int, ...] = SUPPORTED_VERSIONS  # major versions its firmware speaks

    def __init__(self, simulation: Simulation, serial: str = "SIM-0001") -> None:
        super().__init__(simulation)
        self.serial = serial
        self.version = self.versions[0]  # the version it sends in now
        self.negotiations = 0  # HELLOs answered
        self.streaming = True
        self.frame_seq = 0
        self.frames_dropped = 0
        self._tx_seq = 0
        self._next_status_s = 0.0
        self._device_t_s = 0.0
        self._decoder = StreamDecoder(self.versions)
        self._drops_done: dict[Fault, int] = {}
        self._last_over_range = False

    # ------------------------------------------------------------ helpers

    def _tx(self, msg: Message, version: int | None = None) -> bytes:
        self._tx_seq = (self._tx_seq + 1) & 0xFFFF
        return encode(replace(msg, seq=self._tx_seq,
                              version=self.version if version is None else version))

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
            **self._counter_fields(),
        )

    def _counter_fields(self) -> dict[str, int | None]:
        """The simulated probe's counter as the v2 INFO states it (encoding as v1 drops it)."""
        probe = self.sim.scenario.probe
        tau_s = probe.dead_time_s
        dead_ns = round(tau_s * 1e9)
        max_cps = math.ceil(counter_ceiling_cps(tau_s)) if tau_s > 0 else None
        return {  # a figure the u32 field cannot hold is "not stated"
            "counter": _COUNTER_CODES.get(probe.dead_time_kind, CounterCode.UNKNOWN),
            "dead_time_ns": dead_ns if dead_ns < UNKNOWN_U32 else None,
            "max_rate_cps": max_cps if max_cps is not None and max_cps < UNKNOWN_U32 else None,
        }

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
        self.version = self.versions[0]  # a new host may be an old one: start from the oldest
        return DELIMITER + self._tx(self.info_message())

    def receive(self, data: bytes) -> bytes:
        out = bytearray()
        for msg in self._decoder.feed(data):
            if isinstance(msg, Command):
                out += self._on_command(msg)
        return bytes(out)

    def _knows(self, cmd: int) -> bool:
        """Whether this firmware implements command `cmd` (HELLO came with v2)."""
        return cmd in _COMMANDS and (cmd != Cmd.HELLO or max(self.versions) > VERSION_1)

    def _on_command(self, msg: Command) -> bytes:
        if not self._knows(msg.cmd):
            return self._tx(Ack(msg.seq, msg.cmd, AckResult.UNKNOWN_COMMAND), msg.version)
        if msg.cmd == Cmd.HELLO:
            return self._on_hello(msg)
        self.version = msg.version  # a host speaking another version took over: follow it
        follow: Message | None = None
        try:
            result, follow = self._execute(msg.cmd, command_args(msg))
        except (ProbeLinkError, struct.error, ValueError):
            result = AckResult.BAD_ARGUMENT
        out = self._tx(Ack(msg.seq, msg.cmd, result))
        if follow is not None:
            out += self._tx(follow)
        return out

    def _on_hello(self, msg: Command) -> bytes:
        """Answer in the HELLO's own version with the highest common one, then speak that one,
        starting with an INFO."""
        try:
            (mask,) = command_args(msg)
        except ProbeLinkError:
            return self._tx(Ack(msg.seq, msg.cmd, AckResult.BAD_ARGUMENT), msg.version)
        common = mask_versions(mask) & set(self.versions)
        if not common:
            return self._tx(Ack(msg.seq, msg.cmd, AckResult.BAD_ARGUMENT), msg.version)
        chosen = max(common)
        out = self._tx(Ack(msg.seq, msg.cmd, AckResult.OK, chosen_version=chosen), msg.version)
        self.version = chosen
        self.negotiations += 1
        return out + self._tx(self.info_message())

    def _execute(self, cmd: int, args: tuple) -> tuple[AckResult, Message | None]:
        """Carry out a known command other than HELLO: its result and the message that follows
        the ACK, if any."""
        if cmd == Cmd.START_STREAM:
            self.streaming = True
        elif cmd == Cmd.STOP_STREAM:
            self.streaming = False
        elif cmd == Cmd.SET_FRAME_PERIOD:
            (period_ms,) = args
            if not 10 <= period_ms <= 10000:
                return AckResult.BAD_ARGUMENT, None
            self.sim.scenario = replace(self.sim.scenario, frame_period_s=period_ms / 1e3)
        elif cmd == Cmd.SET_WINDOW:
            index, lo, hi = args
            if index >= MAX_WINDOWS or math.isnan(lo + hi):
                return AckResult.BAD_ARGUMENT, None
            self.sim.set_window(index, lo, hi)
        elif cmd == Cmd.GET_INFO:
            return AckResult.OK, self.info_message()
        elif cmd == Cmd.GET_STATUS:
            return AckResult.OK, self.status_message()
        elif cmd == Cmd.SET_SPECTRUM:
            (enable,) = args
            if enable not in (0, 1):
                return AckResult.BAD_ARGUMENT, None
            self.sim.spectrum_enabled = bool(enable)
        return AckResult.OK, None  # PING included

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


class ProbeLinkV1Emulator(ProbeLinkEmulator):
    """A ProbeLink probe with a firmware from before v2: speaks v1 only, answers HELLO with
    UNKNOWN_COMMAND (`sim serve --protocol probelink-v1`)."""

    protocol = "probelink-v1"
    versions = (VERSION_1,)
