"""Fixed inputs for the report tests, built directly (no simulator, no clock): a breast SLNB case
with four nodes, a long node name, a bed count and notes; a probe's QC and calibration history
over three weeks (baseline, judged daily checks, one failed, two chi-square tests, energy,
sensitivity and dead-time calibrations); a NEMA NU 3 characterisation; one lone daily check."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from probe_nav.cases.model import Case, Measurement, measurement_from_result, new_case
from probe_nav.cases.rules import NodeTable, node_table
from probe_nav.cases.store import CaseNote
from probe_nav.core.timed import timed_count
from probe_nav.qc.store import Probe, Record

INJECTED = datetime(2026, 11, 24, 7, 30, tzinfo=UTC).timestamp()
LONG_NODE = "axillary non-sentinel node, level II (behind pectoralis minor)"  # 61 chars
LONG_NOTE = ("SLN 2 sent for frozen section; the wound bed was counted at background and the "
             "surgeon closed; the specimen pot was labelled by the scrub nurse")
COUNTS = [  # node, kind, counts in 10 s, minutes after 10:00 UTC
    ("background", "background", 52, 2), ("SLN 1", "in_vivo", 10234, 5),
    ("SLN 1", "ex_vivo", 8120, 9), ("SLN 2", "in_vivo", 1580, 12),
    ("SLN 2", "ex_vivo", 1310, 15), (LONG_NODE, "ex_vivo", 410, 19),
    ("SLN 3", "ex_vivo", 95, 24), ("SLN 1", "bed", 61, 28),
]


def case_fixture() -> tuple[Case, list[Measurement], NodeTable, list[CaseNote]]:
    """The case, its measurements (ids 1..8), node table and notes."""
    case = new_case("C-2026-117", "sln-breast", "Tc-99m", created_unix_s=INJECTED + 9000,
                    injected_activity_mbq=74.0, injection_unix_s=INJECTED,
                    probe="Probelink PL-1 serial 0042 firmware 2.3",
                    calibration="QC record 12 of 2026-11-24 (Co-57 daily check, pass)",
                    operator="Dr A. Surgeon")
    start = datetime(2026, 11, 24, 10, 0, tzinfo=UTC).timestamp()
    measurements = []
    for i, (node, kind, counts, minute) in enumerate(COUNTS, start=1):
        m = measurement_from_result(case, node, kind, timed_count([counts], [10.0], 10.0),
                                    start + 60 * minute)
        measurements.append(replace(m, measurement_id=i))
    notes = [CaseNote(case.case_id, start + 60 * 30, LONG_NOTE),
             CaseNote(case.case_id, start + 60 * 31, "SLN 3 kept for histology")]
    return case, measurements, node_table(case, measurements), notes


PROBE = Probe(1, "Probelink PL-1", "0042", "CdTe 5 mm")
DAY0 = datetime(2026, 11, 2, 7, 40, tzinfo=UTC)
RAW = "/var/lib/probe-nav/raw"


def _record(record_id: int, kind: str, test: str, when: datetime, passed: bool | None,
            result: dict[str, Any], operator: str = "tech") -> Record:
    checksum = hashlib.sha256(f"{record_id}{test}{when.isoformat()}".encode()).hexdigest()
    stamp = when.strftime("%Y%m%dT%H%M%S") + "123456Z"
    return Record(record_id, PROBE, kind, test, when, operator,
                  f"device /dev/ttyUSB0 (probelink), seed {record_id}",
                  f"{RAW}/{stamp}-{kind}-{test}.n42", passed, result, checksum)


def _daily(record_id: int, day: float, ratio: float | None, passed: bool | None) -> Record:
    result: dict[str, Any] = {"nuclide": "Co-57", "tolerance": 0.10, "rate_cps": 1191.8 *
                              (ratio or 1.0), "rate_sd_cps": 10.93, "counts": 11886,
                              "live_s": 9.97, "battery_pct": 87.0, "battery_pass": True}
    if ratio is None:
        result["baseline"] = True
    else:
        result.update(baseline=False, baseline_record=1, ratio=ratio, ratio_sd=0.013,
                      expected_cps=1191.8, constancy_pass=passed)
    return _record(record_id, "qc", "daily", DAY0 + timedelta(days=day), passed, result)


def _chi(record_id: int, day: float, chi2: float, p: float, passed: bool) -> Record:
    return _record(record_id, "qc", "chi-square", DAY0 + timedelta(days=day, hours=1), passed,
                   {"chi2": chi2, "dof": 9, "p_value": p, "band": [4.168, 14.684],
                    "pass": passed, "mean": 2379.7, "n": 10, "p_low": 0.1, "p_high": 0.9})


def qc_records() -> list[Record]:
    """Three weeks of one probe: QC and calibration records, oldest first."""
    records = [
        _daily(1, 0, None, True),
        _record(2, "calibration", "energy", DAY0 + timedelta(hours=2), None, {
            "coefficients": [1.6722, 3.00158], "coefficients_sd": [0.0836, 0.00212],
            "chi2_dof": 5.7, "channels": [19.2, 40.2, 219.8], "energies_kev": [59.5, 122.1,
                                                                               661.7],
            "order": 1, "resolution_kev": 661.4, "fwhm_kev": 24.6, "fwhm_pct": 3.7214,
            "fwhm_pct_sd": 0.1375}, "phys"),
        _record(3, "calibration", "sensitivity", DAY0 + timedelta(hours=3), None, {
            "cps_per_mbq": 762.17, "sd": 21.73, "net_cps": 1212.6, "net_sd_cps": 11.0,
            "activity_mbq": 1.591, "activity_sd_mbq": 0.043,
            "geometry": "50 mm in air, holder H1", "nuclide": "Co-57",
            "source_serial": "CS-1187"}, "phys"),
        _record(4, "calibration", "deadtime", DAY0 + timedelta(hours=4), None, {
            "dead_time_s": 1.9989e-6, "dead_time_sd_s": 4.4e-8, "model": "nonparalysable",
            "method": "two-source"}, "phys"),
        _chi(5, 0, 8.9, 0.45, True),
    ]
    ratios = [1.004, 0.991, 1.012, 0.987, 0.874, 0.996, 1.003, 0.998, 1.009, 0.994]
    for k, ratio in enumerate(ratios):
        records.append(_daily(6 + k, 1 + 2 * k, ratio, abs(ratio - 1) <= 0.10))
    records.append(_chi(16, 14, 2.58, 0.979, False))
    return records


def lone_daily_records() -> list[Record]:
    """A probe's first daily check after its baseline the same morning: one judged point."""
    return [_daily(1, 0, None, True), _daily(2, 0.01, 1.002, True)]


NEMA = [  # test, figure, value, sd, unit, limit, sense, pass
    ("sensitivity-air", "sensitivity in air at 10 mm", 7948.89, 28.48, "cps/MBq", 5000.0, ">=",
     True),
    ("sensitivity-water", "sensitivity in scatter (water) at 30 mm", 618.56, 7.886, "cps/MBq",
     None, ">=", None),
    ("spatial-resolution", "spatial resolution FWHM", 19.668, 0.2655, "mm", 25.0, "<=", True),
    ("angular-resolution", "angular resolution FWHM", 39.828, 0.5752, "deg", 45.0, "<=", True),
    ("shielding", "side / back response (worst)", 0.10022, 0.0045064, "%", 0.5, "<=", True),
    ("count-rate", "count rate at 20 % loss", 100055.34, 110.84, "cps", 10000.0, ">=", True),
    ("energy-resolution", "energy resolution at 140.5 keV", 8.395, 0.04202, "% FWHM", 12.0,
     "<=", True),
]


def nema_records() -> list[Record]:
    """A NEMA NU 3 characterisation: one record per test, as `qc nema` stores them."""
    when = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)
    return [_record(i, "qc", f"nema-{test}", when, passed,
                    {"figure": figure, "value": value, "sd": sd, "unit": unit, "limit": limit,
                     "limit_sense": sense, "pass": passed}, "phys")
            for i, (test, figure, value, sd, unit, limit, sense, passed) in
            enumerate(NEMA, start=1)]
