"""Command/reply exchanges on a link that also streams, driven from the reader thread.

A *job* is a generator that yields `Step`s and receives each step's reply bytes; when a step fails
(no reply, short reply) a `ReplyError` is thrown into the generator at the `yield`, so a job reads
like blocking code but never blocks the reader thread:

    def handshake():
        yield Step.settle(b"<HEARTBEAT0>>", 0.25)  # stop a running stream, drop bytes in flight
        version = yield Step.at_least(b"<GETVER>>", 7)
        serial = yield Step.exact(b"<GETSERIAL>>", 7)

`ExchangeRunner.feed` takes every received byte while a step is waiting for its reply and hands back
the bytes that arrive when no step is active (the stream). Time-outs are judged on the host clock in
`tick`. Nothing here touches a port: `send` is a callable.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from probe_nav.drivers.errors import DeviceTimeout


@dataclass(frozen=True, slots=True)
class Step:
    """One exchange: write `command`, then collect a reply by one of four rules.

    - exact: `size` bytes (e.g. a 2-byte CPM);
    - at least: `min_size` bytes, complete after `quiet_s` without a byte (variable-length text);
    - settle: no reply expected, everything that arrives within `quiet_s` is discarded;
    - send: nothing to wait for.
    """

    command: bytes
    size: int = 0
    min_size: int = 0
    quiet_s: float = 0.0
    max_size: int = 256
    timeout_s: float = 1.0

    @classmethod
    def exact(cls, command: bytes, size: int, timeout_s: float = 1.0) -> Step:
        """Expect exactly `size` reply bytes."""
        return cls(command, size=size, timeout_s=timeout_s)

    @classmethod
    def at_least(cls, command: bytes, min_size: int, quiet_s: float = 0.05,
                 timeout_s: float = 1.0, max_size: int = 256) -> Step:
        """Expect `min_size` or more bytes, ended by `quiet_s` of silence (or `max_size`)."""
        return cls(command, min_size=min_size, quiet_s=quiet_s, timeout_s=timeout_s,
                   max_size=max_size)

    @classmethod
    def settle(cls, command: bytes, settle_s: float) -> Step:
        """Send and discard everything for `settle_s` (bytes already in flight)."""
        return cls(command, quiet_s=settle_s, timeout_s=settle_s)

    @classmethod
    def send(cls, command: bytes) -> Step:
        """Send and go on at once."""
        return cls(command)

    @property
    def kind(self) -> str:
        """'exact', 'at_least', 'settle' or 'send'."""
        if self.size:
            return "exact"
        if self.min_size:
            return "at_least"
        return "settle" if self.quiet_s > 0 else "send"

    @property
    def name(self) -> str:
        """The command as text, for messages."""
        return self.command.decode("ascii", errors="replace") or "(listen)"


class ReplyError(DeviceTimeout):
    """A step got no reply or a short one in time; `partial` holds what did arrive."""

    def __init__(self, step: Step, partial: bytes) -> None:
        want = step.size or step.min_size
        if partial:
            text = f"short reply to {step.name}: {len(partial)} of {want} bytes ({partial!r})"
        else:
            text = f"no answer to {step.name} within {step.timeout_s:g} s"
        super().__init__(text)
        self.step = step
        self.partial = partial


Job = Generator[Step, bytes, None]


class ExchangeRunner:
    """Runs one job at a time; all methods are called from the same (reader) thread."""

    def __init__(self, send: Callable[[bytes], object]) -> None:
        self._send = send
        self._job: Job | None = None
        self._step: Step | None = None
        self._buf = bytearray()
        self._started_s = 0.0
        self._last_rx_s = 0.0
        self.discarded_bytes = 0  # bytes dropped while settling or after a complete reply

    @property
    def busy(self) -> bool:
        """True while a job runs."""
        return self._job is not None

    def start(self, job: Job, now_s: float) -> None:
        """Run `job` from its first step (the previous job, if any, is abandoned)."""
        self.cancel()
        self._job = job
        self._advance(now_s, value=None)

    def cancel(self) -> None:
        """Abandon the running job (e.g. the port was lost)."""
        job, self._job, self._step = self._job, None, None
        self._buf.clear()
        if job is not None:
            job.close()

    def feed(self, data: bytes, now_s: float) -> bytes:
        """Bytes received: returns those that belong to no step (the stream)."""
        step = self._step
        if step is None or not data:
            return data
        self._buf += data
        self._last_rx_s = now_s
        if step.kind == "exact" and len(self._buf) >= step.size:
            self._complete(step.size, now_s)
        elif step.kind == "at_least" and len(self._buf) >= step.max_size:
            self._complete(step.max_size, now_s)
        return b""

    def tick(self, now_s: float) -> None:
        """Judge quiet periods and time-outs on the host clock."""
        step = self._step
        if step is None:
            return
        elapsed = now_s - self._started_s
        kind = step.kind
        if kind == "settle":
            if elapsed >= step.quiet_s:
                self._complete(len(self._buf), now_s)
        elif kind == "at_least" and len(self._buf) >= step.min_size and (
            now_s - self._last_rx_s >= step.quiet_s or elapsed >= step.timeout_s
        ):
            self._complete(len(self._buf), now_s)
        elif elapsed >= step.timeout_s:
            partial = bytes(self._buf)
            self._buf.clear()
            self._advance(now_s, error=ReplyError(step, partial))

    # ------------------------------------------------------------ internals

    def _complete(self, size: int, now_s: float) -> None:
        step = self._step
        reply = bytes(self._buf[:size])
        self.discarded_bytes += len(self._buf) - size
        if step is not None and step.kind == "settle":
            self.discarded_bytes += size
        self._buf.clear()
        self._advance(now_s, value=reply)

    def _advance(self, now_s: float, value: bytes | None = None,
                 error: BaseException | None = None) -> None:
        # Immediate steps (send) are chained in a loop rather than by recursion.
        while self._job is not None:
            try:
                if error is not None:
                    step = self._job.throw(error)
                elif value is None:  # a job not started yet: run it to its first step
                    step = next(self._job)
                else:
                    step = self._job.send(value)
            except StopIteration:
                self._job, self._step = None, None
                return
            error = None
            self._step = step
            self._buf.clear()
            self._started_s = now_s
            self._last_rx_s = now_s
            if step.command:
                self._send(step.command)
            if step.kind != "send":
                return
            value = b""
