"""Faults on demand: a plan of timed faults, from a SPEC string (docs/faults.md) or the API.

SPEC is a comma-separated list of `KIND@START[+DURATION|-END][xCOUNT][:PARAM]`, times in seconds
of device time since power-on. The plan is thread-safe: a test or a GUI may add faults while a
DeviceServer plays it. Who acts on what: the DeviceServer on link faults (unplug, stall,
garbage, bitflip), the Simulation on physics faults (saturate, hv), the emulator on device faults
(drop, lowbat, clockjump, and the flags of saturate and hv).
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KindRule:
    """What a fault kind accepts: a duration (and its default), a count, a parameter."""

    help: str
    span: str  # "no", "optional" (default duration below), "permanent" (default: forever)
    default_s: float = 0.0
    count: str = "no"  # "no", "optional"
    default_count: int = 0
    param: str = "no"  # "no", "optional", "required"
    default_param: float | None = None
    param_range: tuple[float, float] = (-math.inf, math.inf)


RULES: dict[str, KindRule] = {
    "unplug": KindRule("the device vanishes from the link, then returns at the same URL",
                       "optional", 3.0),
    "stall": KindRule("the device freezes: no counting, no data, no replies", "optional", 2.0),
    "garbage": KindRule("COUNT random bytes on the line", "no", count="optional",
                        default_count=64),
    "bitflip": KindRule("every bit sent flips with probability PARAM (bit error rate)",
                        "optional", 5.0, param="optional", default_param=1e-3,
                        param_range=(1e-12, 1.0)),
    "drop": KindRule("frames are counted but not sent (xCOUNT frames, or for the duration)",
                     "optional", 0.0, count="optional", default_count=1),
    "lowbat": KindRule("the battery reads PARAM % (LOW_BATTERY below 10 %)", "permanent",
                       param="optional", default_param=5.0, param_range=(0.0, 100.0)),
    "saturate": KindRule("an extra true rate of PARAM cps hits the detector (OVER_RANGE, "
                         "paralysis)", "optional", 5.0, param="optional", default_param=1e8,
                         param_range=(1.0, 1e9)),
    "hv": KindRule("high voltage out of regulation: HV_FAULT, gain x PARAM", "optional", 5.0,
                   param="optional", default_param=0.7, param_range=(0.05, 2.0)),
    "clockjump": KindRule("the device clock jumps by PARAM seconds (CLOCK_RESET flag)", "no",
                          param="required", param_range=(-1e9, 1e9)),
}

_NUM = r"(?:\d+(?:\.\d*)?|\.\d+)"
_ITEM = re.compile(
    rf"^(?P<kind>[a-z]+)@(?P<start>{_NUM})(?:(?P<op>[+-])(?P<span>{_NUM}))?"
    r"(?:x(?P<count>\d+))?(?::(?P<param>.+))?$"
)


class FaultSpecError(ValueError):
    """A fault SPEC that cannot be understood; the message names the item and the problem."""


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault: active for device times in [start_s, end_s); one-shot faults have end = start."""

    kind: str
    start_s: float
    end_s: float
    count: int = 0
    param: float | None = None

    def active(self, t_s: float) -> bool:
        """True while the fault lasts."""
        return self.start_s <= t_s < self.end_s


def make_fault(kind: str, start_s: float, duration_s: float | None = None,
               count: int | None = None, param: float | None = None) -> Fault:
    """A validated Fault; FaultSpecError says what is wrong."""
    rule = RULES.get(kind)
    if rule is None:
        raise FaultSpecError(f"unknown fault {kind!r} (known: {', '.join(RULES)})")
    if not (start_s >= 0 and math.isfinite(start_s)):
        raise FaultSpecError(f"{kind}: start must be a time >= 0 s, got {start_s}")
    if duration_s is not None and rule.span == "no":
        raise FaultSpecError(f"{kind} takes no duration")
    if count is not None and rule.count == "no":
        raise FaultSpecError(f"{kind} takes no xCOUNT")
    if kind == "drop" and duration_s is not None and count is not None:
        raise FaultSpecError("drop takes a duration or xCOUNT, not both")
    if param is not None and rule.param == "no":
        raise FaultSpecError(f"{kind} takes no :PARAM")
    if param is None and rule.param == "required":
        raise FaultSpecError(f"{kind} needs :PARAM ({rule.help})")
    if param is not None and not rule.param_range[0] <= param <= rule.param_range[1]:
        lo, hi = rule.param_range
        raise FaultSpecError(f"{kind}: PARAM {param:g} is outside {lo:g}..{hi:g}")
    if duration_s is not None and not (duration_s > 0 and math.isfinite(duration_s)):
        raise FaultSpecError(f"{kind}: duration must be > 0 s")
    if count is not None and count <= 0:
        raise FaultSpecError(f"{kind}: COUNT must be >= 1")
    if duration_s is None:
        duration_s = math.inf if rule.span == "permanent" else rule.default_s
    if kind == "drop" and duration_s == 0.0 and count is None:
        count = rule.default_count
    if count is None:
        count = rule.default_count
    return Fault(kind, float(start_s), float(start_s) + duration_s, count,
                 rule.default_param if param is None else float(param))


def parse_fault(item: str) -> Fault:
    """One SPEC item, e.g. 'unplug@10+3' or 'bitflip@4-8:0.001'."""
    text = item.strip()
    m = _ITEM.match(text)
    if m is None:
        kind = text.split("@", 1)[0]
        if kind not in RULES:
            raise FaultSpecError(f"bad fault {text!r}: unknown fault {kind!r} "
                                 f"(known: {', '.join(RULES)})")
        raise FaultSpecError(f"bad fault {text!r}: expected KIND@START[+DURATION|-END]"
                             "[xCOUNT][:PARAM], e.g. unplug@10+3")
    start = float(m["start"])
    duration = None
    if m["span"] is not None:
        span = float(m["span"])
        duration = span if m["op"] == "+" else span - start
        if m["op"] == "-" and duration <= 0:
            raise FaultSpecError(f"bad fault {text!r}: END must be after START")
    param = None
    if m["param"] is not None:
        try:
            param = float(m["param"])
        except ValueError:
            raise FaultSpecError(f"bad fault {text!r}: PARAM {m['param']!r} is not a number") \
                from None
    count = int(m["count"]) if m["count"] is not None else None
    try:
        return make_fault(m["kind"], start, duration, count, param)
    except FaultSpecError as exc:
        raise FaultSpecError(f"bad fault {text!r}: {exc}") from None


def parse_faults(spec: str) -> list[Fault]:
    """A whole SPEC; FaultSpecError for the first bad item."""
    items = [s for s in spec.split(",")]
    if not spec.strip() or any(not s.strip() for s in items):
        raise FaultSpecError(f"bad fault list {spec!r}: empty item")
    return [parse_fault(s) for s in items]


class FaultPlan:
    """Timed faults, thread-safe; queried by device time."""

    def __init__(self, faults: list[Fault] | None = None) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults or [])

    @classmethod
    def from_spec(cls, spec: str | None) -> FaultPlan:
        """A plan from a SPEC string (None or '' gives an empty plan)."""
        return cls(parse_faults(spec) if spec else [])

    def add(self, fault: Fault) -> Fault:
        """Schedule one more fault."""
        with self._lock:
            self._faults.append(fault)
        return fault

    @property
    def faults(self) -> list[Fault]:
        """Every fault scheduled so far."""
        with self._lock:
            return list(self._faults)

    def of_kind(self, kind: str) -> list[Fault]:
        """Faults of one kind, in order of start."""
        return sorted((f for f in self.faults if f.kind == kind), key=lambda f: f.start_s)

    def active(self, kind: str, t_s: float) -> Fault | None:
        """The most recently started fault of `kind` active at t_s, if any."""
        live = [f for f in self.of_kind(kind) if f.active(t_s)]
        return live[-1] if live else None

    def started_in(self, kind: str, t0_s: float, t1_s: float) -> list[Fault]:
        """Faults of `kind` whose start lies in (t0_s, t1_s]."""
        return [f for f in self.of_kind(kind) if t0_s < f.start_s <= t1_s]

    def clock_offset_s(self, t_s: float) -> float:
        """Sum of the clock jumps that happened up to t_s."""
        return sum(f.param or 0.0 for f in self.of_kind("clockjump") if f.start_s <= t_s)

    def gain_at(self, t_s: float) -> float:
        """Detector gain (1 unless an HV fault is active)."""
        fault = self.active("hv", t_s)
        return 1.0 if fault is None else float(fault.param or 1.0)

    def extra_rate_cps(self, t_s: float) -> float:
        """Extra true rate of a saturation fault."""
        fault = self.active("saturate", t_s)
        return 0.0 if fault is None else float(fault.param or 0.0)
