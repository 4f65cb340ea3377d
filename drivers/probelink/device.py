"""ProbeLink device class: speaks docs/protocol-probelink.md over a SerialTransport.

On connecting, a host that speaks v2 offers its versions in a HELLO (sent as v1, which every
device understands); the device answers with the highest common version, and from then on the
host accepts only messages of that version. A v1 device answers UNKNOWN_COMMAND (or nothing at
all): the host then speaks v1 with it. `versions=(1,)` makes a host that never offers v2.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from typing import ClassVar

from probe_nav.drivers.device import Device
from probe_nav.drivers.errors import DeviceTimeout
from probe_nav.drivers.frames import CounterSpec, CountFrame, FaultFlag
from probe_nav.drivers.probelink.codec import DELIMITER, StreamDecoder, command, encode
from probe_nav.drivers.probelink.convert import V1_COUNTER, info_from_message, status_from_message
from probe_nav.drivers.probelink.messages import (
    SUPPORTED_VERSIONS,
    VERSION_1,
    Ack,
    AckResult,
    Cmd,
    Count,
    Info,
    Message,
    SpectrumChunk,
    Status,
    versions_mask,
)
from probe_nav.drivers.probing import Identification, read_for
from probe_nav.drivers.transport import SerialPort

__all__ = ["ProbeLinkDevice", "info_from_message", "status_from_message"]

log = logging.getLogger(__name__)
_RETRY_S = 1.0
_HELLO_TRIES = 3  # unanswered HELLOs before the host takes the device for a v1 one that is mute


class ProbeLinkDevice(Device):
    """A probe speaking ProbeLink v2 or v1 (negotiated on every connection)."""

    protocol = "probelink"
    default_baudrate = 115200
    default_frame_period_s = 0.05
    identify_order = 20
    identifies_by_query = True  # GET_INFO (after HELLO) must name the same device on reconnection
    # The counter of a device that does not describe it (v1); a v2 INFO says what it is.
    default_counter: ClassVar[CounterSpec] = V1_COUNTER

    def __init__(self, url: str, *, baudrate: int | None = None,
                 stale_after_s: float | None = None, versions: Iterable[int] | None = None) -> None:
        super().__init__(url, baudrate=baudrate, stale_after_s=stale_after_s)
        speaks = tuple(sorted(set(SUPPORTED_VERSIONS if versions is None else versions)))
        if not speaks or not set(speaks) <= set(SUPPORTED_VERSIONS):
            raise ValueError(f"ProbeLink versions must be among {SUPPORTED_VERSIONS}, "
                             f"not {versions!r}")
        self.speaks = speaks  # major versions this host offers
        self.version: int | None = None  # negotiated major version; None while negotiating
        # set once a version is settled: a user's request waits for it, so it never travels in
        # v1 to a device that has just chosen v2 (it would take that as a v1 host taking over
        # and go back to v1, whose frames this host then refuses until it negotiates again)
        self._settled = threading.Event()
        self._decoder = StreamDecoder(speaks)
        self._reported_rejects: dict[str, int] = {}
        self._reported_skipped = 0
        self._cmd_seq = 0
        self._seq_lock = threading.Lock()
        self._pending: dict[int, tuple[threading.Event, list[Ack]]] = {}
        self._last_frame_seq: int | None = None
        self._spectrum: dict[int, list[int]] = {}
        self._last_request_s = 0.0
        self._frames_this_connection = 0
        self._hello_tries = 0
        self._last_count_s = 0.0
        self._other_version_seen = 0  # decoder's other_version count at the last COUNT

    @classmethod
    def identify(cls, port: SerialPort, timeout_s: float = 0.6) -> Identification | None:
        """Send GET_INFO (as v1, which every device answers): a ProbeLink device answers with
        ACK and INFO (and may be streaming)."""
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

    def _framing(self) -> int:
        """The version commands travel in: the negotiated one, else the oldest offered."""
        return self.version if self.version is not None else self.speaks[0]

    def _send_command(self, cmd: Cmd, *args: object) -> int:
        seq = self._next_seq()
        self.send(encode(command(cmd, seq, *args, version=self._framing())))
        return seq

    def request(self, cmd: Cmd, *args: object, timeout_s: float = 1.0) -> Ack:
        """Send a command and wait for its ACK; DeviceTimeout if none. Not for the reader thread.
        While the version is being negotiated it waits for the outcome first (within timeout_s)."""
        deadline = time.monotonic() + timeout_s
        if not self._settled.wait(timeout_s):
            raise DeviceTimeout(f"{cmd.name} not sent: the ProbeLink version is still being "
                                f"negotiated after {timeout_s} s")
        ack_wait_s = max(0.0, deadline - time.monotonic())  # one budget for both waits
        seq = self._next_seq()
        event: threading.Event = threading.Event()
        box: list[Ack] = []
        self._pending[seq] = (event, box)
        try:
            self.send(encode(command(cmd, seq, *args, version=self._framing())))
            if not event.wait(ack_wait_s):
                raise DeviceTimeout(f"no acknowledgement of {cmd.name} within {timeout_s} s")
            return box[0]
        finally:
            self._pending.pop(seq, None)

    # ------------------------------------------------------------ version negotiation

    def _negotiate(self) -> None:
        """Offer our versions (HELLO) and accept any of them until the device chooses."""
        if len(self.speaks) == 1 and self.speaks[0] == VERSION_1:
            self._settle(VERSION_1, "this host speaks v1 only")
            return
        self.version = None
        self._settled.clear()
        self._decoder.accept = frozenset(self.speaks)
        self._hello_tries = 0
        self._send_hello()

    def _send_hello(self) -> None:
        self._last_request_s = self.clock()
        self._hello_tries += 1
        self._send_command(Cmd.HELLO, versions_mask(self.speaks))

    def _settle(self, version: int, why: str) -> None:
        """Speak `version` from now on and accept nothing else; ask to stream (and, from a v1
        device, for its INFO: a v2 device sends it right after answering HELLO)."""
        self.version = version
        self._settled.set()
        self._decoder.accept = frozenset({version})
        self._other_version_seen = self._decoder.stats.other_version
        log.info("%s: speaking ProbeLink v%d (%s)", self.describe(), version, why)
        self._last_request_s = self.clock()
        if version == VERSION_1:
            self._send_command(Cmd.GET_INFO)
        if self.identity_confirmed:  # else on_identity_confirmed, once INFO names the same device
            self._send_command(Cmd.START_STREAM)

    def _on_hello_answer(self, msg: Ack) -> None:
        if self.version is not None:
            return  # the answer to a repeated HELLO: settled already
        if msg.result == AckResult.OK and msg.chosen_version in self.speaks:
            self._settle(msg.chosen_version, "negotiated")
        elif msg.result != AckResult.OK and VERSION_1 in self.speaks:
            self._settle(VERSION_1, f"the device answered HELLO with result {msg.result}")
        else:
            self.report_problem(f"the device chose ProbeLink v{msg.chosen_version}, this host "
                                f"speaks v{'/v'.join(map(str, self.speaks))}")

    def _device_restarted(self, now_s: float) -> bool:
        """Valid messages of another version and no COUNT for a while: the device started over
        (at power-on it speaks v1) and must be asked again."""
        return (len(self.speaks) > 1
                and self._decoder.stats.other_version > self._other_version_seen
                and now_s - self._last_count_s > _RETRY_S)

    # ------------------------------------------------------------ Device hooks

    def on_connect(self) -> None:
        self._decoder = StreamDecoder(self.speaks)
        self._reported_rejects = {}
        self._reported_skipped = 0
        self._spectrum.clear()
        self._frames_this_connection = 0
        self._last_count_s = self.clock()
        self.send(DELIMITER)  # terminate any half-sent packet on the device side
        self._negotiate()

    def _ask_identity_and_stream(self) -> None:
        self._last_request_s = self.clock()
        self._send_command(Cmd.GET_INFO)
        if self.identity_confirmed:
            self._send_command(Cmd.START_STREAM)

    def on_identity_confirmed(self) -> None:
        self._send_command(Cmd.START_STREAM)  # the reconnected device is the one seen before

    def on_tick(self, now_s: float) -> None:
        # Commands can be lost on the wire like any frame: ask again until the device answers.
        if self.version is None:
            if now_s - self._last_request_s > _RETRY_S:
                if self._hello_tries >= _HELLO_TRIES and VERSION_1 in self.speaks:
                    self._settle(VERSION_1, f"no answer to {self._hello_tries} HELLOs")
                    return
                if self._hello_tries == _HELLO_TRIES:  # once: a v2-only host and a v1 device
                    self.report_problem(f"no answer to {self._hello_tries} HELLOs offering "
                                        f"ProbeLink v{'/v'.join(map(str, self.speaks))}")
                self._send_hello()
            return
        if self._device_restarted(now_s):
            log.info("%s: valid messages of another ProbeLink version and no frame for %.1f s: "
                     "negotiating again", self.describe(), now_s - self._last_count_s)
            self._negotiate()
            return
        missing = (self.info is None or self._frames_this_connection == 0
                   or not self.identity_confirmed)
        if missing and now_s - self._last_request_s > _RETRY_S:
            self._ask_identity_and_stream()

    def on_close(self) -> None:
        self._send_command(Cmd.STOP_STREAM)

    def on_data(self, data: bytes) -> None:
        for msg in self._decoder.feed(data):
            if self.version is not None and msg.version != self.version:
                # Decoded in the same chunk as the answer to HELLO, but after it: refused too.
                self.count_bad(bad_frames=1, other_version=1)
            elif isinstance(msg, Count):
                self._on_count(msg)
            elif isinstance(msg, SpectrumChunk):
                self._on_spectrum(msg)
            elif isinstance(msg, Status):
                self.emit_status(status_from_message(msg))
            elif isinstance(msg, Info):
                self.emit_info(info_from_message(msg, type(self).default_counter))
            elif isinstance(msg, Ack):
                self._on_ack(msg)
        self._report_decoder_stats()

    # ------------------------------------------------------------ message handlers

    def _on_count(self, msg: Count) -> None:
        self._last_count_s = self.clock()
        self._other_version_seen = self._decoder.stats.other_version
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
        if msg.cmd == Cmd.HELLO:
            self._on_hello_answer(msg)  # a v1 device's UNKNOWN_COMMAND here is no fault
        elif msg.result != AckResult.OK:
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
