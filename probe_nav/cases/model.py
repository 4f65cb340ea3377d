"""What a case record holds: the case (procedure, tracer, probe) and its timed-count measurements.

Times are Unix seconds (UTC) on the host clock. Every measurement is decay corrected to the case's
reference time (the injection time when known, else the time the case was opened), so counts taken
hours apart in a long operation compare fairly (Tc-99m loses ~11 % an hour).

Only plausible values become records (UserError naming the value and the allowed range otherwise):
counts whole, 0 to the device's maximum rate x live time (1e7 cps when the device's is unknown) and
below 2^53; live time 1 ms to 24 h; activity above 0 and at most 100 GBq; injection no later than
the case's opening (plus 5 min of clock skew) and at most 30 half-lives before it; a count not in
the future and within 30 half-lives of the case's reference time (so every decay factor is finite
and between 2^-30 and 2^30).
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from probe_nav.calibration.decay import correction_factor
from probe_nav.calibration.nuclides import UnknownNuclide, nuclide
from probe_nav.core.timed import TimedCountResult
from probe_nav.errors import UserError

KINDS = ("in_vivo", "ex_vivo", "bed", "background")
PROCEDURES = ("sln-breast", "sln-melanoma", "sln-head-neck", "roll", "rsl", "parathyroid",
              "psma", "therapy", "other")  # therapy: retention dosimetry after radionuclide therapy
MAX_ID_LENGTH = 64
CLOCK_SKEW_S = 300.0  # a time up to 5 min in the future is the host clock's error, not a mistake
MAX_HALF_LIVES = 30.0  # times further from the reference make decay factors beyond 2^+-30
MIN_LIVE_S = 1e-3
MAX_LIVE_S = 24 * 3600.0
MAX_COUNTS = 2**53 - 1  # above this a count is not exact as a float (and is no real count)
GENEROUS_MAX_RATE_CPS = 1e7  # when the device's own maximum is unknown: above any probe's counter
MAX_ACTIVITY_MBQ = 1e5  # 100 GBq: above any administered or calibration activity


def format_unix_s(unix_s: float | None) -> str:
    """ISO 8601 UTC text of a Unix time ('' for None), to the second (the number itself when
    it is no representable date)."""
    if unix_s is None:
        return ""
    try:
        stamp = datetime.fromtimestamp(unix_s, UTC).replace(microsecond=0, tzinfo=None)
        return stamp.isoformat() + "Z"
    except (OverflowError, OSError, ValueError):
        return f"{unix_s!r} (Unix s)"


def _finite_in(name: str, value: object, lo: float, hi: float, unit: str) -> float:
    """The value as a float, or UserError naming it and the allowed range [lo, hi]."""
    number = float(value) if isinstance(value, numbers.Real) else math.nan
    if not (math.isfinite(number) and lo <= number <= hi):
        raise UserError(f"{name} {value!r} {unit} is outside the allowed range "
                        f"{lo:g} to {hi:g} {unit}".replace("  ", " "))
    return number


def check_activity_mbq(value: object, name: str = "injected activity") -> float:
    """An activity in MBq: positive, finite, at most MAX_ACTIVITY_MBQ."""
    number = _finite_in(name, value, 0.0, MAX_ACTIVITY_MBQ, "MBq")
    if number <= 0:
        raise UserError(f"{name} {value!r} MBq is outside the allowed range: above 0 to "
                        f"{MAX_ACTIVITY_MBQ:g} MBq")
    return number


def check_not_future(name: str, unix_s: float, now_unix_s: float | None = None) -> float:
    """A time no later than now plus CLOCK_SKEW_S (and finite)."""
    now = time.time() if now_unix_s is None else now_unix_s
    value = float(unix_s)
    if not math.isfinite(value) or value > now + CLOCK_SKEW_S:
        raise UserError(f"{name} {format_unix_s(value)} is in the future (allowed: up to "
                        f"{format_unix_s(now + CLOCK_SKEW_S)}, now plus "
                        f"{CLOCK_SKEW_S / 60:g} min of clock skew)")
    return value


def check_within_half_lives(name: str, unix_s: float, reference_unix_s: float, nuclide_name: str,
                            *, after_s: float = math.inf) -> float:
    """A time at most MAX_HALF_LIVES half-lives before the reference and at most `after_s`
    (default: as many half-lives) after it; UserError naming the allowed span otherwise."""
    span_s = MAX_HALF_LIVES * nuclide(nuclide_name).half_life_s
    lo, hi = reference_unix_s - span_s, reference_unix_s + min(span_s, after_s)
    value = float(unix_s)
    if not (math.isfinite(value) and lo <= value <= hi):
        raise UserError(f"{name} {format_unix_s(value)} is outside the allowed range "
                        f"{format_unix_s(lo)} to {format_unix_s(hi)} ({MAX_HALF_LIVES:g} "
                        f"half-lives of {nuclide_name}, {span_s / 86400:.3g} days, around "
                        f"{format_unix_s(reference_unix_s)})")
    return value


def parse_time(text: str) -> float:
    """Unix seconds from ISO 8601 text (a time without zone is taken as local time)."""
    try:
        stamp = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"not a date and time: {text!r} (use e.g. 2026-05-09T08:30)") from None
    return stamp.timestamp()


def check_case_id(case_id: str) -> str:
    """The identifier stripped, or UserError: 1-64 printable characters, no line breaks."""
    text = str(case_id).strip()
    if not text or len(text) > MAX_ID_LENGTH or not text.isprintable():
        raise UserError(f"a case identifier must be 1-{MAX_ID_LENGTH} printable characters, "
                        f"got {case_id!r}")
    return text


def check_kind(kind: str) -> str:
    """The measurement kind, or UserError naming the allowed kinds."""
    k = str(kind).strip().lower().replace("-", "_").replace(" ", "_")
    if k not in KINDS:
        raise UserError(f"unknown measurement kind {kind!r}; use one of {', '.join(KINDS)}")
    return k


def check_nuclide(name: str) -> str:
    """The nuclide's canonical name, or UserError."""
    try:
        return nuclide(name).name
    except (UnknownNuclide, KeyError, ValueError) as exc:
        raise UserError(str(exc).strip("'\"")) from None


@dataclass(frozen=True, slots=True)
class Case:
    """One operation. case_id is chosen by the user; no patient name is needed or stored."""

    case_id: str
    procedure: str
    nuclide: str
    created_unix_s: float
    injected_activity_mbq: float | None = None
    injection_unix_s: float | None = None
    probe: str = ""  # identity of the probe used (model, serial, firmware)
    calibration: str = ""  # the calibration / QC record used, e.g. its id and date
    operator: str = ""
    notes: str = ""

    @property
    def reference_unix_s(self) -> float:
        """The time all measurements are decay corrected to: injection, else case creation."""
        return self.injection_unix_s if self.injection_unix_s is not None else self.created_unix_s

    def as_dict(self) -> dict[str, object]:
        """Fields as plain values (for export and checksums)."""
        return asdict(self)


def new_case(
    case_id: str,
    procedure: str,
    nuclide_name: str,
    *,
    created_unix_s: float,
    injected_activity_mbq: float | None = None,
    injection_unix_s: float | None = None,
    probe: str = "",
    calibration: str = "",
    operator: str = "",
    notes: str = "",
) -> Case:
    """A validated Case (UserError for a bad identifier, procedure, nuclide, activity, or a
    time out of range: opened in the future, injected after the case was opened (beyond the
    clock skew) or more than 30 half-lives before it)."""
    proc = str(procedure).strip().lower()
    if proc not in PROCEDURES:
        raise UserError(f"unknown procedure {procedure!r}; use one of {', '.join(PROCEDURES)}")
    name = check_nuclide(nuclide_name)
    activity = (None if injected_activity_mbq is None
                else check_activity_mbq(injected_activity_mbq))
    created = check_not_future("case opening time", created_unix_s)
    injected = None
    if injection_unix_s is not None:
        injected = check_within_half_lives("injection time", injection_unix_s, created, name,
                                           after_s=CLOCK_SKEW_S)
    return Case(check_case_id(case_id), proc, name, created, activity, injected, probe,
                calibration, operator, notes)


@dataclass(frozen=True, slots=True)
class Measurement:
    """A timed count of one node (or of background / the wound bed), as recorded in the case.

    Rates in cps as measured; `decay_factor` brings them to the case reference time
    (corrected = measured * decay_factor).
    """

    case_id: str
    node: str
    kind: str
    measured_unix_s: float
    counts: int
    live_s: float
    real_s: float
    rate_cps: float
    rate_sd_cps: float
    background_cps: float
    background_sd_cps: float
    net_cps: float
    net_sd_cps: float
    significant: bool
    complete: bool
    decay_factor: float
    note: str = ""
    measurement_id: int | None = None
    checksum: str = field(default="", compare=False)

    @property
    def corrected_rate_cps(self) -> float:
        """Gross rate decay corrected to the case reference time."""
        return self.rate_cps * self.decay_factor

    @property
    def corrected_sd_cps(self) -> float:
        """Sd of corrected_rate_cps."""
        return self.rate_sd_cps * self.decay_factor

    @property
    def corrected_net_cps(self) -> float:
        """Net rate decay corrected to the case reference time."""
        return self.net_cps * self.decay_factor

    def checksum_fields(self) -> dict[str, object]:
        """The fields the stored checksum covers (everything but the row id and checksum)."""
        out = {k: v for k, v in asdict(self).items() if k not in ("measurement_id", "checksum")}
        out["significant"], out["complete"] = bool(self.significant), bool(self.complete)
        return out

    def as_dict(self) -> dict[str, object]:
        """Fields and the corrected rates as plain values (for export)."""
        out = asdict(self)
        out.update(corrected_rate_cps=self.corrected_rate_cps,
                   corrected_sd_cps=self.corrected_sd_cps,
                   corrected_net_cps=self.corrected_net_cps)
        return out


def check_count(counts: object, live_s: float, real_s: float, max_rate_cps: float | None = None,
                what: str = "counts") -> tuple[int, float, float]:
    """(counts, live_s, real_s) of a plausible count, or UserError naming the value and range:
    live time 1 ms to 24 h, real time not below 99 % of it (nor above 48 h), counts a whole
    number from 0 to max_rate_cps x live time (GENEROUS_MAX_RATE_CPS if the device's is unknown)
    and below 2^53."""
    if live_s is None or not isinstance(live_s, numbers.Real) or not live_s > 0:
        raise UserError(f"a measurement needs a live time above 0 s, got {live_s!r}")
    live = _finite_in("live time", live_s, MIN_LIVE_S, MAX_LIVE_S, "s")
    real = _finite_in("real time", real_s, 0.99 * live, 2 * MAX_LIVE_S, "s")
    rate = GENEROUS_MAX_RATE_CPS if max_rate_cps is None else float(max_rate_cps)
    if not (math.isfinite(rate) and rate > 0):
        rate = GENEROUS_MAX_RATE_CPS
    if isinstance(counts, bool) or not isinstance(counts, numbers.Integral):
        raise UserError(f"{what} {counts!r} is not a whole number")
    top = min(MAX_COUNTS, math.floor(rate * live) + 1)
    if not 0 <= int(counts) <= top:
        raise UserError(f"{what} {int(counts)} in {live:g} s is outside the allowed range 0 to "
                        f"{top} ({rate:g} cps x live time, the counter's maximum)")
    return int(counts), live, real


def measurement_from_result(
    case: Case, node: str, kind: str, result: TimedCountResult, measured_unix_s: float,
    note: str = "", max_rate_cps: float | None = None,
) -> Measurement:
    """A Measurement of `node` from a TimedCountResult taken at measured_unix_s (host clock);
    UserError for an implausible value (module docstring). max_rate_cps: the device's highest
    reportable rate, when known (DeviceInfo.counter.max_rate_cps)."""
    name = str(node).strip()
    if not name or not name.isprintable() or len(name) > MAX_ID_LENGTH:
        raise UserError(f"a node name must be 1-{MAX_ID_LENGTH} printable characters, "
                        f"got {node!r}")
    counts, live_s, real_s = check_count(result.counts, result.live_s, result.real_s,
                                         max_rate_cps)
    rate_cap = GENEROUS_MAX_RATE_CPS if max_rate_cps is None else max_rate_cps
    background_cps = _finite_in("background rate", result.background_cps, 0.0, rate_cap, "cps")
    for label, value in (("rate", result.rate_cps), ("rate sd", result.rate_sd_cps),
                         ("net rate", result.net_cps)):
        if not math.isfinite(value):
            raise UserError(f"the count's {label} {value!r} cps is not a finite number")
    t = check_not_future("count time", measured_unix_s)
    check_within_half_lives("count time", t, case.reference_unix_s, case.nuclide)
    factor = float(correction_factor(case.nuclide, t, case.reference_unix_s))
    return Measurement(
        case_id=case.case_id, node=name, kind=check_kind(kind),
        measured_unix_s=t, counts=counts,
        live_s=live_s, real_s=real_s,
        rate_cps=float(result.rate_cps), rate_sd_cps=float(result.rate_sd_cps),
        background_cps=background_cps,
        background_sd_cps=_finite_or(result.background_sd_cps, -1.0),
        net_cps=float(result.net_cps), net_sd_cps=_finite_or(result.net_sd_cps, -1.0),
        significant=bool(result.significant), complete=bool(result.complete),
        decay_factor=factor, note=str(note),
    )


def _finite_or(value: float, fallback: float) -> float:
    """Store an unknown (infinite) sd as -1, which JSON, CSV and SQLite all keep exactly."""
    return float(value) if math.isfinite(value) else fallback


def with_id(m: Measurement, measurement_id: int, checksum: str) -> Measurement:
    """The measurement as stored (row id and checksum filled in)."""
    return replace(m, measurement_id=measurement_id, checksum=checksum)
