"""GQ GMC Geiger counters as probe-nav devices: `<HEARTBEAT1>>` CPS words -> 1 s CountFrames.

On every (re)connection the driver stops a heartbeat that may already be running and lets the
bytes in flight settle, then asks `<GETVER>>`, `<GETSERIAL>>` and `<GETVOLT>>`, and starts the
heartbeat. Queries while streaming (`query_cpm()` ...) stop the heartbeat, flush, ask, and restart
it. It never sends a command that writes the counter's configuration (see codec.command).

Time: a GMC has no clock on the serial line. The heartbeat is one word per device second, so `t_s`
is the number of heartbeat words received since this driver object started, times
`heartbeat_period_s` - a count of device seconds, not a device timestamp: seconds lost while the
heartbeat was stopped for a query, or while unplugged, are not counted. `live_s = real_s = 1 s`
(a GMC reports no dead time). See docs/devices.md.
"""

from __future__ import annotations

import queue
from collections.abc import Callable, Generator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import ClassVar

from probe_nav.drivers.counters import M4011, M4011_SI3BG, counter_for_model
from probe_nav.drivers.device import Device
from probe_nav.drivers.errors import DeviceTimeout
from probe_nav.drivers.exchange import ExchangeRunner, ReplyError, Step
from probe_nav.drivers.frames import (
    CounterSpec,
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    FaultFlag,
)
from probe_nav.drivers.gmc.codec import (
    GETSERIAL,
    GETVER,
    GETVOLT,
    HEARTBEAT_OFF,
    HEARTBEAT_ON,
    SERIAL_BYTES,
    VERSION_MAX_BYTES,
    VERSION_MIN_BYTES,
    GmcCodec,
    GmcError,
    GmcVersion,
    HeartbeatDecoder,
    Rfc1201,
    Rfc1801,
    codec_for_model,
    command,
    decode_serial,
    decode_voltage_v,
    parse_version,
)
from probe_nav.drivers.probing import Identification, read_for, settle
from probe_nav.drivers.transport import SerialPort

Job = Generator[Step, bytes, None]
# The plausibility gate's last resort when neither the counter nor the model table says more:
# GM tubes have dead times of tens of microseconds (<= 1e5 cps), and the simulator's emulated GMC
# reports its probe's counts (up to 1/tau = 5e5 cps for its 2 us scenarios); 1e6 cps covers both.
# A garbled 4-byte heartbeat word is above it with probability 1 - 1e6 / 2^32 = 0.99977.
GM_COUNTER_MAX_RATE_CPS = 1e6


class GmcDevice(Device):
    """A GQ GMC counter; the protocol revision comes from the class or from `<GETVER>>`."""

    protocol: ClassVar[str] = "gmc"
    codec: ClassVar[type[GmcCodec] | None] = None  # None: chosen from the version string
    default_baudrate: ClassVar[int] = 115200
    default_frame_period_s: ClassVar[float] = 1.0
    identify_order: ClassVar[int] = 10
    identify_baudrates: ClassVar[tuple[int, ...]] = (115200, 57600)
    identifies_by_query: ClassVar[bool] = True  # <GETVER>> and <GETSERIAL>> (writes)
    fallback_max_rate_cps: ClassVar[float | None] = GM_COUNTER_MAX_RATE_CPS
    default_counter: ClassVar[CounterSpec] = M4011  # drivers/counters.py
    max_frame_count: ClassVar[int] = Rfc1801.cps_mask

    def __init__(
        self,
        url: str,
        *,
        baudrate: int | None = None,
        stale_after_s: float | None = None,
        reply_timeout_s: float = 1.0,
        settle_s: float = 0.25,
        retry_s: float = 3.0,
        heartbeat_period_s: float = 1.0,
    ) -> None:
        super().__init__(url, baudrate=baudrate, stale_after_s=stale_after_s)
        self.reply_timeout_s = reply_timeout_s
        self.settle_s = settle_s
        self.retry_s = retry_s
        self.heartbeat_period_s = heartbeat_period_s
        self.revision: type[GmcCodec] | None = self.codec
        self.version: GmcVersion | None = None
        self.serial_hex = ""
        self._runner = ExchangeRunner(self.send)
        self._jobs: queue.Queue[tuple[Callable[[], Job], Future[bytes]]] = queue.Queue()
        self._words = HeartbeatDecoder((self.codec or Rfc1201).value_bytes)
        self._streaming = False
        self._running: Future[bytes] | None = None  # the caller waiting for the job that runs now
        self._next_handshake_s = 0.0
        self._heartbeats = 0
        self._reported_discards = 0

    # ------------------------------------------------------------ public queries (any thread)

    def query(self, name: str, timeout_s: float | None = None) -> bytes:
        """Send a read-only command and return its raw reply; DeviceTimeout if none.

        The heartbeat is stopped for the exchange and restarted afterwards. Not for the reader
        thread (it would wait for itself).
        """
        cmd = command(name)
        if not self._transport.is_open:
            raise DeviceTimeout(f"cannot send {cmd.decode()}: the counter is not connected")
        future: Future[bytes] = Future()
        self._jobs.put((lambda: self._query_job(name, cmd, future), future))
        wait_s = timeout_s if timeout_s is not None else 3 * self.reply_timeout_s + 2.5
        try:
            return future.result(wait_s)
        except FutureTimeout:
            raise DeviceTimeout(f"{cmd.decode()} not answered within {wait_s:g} s") from None

    def query_cpm(self) -> int:
        """Counts per minute as the counter computes it."""
        revision = self._need_revision()
        return revision.decode_cpm(self.query("GETCPM"))

    def query_voltage_v(self) -> float:
        """Battery voltage in volts."""
        return decode_voltage_v(self.query("GETVOLT"))

    def query_version(self) -> GmcVersion:
        """Model and firmware revision."""
        return parse_version(self.query("GETVER"))

    def query_serial(self) -> str:
        """Serial number as hex."""
        return decode_serial(self.query("GETSERIAL"))

    def _need_revision(self) -> type[GmcCodec]:
        if self.revision is None:
            raise DeviceTimeout("the counter has not identified itself yet")
        return self.revision

    # ------------------------------------------------------------ Device hooks (reader thread)

    def on_connect(self) -> None:
        self._streaming = False
        self._words.reset()
        self._runner.start(self._handshake(), self.clock())

    def on_lost(self, reason: str) -> None:
        self._runner.cancel()
        self._streaming = False
        running, self._running = self._running, None
        if running is not None and not running.done():
            running.set_exception(DeviceTimeout(f"device disconnected ({reason})"))
        self._fail_queued(f"device disconnected ({reason})")

    def on_close(self) -> None:
        self.send(HEARTBEAT_OFF)  # leave the counter quiet, as we found it or better

    def on_data(self, data: bytes) -> None:
        now = self.clock()
        rest = self._runner.feed(data, now)
        if rest:
            if self._streaming:
                self._on_stream(rest, now)
            else:
                self.count_bad(skipped_bytes=len(rest), unexpected_bytes=len(rest))
        self._report_discards()

    def on_tick(self, now_s: float) -> None:
        self._runner.tick(now_s)
        dropped = self._words.expire(now_s)
        if dropped:
            self.count_bad(bad_frames=1, skipped_bytes=dropped, short_words=1)
        if not self._runner.busy:
            if not self._jobs.empty():
                make_job, self._running = self._jobs.get_nowait()
                self._runner.start(make_job(), now_s)
            elif not self._streaming and now_s >= self._next_handshake_s:
                self._runner.start(self._handshake(), now_s)
        self._report_discards()

    # ------------------------------------------------------------ jobs

    def _stop_step(self) -> Step:
        return Step.settle(HEARTBEAT_OFF, self.settle_s)

    def _handshake(self) -> Job:
        self._streaming = False
        try:
            yield self._stop_step()
            raw = yield Step.at_least(GETVER, VERSION_MIN_BYTES, quiet_s=0.05,
                                      timeout_s=self.reply_timeout_s, max_size=VERSION_MAX_BYTES)
            version = parse_version(raw)
            revision = self._revision_for(version)
        except (ReplyError, GmcError) as exc:
            self.report_problem(f"{exc}; is this a GQ GMC counter at {self.settings.baudrate} baud?"
                                if isinstance(exc, ReplyError) else str(exc))
            self._next_handshake_s = self.clock() + self.retry_s
            return
        self.version, self.revision = version, revision
        self._words.reset(revision.value_bytes)
        self.serial_hex = ""
        try:
            self.serial_hex = decode_serial((yield Step.exact(GETSERIAL, SERIAL_BYTES,
                                                              self.reply_timeout_s)))
        except (ReplyError, GmcError):
            self.count_bad(unanswered_queries=1)  # old firmware: no serial number, carry on
        if not self.emit_info(self._info()):
            return  # another counter than before answers here: nothing more is sent to it
        try:
            volts = decode_voltage_v((yield Step.at_least(GETVOLT, 1, quiet_s=0.05,
                                                          timeout_s=self.reply_timeout_s)))
            self.emit_status(DeviceStatus(battery_v=volts))
        except (ReplyError, GmcError):
            self.count_bad(unanswered_queries=1)
        yield Step.send(HEARTBEAT_ON)
        self._streaming = True

    def _query_job(self, name: str, cmd: bytes, future: Future[bytes]) -> Job:
        was_streaming = self._streaming
        self._streaming = False
        try:
            yield self._stop_step()
            revision = self.revision or Rfc1201
            if name == "GETVER":
                step = Step.at_least(cmd, VERSION_MIN_BYTES, timeout_s=self.reply_timeout_s,
                                     max_size=VERSION_MAX_BYTES)
            elif name in ("GETVOLT", "GETCFG"):
                step = Step.at_least(cmd, 1, timeout_s=self.reply_timeout_s, max_size=512)
            else:
                size = {"GETSERIAL": SERIAL_BYTES, "GETDATETIME": 7, "GETGYRO": 7,
                        "GETTEMP": 4}.get(name, revision.value_bytes)
                step = Step.exact(cmd, size, self.reply_timeout_s)
            future.set_result((yield step))
        except ReplyError as exc:
            future.set_exception(exc)
        if was_streaming:
            self._words.reset()
            yield Step.send(HEARTBEAT_ON)
            self._streaming = True

    def _revision_for(self, version: GmcVersion) -> type[GmcCodec]:
        spoken = codec_for_model(version.model)
        if self.codec is None:
            if spoken is None:
                raise GmcError(f"unknown GMC model {version.raw!r}: choose --protocol gmc-320 "
                               "(2-byte values) or gmc-500 (4-byte values)")
            return spoken
        if spoken is not None and spoken is not self.codec:
            raise GmcError(f"the counter says {version.raw!r}, which speaks GQ-{spoken.name}, "
                           f"not GQ-{self.codec.name}; use --protocol gmc")
        return self.codec

    def _fail_queued(self, reason: str) -> None:
        while True:
            try:
                _make, future = self._jobs.get_nowait()
            except queue.Empty:
                return
            future.set_exception(DeviceTimeout(reason))

    # ------------------------------------------------------------ stream

    def _on_stream(self, data: bytes, now_s: float) -> None:
        revision = self.revision or Rfc1201
        for word in self._words.feed(data, now_s):
            cps = revision.decode_cps(word)
            self._heartbeats += 1
            flags = FaultFlag.OVER_RANGE if cps >= revision.cps_max() else FaultFlag.NONE
            if not self.emit_frame(CountFrame(
                seq=self._heartbeats - 1,
                t_s=self._heartbeats * self.heartbeat_period_s,
                real_s=self.heartbeat_period_s,
                live_s=self.heartbeat_period_s,
                counts=(cps,),
                flags=flags,
            )):
                self._heartbeats -= 1  # an impossible word is garbage, not a device second

    def _info(self) -> DeviceInfo:
        version = self.version
        revision = self.revision
        return DeviceInfo(
            model=version.model if version else "GQ GMC",
            serial=self.serial_hex,
            firmware=version.firmware if version else "",
            detector="GM tube",
            protocol=f"gmc {revision.name}" if revision else "gmc",
            frame_period_s=self.heartbeat_period_s,
            counter=counter_for_model(version.model if version else "", self.default_counter),
        )

    def _report_discards(self) -> None:
        new = self._runner.discarded_bytes - self._reported_discards
        if new:
            self._reported_discards = self._runner.discarded_bytes
            self.count_bad(skipped_bytes=new, flushed_bytes=new)

    # ------------------------------------------------------------ autodetection

    @classmethod
    def identify(cls, port: SerialPort, timeout_s: float = 1.0) -> Identification | None:
        """Stop a heartbeat, flush, ask `<GETVER>>`: a GMC answers with its model."""
        port.write(HEARTBEAT_OFF)
        settle(port, 0.2)
        port.write(GETVER)
        raw = read_for(port, min(timeout_s, 0.5), done=lambda b: len(b) >= VERSION_MIN_BYTES,
                       quiet_s=0.05, max_bytes=VERSION_MAX_BYTES)
        try:
            version = parse_version(raw)
        except GmcError:
            return None
        return Identification("gmc", f"{version.model} firmware {version.firmware}")


class GmcRfc1201Device(GmcDevice):
    """GMC-280/300/320/SE: GQ-RFC1201 (2-byte values, 14-bit CPS)."""

    protocol = "gmc-rfc1201"
    codec = Rfc1201
    max_frame_count = Rfc1201.cps_mask


class GmcRfc1801Device(GmcDevice):
    """GMC-500/600: GQ-RFC1801 (4-byte values)."""

    protocol = "gmc-rfc1801"
    codec = Rfc1801
    default_counter = M4011_SI3BG


class Gmc300Device(GmcRfc1201Device):
    """GMC-300 (firmware before 4.xx talks at 57600 baud; pass baudrate=115200 for a GMC-300+)."""

    protocol = "gmc-300"
    default_baudrate = 57600


class Gmc320Device(GmcRfc1201Device):
    """GMC-320 / 320+ / 320S."""

    protocol = "gmc-320"


class Gmc500Device(GmcRfc1801Device):
    """GMC-500 / 500+."""

    protocol = "gmc-500"


class Gmc600Device(GmcRfc1801Device):
    """GMC-600 / 600+."""

    protocol = "gmc-600"

