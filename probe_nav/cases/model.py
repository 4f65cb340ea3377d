"""What a case record holds: the case (procedure, tracer, probe) and its timed-count measurements.

Times are Unix seconds (UTC) on the host clock. Every measurement is decay corrected to the case's
reference time (the injection time when known, else the time the case was opened), so counts taken
hours apart in a long operation compare fairly (Tc-99m loses ~11 % an hour).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from probe_nav.calibration.decay import correction_factor
from probe_nav.calibration.nuclides import UnknownNuclide, nuclide
from probe_nav.core.timed import TimedCountResult
from probe_nav.errors import UserError

KINDS = ("in_vivo", "ex_vivo", "bed", "background")
PROCEDURES = ("sln-breast", "sln-melanoma", "sln-head-neck", "roll", "rsl", "parathyroid",
              "psma", "other")
MAX_ID_LENGTH = 64


def format_unix_s(unix_s: float | None) -> str:
    """ISO 8601 UTC text of a Unix time ('' for None), to the second."""
    if unix_s is None:
        return ""
    return datetime.fromtimestamp(unix_s, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


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
    """A validated Case (UserError for a bad identifier, procedure, nuclide or activity)."""
    proc = str(procedure).strip().lower()
    if proc not in PROCEDURES:
        raise UserError(f"unknown procedure {procedure!r}; use one of {', '.join(PROCEDURES)}")
    if injected_activity_mbq is not None and not (
        math.isfinite(injected_activity_mbq) and injected_activity_mbq > 0
    ):
        raise UserError(f"injected activity must be a positive number of MBq, "
                        f"got {injected_activity_mbq!r}")
    return Case(check_case_id(case_id), proc, check_nuclide(nuclide_name), float(created_unix_s),
                injected_activity_mbq, injection_unix_s, probe, calibration, operator, notes)


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


def measurement_from_result(
    case: Case, node: str, kind: str, result: TimedCountResult, measured_unix_s: float,
    note: str = "",
) -> Measurement:
    """A Measurement of `node` from a TimedCountResult taken at measured_unix_s (host clock)."""
    name = str(node).strip()
    if not name or not name.isprintable() or len(name) > MAX_ID_LENGTH:
        raise UserError(f"a node name must be 1-{MAX_ID_LENGTH} printable characters, "
                        f"got {node!r}")
    if result.live_s <= 0:
        raise UserError("a measurement needs a live time above 0 s")
    factor = float(correction_factor(case.nuclide, measured_unix_s, case.reference_unix_s))
    return Measurement(
        case_id=case.case_id, node=name, kind=check_kind(kind),
        measured_unix_s=float(measured_unix_s), counts=int(result.counts),
        live_s=float(result.live_s), real_s=float(result.real_s),
        rate_cps=float(result.rate_cps), rate_sd_cps=float(result.rate_sd_cps),
        background_cps=float(result.background_cps),
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
