"""The crosstalk calibration of a probe as a QC record: the measured spill matrix with the counts
behind it (kind "calibration", test "crosstalk"), and the active one, `active_spill`: the newest
such record of the probe, for the number of windows (and the windows) now in use."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from probe_nav.calibration.crosstalk import SpillError, SpillMatrix
from probe_nav.calibration.crosstalk_measure import SourceSpills, spill_matrix
from probe_nav.drivers.frames import EnergyWindow
from probe_nav.qc.procedures import Outcome
from probe_nav.qc.store import CALIBRATION, Probe, QcStore
from probe_nav.storage import StoreError

log = logging.getLogger(__name__)
CROSSTALK = "crosstalk"


def window_fields(windows: Sequence[EnergyWindow]) -> list[dict[str, Any]]:
    """The windows as the record keeps them: index, name, lo_kev, hi_kev."""
    return [{"index": i, "name": w.name, "lo_kev": w.lo_kev, "hi_kev": w.hi_kev}
            for i, w in enumerate(windows)]


def crosstalk_outcome(measured: Sequence[SourceSpills], windows: Sequence[EnergyWindow],
                      counts: Sequence[dict[str, Any]], method: str,
                      extra: dict[str, Any] | None = None) -> Outcome:
    """The record of a crosstalk calibration: the combined matrix (`spills`, S:T=F+-SD), the
    windows, each source's count and net rate (`sources`, `counts` gives each source's raw
    numbers, same order as `measured`), the notes of the analysis and how it was measured."""
    matrix = spill_matrix(measured, len(windows))
    sources = [{"window": m.source, "net_cps": m.net_cps, "net_sd_cps": m.net_sd_cps,
                "raw_fractions": {str(t): f for t, f in zip(m.targets, m.raw_fractions,
                                                           strict=True)}, **c}
               for m, c in zip(measured, counts, strict=True)]
    notes = [n for m in measured for n in m.notes] + overlap_notes(windows)
    result: dict[str, Any] = {**matrix.as_dict(), "windows": window_fields(windows),
                              "sources": sources, "notes": notes, "method": method,
                              **(extra or {})}
    names = {i: w.name or f"w{i}" for i, w in enumerate(windows)}
    summary = [f"{len(measured)} single-isotope count(s) over {len(windows)} windows "
               f"({method})"]
    for m in measured:
        summary.append(f"window {m.source} ({names[m.source]}) source: {m.net_cps:.1f} +- "
                       f"{m.net_sd_cps:.1f} cps net in its own window")
    for s in matrix.spills:
        summary.append(f"spill {s.source}:{s.target}: {100 * s.fraction:.3f} +- "
                       f"{100 * s.sd:.3f} % of {names[s.source]}'s counts appear in "
                       f"{names[s.target]}'s window")
    summary += [f"note: {n}" for n in notes]
    summary.append("spill matrix: " + " ".join(matrix.texts()))
    return Outcome(CROSSTALK, None, result, summary)


def overlap_notes(windows: Sequence[EnergyWindow]) -> list[str]:
    """A note per pair of overlapping windows: a pulse in both is counted twice, so their
    counts are correlated and the spill sds (which take them as independent) are approximate."""
    return [f"windows {i} and {j} overlap ({max(a.lo_kev, b.lo_kev):g}-"
            f"{min(a.hi_kev, b.hi_kev):g} keV): their spill sds are approximate"
            for i, a in enumerate(windows) for j, b in enumerate(windows)
            if i < j and a.lo_kev < b.hi_kev and b.lo_kev < a.hi_kev]


def check_crosstalk(result: dict[str, Any]) -> SpillMatrix:
    """The stored matrix of a crosstalk record; StoreError when it is not a usable one (for
    QcStore's check_calibration: nothing unusable is stored)."""
    try:
        return SpillMatrix.from_dict(result)
    except SpillError as exc:
        raise StoreError(f"crosstalk calibration: {exc}; not stored") from None


def active_spill(store: QcStore, probe: Probe | None, n_windows: int,
                 windows: Sequence[EnergyWindow] | None = None) -> SpillMatrix | None:
    """The probe's newest crosstalk calibration, None when it has none (or `probe` is None).

    SpillError when that calibration was made for another number of windows, or (with
    `windows`) for windows of other names or energies: correcting with it would move counts
    between the wrong windows. TamperedRecord when the probe's records fail their seals."""
    if probe is None:
        return None
    record = store.latest(probe, CALIBRATION, CROSSTALK)
    if record is None:
        return None
    try:
        matrix = SpillMatrix.from_dict(record.result)
    except SpillError as exc:
        raise SpillError(f"crosstalk calibration record {record.id} of {probe.label}: "
                         f"{exc}") from None
    if matrix.n_windows != n_windows:
        raise SpillError(f"the crosstalk calibration of {probe.label} (record {record.id}) is "
                         f"for {matrix.n_windows} windows, not {n_windows}: calibrate again "
                         "(probe-nav calibrate crosstalk) or give --spill")
    if windows is not None:
        stored = [(w.get("name"), w.get("lo_kev"), w.get("hi_kev"))
                  for w in record.result.get("windows", [])]
        now = [(w.name, w.lo_kev, w.hi_kev) for w in windows]
        if stored and stored != now:
            raise SpillError(f"the crosstalk calibration of {probe.label} (record {record.id}) "
                             f"was made with windows {_describe(stored)}, now "
                             f"{_describe(now)}: calibrate again or give --spill")
    log.debug("crosstalk calibration record %d of %s: %s", record.id, probe.label,
              " ".join(matrix.texts()))
    return matrix


def _describe(windows: Sequence[tuple[object, object, object]]) -> str:
    return ", ".join(f"{n} {lo:g}-{hi:g} keV" if isinstance(lo, int | float)
                     and isinstance(hi, int | float) else str(n) for n, lo, hi in windows)
