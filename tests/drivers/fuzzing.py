"""In-process fuzzing of every driver's data path: the real decoder and the plausibility gate, fed
bytes in chunks of random sizes on a fake host clock, with no port and no thread.

A `Target` is one driver, connected and past its handshake (answered by the protocol's own
emulator), that can make valid frames of its protocol and knows the window counts each should
give. `run(target, kind, n_bytes, seed)` plays rounds of: a burst of fuzz bytes of one KIND, the
device's silence for two frame periods (a real device sends a frame a period: the decoders drop a
half-finished word or line after such a silence), then RECOVERY valid frames one period apart. It
checks, and returns in a `FuzzResult`:
- no exception escapes the driver (anything raised propagates to the caller);
- every frame that reaches the consumer is plausible: counts within what the counter can count
  in its real time (the bound re-derived here from the device's declared maximum), 0 <= live <=
  real, t_s increasing;
- each valid frame after the garbage comes out as sent, from the `lag`-th on (a cumulative OGD
  spectrum needs one good predecessor to give an interval; see AsciiTarget for timestamps): its
  window counts, and its `real_s` one frame period (the counts of one period spread over a longer
  interval, after a lost line, would read low; OGD events mode, where a silence means no pulses,
  is exempt for the first frame after the silence: `real_lag`). It
  may be preceded by a frame the garbage left unterminated but intact (a ProbeLink packet whose
  delimiter is the next packet's): counted as `extra_frames`, and checked like every frame.

Kinds: random bytes; valid frames with bits flipped (BER 1e-3 to 3e-2); valid frames cut short at
a random byte; oversize frames (lines longer than the driver's limit, numbers of 13 to 400 digits,
CRC-valid ProbeLink COUNTs with absurd values, heartbeat words of all ones).
"""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

from probe_nav.drivers.device import Device, FrameEvent
from probe_nav.drivers.frames import CountFrame
from probe_nav.drivers.plausibility import CLOCK_ALLOWANCE, POISSON_OFFSET, POISSON_SIGMAS
from probe_nav.drivers.registry import driver_class
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.registry import emulator_class
from probe_nav.simulator.scenario import load

KINDS = ("random", "bitflip", "truncated", "oversize")
RECOVERY = 5  # valid frames after each burst
BURST_BYTES = (256, 8192)  # size range of one burst of fuzz bytes
CHUNK_BYTES = (1, 700)  # the reader hands the driver chunks of this size range
CHUNK_GAP_S = 0.002  # host time between chunks of a burst (a 1 s frame period is far longer)


class FakeClock:
    """The host clock of a fuzzed device: it moves only when the harness says so."""

    def __init__(self, t_s: float = 1000.0) -> None:
        self.t_s = t_s

    def __call__(self) -> float:
        return self.t_s

    def advance(self, dt_s: float) -> None:
        self.t_s += dt_s


@dataclass
class FuzzResult:
    """What one fuzz run fed and saw."""

    protocol: str
    kind: str
    bytes_fed: int = 0
    rounds: int = 0
    frames_out: int = 0  # frames that reached the consumer
    recovered: int = 0  # valid frames after garbage that came out exactly as sent
    extra_frames: int = 0  # intact frames completed by the first bytes after the garbage
    bad_frames: int = 0  # the device's own count of rejected frames
    implausible: int = 0  # of which the plausibility gate rejected
    gate_reasons: dict[str, int] = field(default_factory=dict)  # the gate's rejects by reason
    reasons: dict[str, int] = field(default_factory=dict)  # the device's counters by reason
    problems: list[str] = field(default_factory=list)


# The plausibility gate's reasons (drivers/plausibility.py), by how each starts.
GATE_REASONS = (("window", "count above the counter"), ("spectrum", "count above the counter"),
                ("channel", "count above the counter"), ("no window", "no counts"),
                ("real_s", "real_s impossible"), ("live_s", "live_s impossible"),
                ("t_s went", "t_s not advancing"), ("t_s jumped", "t_s jump"),
                ("t_s", "t_s impossible"), ("an interval of", "interval impossible"))


def gate_reason(reason: str) -> str:
    """The kind of one of the gate's reject reasons."""
    if "overlaps" in reason:
        return "interval overlaps"
    if "longer than the" in reason:
        return "interval longer than host time"
    return next((kind for start, kind in GATE_REASONS if reason.startswith(start)), "other")


class Target(ABC):
    """One driver under fuzz (see the module docstring)."""

    protocol: str = ""
    lag: int = 0  # valid frames after garbage that may legitimately give no exact frame
    real_lag: int | None = None  # ... or one whose real_s is not the period (None: `lag`)
    device_kwargs: ClassVar[dict[str, object]] = {}

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.clock = FakeClock()
        self.device: Device = driver_class(self.protocol)(
            f"fuzz:{self.protocol}", **self.device_kwargs)
        self.device.clock = self.clock
        self.replies = bytearray()
        self.emulator = self.make_emulator()
        self.device._transport.write = self._host_wrote  # type: ignore[method-assign]
        self.gate_reasons: dict[str, int] = {}
        admit = self.device._gate.admit

        def tallied_admit(*args: object) -> object:  # the gate, its rejects tallied by reason
            verdict = admit(*args)  # type: ignore[arg-type]
            if verdict.frame is None:
                kind = gate_reason(verdict.reason)
                self.gate_reasons[kind] = self.gate_reasons.get(kind, 0) + 1
            return verdict

        self.device._gate.admit = tallied_admit  # type: ignore[method-assign]
        self.device.connection_made()
        self.handshake()
        self.last_out_t_s = -math.inf

    def make_emulator(self) -> object | None:
        """The protocol's emulator, to answer the driver's queries (None: nothing answers)."""
        return None

    def _host_wrote(self, data: bytes) -> bool:
        if self.emulator is not None:
            self.replies += self.emulator.receive(data)  # type: ignore[attr-defined]
        return True

    def pump(self, steps: int = 1, dt_s: float = 0.06) -> None:
        """Deliver the emulator's answers and let the driver's time-outs run."""
        for _ in range(steps):
            if self.replies:
                data, self.replies = bytes(self.replies), bytearray()
                self.device.data_received(data)
            self.clock.advance(dt_s)
            self.device.on_tick(self.clock())

    def handshake(self) -> None:
        """Bring the driver to the point where it takes frames."""

    @property
    def period_s(self) -> float:
        info = self.device.info
        return (info.frame_period_s if info else None) or self.device.default_frame_period_s

    @abstractmethod
    def valid(self) -> tuple[bytes, tuple[int, ...]]:
        """The bytes of the next valid frame, and the window counts the driver must give."""

    def expected_real_s(self) -> float:
        """The interval a valid frame stands for: one frame period."""
        return self.period_s

    @abstractmethod
    def oversize(self) -> bytes:
        """Bytes of one oversize frame (too long, or numbers beyond any counter)."""

    def silence(self) -> None:
        """The device says nothing for two frame periods."""
        self.clock.advance(2 * self.period_s)
        self.device.on_tick(self.clock())

    def feed(self, data: bytes, gap_s: float = CHUNK_GAP_S) -> None:
        """Hand `data` to the driver in chunks of random sizes."""
        i = 0
        while i < len(data):
            n = self.rng.randint(*CHUNK_BYTES)
            self.clock.advance(gap_s)
            self.device.data_received(data[i : i + n])
            i += n

    def frames(self) -> list[CountFrame]:
        """The frames that reached the consumer since the last call."""
        return [e.frame for e in self.device.poll(timeout_s=0.0) if isinstance(e, FrameEvent)]

    def max_count(self, frame: CountFrame) -> float:
        """The most counts the device's counter can register in the frame's real time, from its
        declared maximum (the plausibility bound, re-derived here)."""
        info, cls = self.device.info, type(self.device)
        rate = None
        for spec in ((info.counter if info else None), cls.default_counter):
            if spec is not None and spec.max_rate_cps:
                rate = spec.max_rate_cps
                break
        rate = rate or cls.fallback_max_rate_cps
        if rate is None:
            return cls.max_frame_count
        m = rate * frame.real_s * (1 + CLOCK_ALLOWANCE)
        return min(cls.max_frame_count, m + POISSON_SIGMAS * math.sqrt(m) + POISSON_OFFSET)

    def fuzz_bytes(self, kind: str, n: int) -> tuple[bytes, int]:
        """About `n` bytes of fuzz of one kind, and how many valid frames (device periods) went
        into them."""
        out = bytearray()
        periods = 0
        while len(out) < n:
            periods += kind in ("bitflip", "truncated")
            if kind == "random":
                out += self.rng.randbytes(n - len(out))
            elif kind == "bitflip":
                raw = bytearray(self.valid()[0])
                ber = self.rng.choice((1e-3, 1e-2, 3e-2))
                for _ in range(max(1, round(len(raw) * 8 * ber))):
                    raw[self.rng.randrange(len(raw))] ^= 1 << self.rng.randrange(8)
                out += raw
            elif kind == "truncated":
                raw = self.valid()[0]
                out += raw[: self.rng.randrange(len(raw))]
            elif kind == "oversize":
                out += self.oversize()
            else:
                raise ValueError(kind)
        return bytes(out), periods


def check_frames(target: Target, frames: list[CountFrame], result: FuzzResult) -> None:
    """Every frame that reached the consumer must be plausible."""
    for f in frames:
        result.frames_out += 1
        limit = target.max_count(f)
        why = None
        if max(f.counts) > limit or (f.spectrum is not None and sum(f.spectrum) > limit):
            why = f"counts {f.counts} above {limit:.0f}"
        elif min(f.counts) < 0 or not 0.0 <= f.live_s <= f.real_s * (1 + 1e-6):
            why = f"counts {f.counts}, live {f.live_s}, real {f.real_s}"
        elif not (math.isfinite(f.t_s) and f.t_s > target.last_out_t_s):
            why = f"t_s {f.t_s} after {target.last_out_t_s}"
        if why is not None:
            result.problems.append(f"{target.protocol} {result.kind}: implausible frame: {why}")
        target.last_out_t_s = f.t_s


def run(make: Callable[[int], Target], kind: str, n_bytes: int, seed: int) -> FuzzResult:
    """Fuzz one driver with about `n_bytes` of one kind (see the module docstring)."""
    target = make(seed)
    result = FuzzResult(target.protocol, kind)
    check_frames(target, target.frames(), result)
    while result.bytes_fed < n_bytes:
        burst, periods = target.fuzz_bytes(kind, target.rng.randint(*BURST_BYTES))
        target.feed(burst)
        result.bytes_fed += len(burst)
        target.clock.advance(periods * target.period_s)  # the device took that long to send them
        target.silence()
        check_frames(target, target.frames(), result)
        for i in range(RECOVERY):
            data, expected = target.valid()
            target.feed(data)
            out = target.frames()
            check_frames(target, out, result)
            real_lag = target.lag if target.real_lag is None else target.real_lag
            if i >= target.lag:
                result.extra_frames += max(0, len(out) - 1)
                real_s = target.expected_real_s()
                if out and out[-1].counts == expected and (
                        i < real_lag or math.isclose(out[-1].real_s, real_s, rel_tol=1e-6)):
                    result.recovered += 1
                else:
                    result.problems.append(
                        f"{target.protocol} {kind} round {result.rounds}: valid frame {i} after "
                        f"garbage gave {[(f.counts, f.real_s) for f in out]}, expected "
                        f"{expected} in {real_s} s")
            target.clock.advance(target.period_s)
        result.rounds += 1
    stats = target.device.stats
    result.bad_frames, result.implausible = stats.bad_frames, stats.extra.get("implausible", 0)
    result.reasons, result.gate_reasons = dict(stats.extra), dict(target.gate_reasons)
    if sum(result.gate_reasons.values()) != result.implausible:
        result.problems.append(f"gate rejects {result.gate_reasons} != {result.implausible}")
    return result


def targets() -> dict[str, Callable[[int], Target]]:
    """Every fuzz target by name (imported here to keep the module's import light)."""
    from tests.drivers.fuzz_targets import TARGETS

    return TARGETS


def make_emulator(protocol: str, seed: int = 0, **kwargs: object) -> object:
    """An emulator of `protocol` on the sln-static scenario (only its query answers are used)."""
    return emulator_class(protocol)(Simulation(load("sln-static"), seed), **kwargs)
