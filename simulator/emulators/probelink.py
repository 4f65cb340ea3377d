"""ProbeLink v1 device emulator: answers commands and streams COUNT (and STATUS) messages."""

from __future__ import annotations

import math
import struct
from dataclasses import replace

from calibration.nuclides import nuclide
from drivers.probelink.codec import DELIMITER, ProbeLinkError, StreamDecoder, command_args, encode
from drivers.probelink.messages import (
    MAX_WINDOWS,
    Ack,
    AckResult,
    Cmd,
    Command,
    Count,
    Detector,
    Info,
    Message,
    Status,
    WindowDef,
)
from simulator.emulators.base import Emulator
from simulator.engine import Simulation

STATUS_PERIOD_S = 1.0


class ProbeLinkEmulator(Emulator):
    """A ProbeLink probe. Streams from power-on, like a probe that was left streaming."""

    protocol = "probelink"

    def __init__(self, simulation: Simulation, serial: str = "SIM-0001") -> None:
        super().__init__(simulation)
        self.serial = serial
        self.streaming = True
        self.frame_seq = 0
        self._tx_seq = 0
        self._next_status_s = 0.0
        self._device_t_s = 0.0
        self._decoder = StreamDecoder()
        nuc = nuclide(simulation.scenario.nuclide_name)
        self.windows = [WindowDef(nuc.window.lo_kev, nuc.window.hi_kev, nuc.name)]
        self.battery_pct = 87
        self.faults = 0

    # ------------------------------------------------------------ helpers

    def _tx(self, msg: Message) -> bytes:
        self._tx_seq = (self._tx_seq + 1) & 0xFFFF
        return encode(_with_seq(msg, self._tx_seq))

    def info_message(self) -> Info:
        """The INFO this device reports."""
        return Info(
            model="probe-nav simulated probe",
            serial=self.serial,
            firmware="sim-1.0",
            detector=Detector.CDTE,
            frame_period_ms=round(self.period_s * 1000),
            windows=tuple(self.windows),
        )

    def status_message(self) -> Status:
        """The STATUS this device reports now."""
        return Status(
            t_us=int(self._device_t_s * 1e6),
            battery_pct=self.battery_pct,
            battery_mv=int(3300 + 9 * self.battery_pct),
            temperature_cdeg=3150,
            hv_dv=None,
            faults=self.faults,
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
                    self._set_period(period_ms / 1000.0)
            elif msg.cmd == Cmd.SET_WINDOW:
                index, lo, hi = args
                if index >= MAX_WINDOWS or not (0 <= lo < hi) or math.isnan(lo + hi):
                    result = AckResult.BAD_ARGUMENT
                elif index > 0:
                    result = AckResult.NOT_SUPPORTED  # the first model counts one window
                else:
                    self.windows[0] = WindowDef(lo, hi, self.windows[0].name)
            elif msg.cmd == Cmd.GET_INFO:
                follow = self.info_message()
            elif msg.cmd == Cmd.GET_STATUS:
                follow = self.status_message()
            elif msg.cmd == Cmd.SET_SPECTRUM:
                result = AckResult.NOT_SUPPORTED
            else:
                result = AckResult.UNKNOWN_COMMAND
        except (ProbeLinkError, struct.error):
            result = AckResult.BAD_ARGUMENT
        out = self._tx(Ack(msg.seq, msg.cmd, result))
        if follow is not None:
            out += self._tx(follow)
        return out

    def _set_period(self, period_s: float) -> None:
        self.sim.scenario = replace(self.sim.scenario, frame_period_s=period_s)

    def advance(self, device_t_s: float) -> bytes:
        out = bytearray()
        while self.sim.t_s + self.period_s <= device_t_s + 1e-9:
            frame = self.sim.step()
            self._device_t_s = frame.t_end_s
            if not self.streaming:
                continue
            out += self._tx(
                Count(
                    frame_seq=self.frame_seq,
                    t_end_us=round(frame.t_end_s * 1e6),
                    real_us=round(frame.real_s * 1e6),
                    live_us=round(frame.live_s * 1e6),
                    counts=frame.counts,
                    flags=self.faults,
                )
            )
            self.frame_seq += 1
            self.record(frame)
            if frame.t_end_s >= self._next_status_s:
                out += self._tx(self.status_message())
                self._next_status_s = frame.t_end_s + STATUS_PERIOD_S
        return bytes(out)


def _with_seq(msg: Message, seq: int) -> Message:
    return replace(msg, seq=seq)

