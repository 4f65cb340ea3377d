"""NEMA NU 3 measurement series: from the simulator's benches or from a measurement-series CSV
file (docs/qc.md, "NEMA series file"), and back to that file (the raw data of a simulated run).

A series file has one row per count: `test,setting,counts,live_s[,real_s][,t_s]`; `setting` is
the distance (sensitivity_air), depth (sensitivity_water), lateral position in mm (lateral),
angle in degrees (angular, shielding: 0 front, 90 side, 180 back) or relative activity
(count_rate); `background` rows (setting empty) are the count with the source away.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from probe_nav.errors import UserError
from probe_nav.files import open_private

TESTS = ("background", "sensitivity_air", "sensitivity_water", "lateral", "angular",
         "shielding", "count_rate")
COLUMNS = ("test", "setting", "counts", "live_s", "real_s", "t_s")


@dataclass(frozen=True)
class CountSeries:
    """Counts at settings with live, real (clock) and mid times of each count."""

    settings: np.ndarray
    counts: np.ndarray
    live_s: np.ndarray
    real_s: np.ndarray
    t_s: np.ndarray | None = None


@dataclass
class NemaData:
    """Everything a NEMA characterisation analyses; `truth` holds the simulator's known answers
    (empty for files)."""

    series: dict[str, CountSeries]
    background_counts: float = 0.0
    background_live_s: float = 0.0
    spectrum: np.ndarray | None = None
    energy_calibration: tuple[float, ...] = ()
    truth: dict[str, object] = field(default_factory=dict)

    @property
    def background_cps(self) -> float:
        """Background rate (0 without a background count)."""
        return self.background_counts / self.background_live_s if self.background_live_s else 0.0

    @property
    def background_sd_cps(self) -> float:
        """Poisson sd of the background rate."""
        if not self.background_live_s:
            return 0.0
        return math.sqrt(max(self.background_counts, 1.0)) / self.background_live_s


def read_series_file(path: str) -> NemaData:
    """Read a NEMA measurement-series CSV; UserError naming the line for anything malformed."""
    rows: dict[str, list[tuple[float, float, float, float, float | None]]] = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            lines = [(n, line) for n, line in enumerate(fh, 1)
                     if line.strip() and not line.lstrip().startswith("#")]
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not a text file") from None
    if not lines:
        raise UserError(f"{path}: no rows")
    reader = csv.DictReader([line for _, line in lines])
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in COLUMNS[:4] if c not in header]
    if missing:
        raise UserError(f"{path}: missing column(s) {', '.join(missing)}; a NEMA series file "
                        f"has columns {','.join(COLUMNS)}")
    for (number, _), row in zip(lines[1:], reader, strict=True):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        test = row["test"].lower()
        if test not in TESTS:
            raise UserError(f"{path}:{number}: unknown test {row['test']!r} (known: "
                            f"{', '.join(TESTS)})")
        try:
            setting = float(row["setting"]) if row["setting"] else math.nan
            counts, live = float(row["counts"]), float(row["live_s"])
            real = float(row["real_s"]) if row.get("real_s") else live
            t = float(row["t_s"]) if row.get("t_s") else None
        except ValueError:
            raise UserError(f"{path}:{number}: not a number in {','.join(row.values())}"
                            ) from None
        if not (counts >= 0 and live > 0 and real >= live * (1 - 1e-9)
                and all(math.isfinite(v) for v in (counts, live, real))):
            raise UserError(f"{path}:{number}: need counts >= 0 and 0 < live_s <= real_s")
        if test != "background" and not math.isfinite(setting):
            raise UserError(f"{path}:{number}: test {test} needs a setting")
        rows.setdefault(test, []).append((setting, counts, live, real, t))
    background = rows.pop("background", [])
    series = {}
    for test, values in rows.items():
        s, c, lv, r, t = zip(*values, strict=True)
        times = None if any(v is None for v in t) else np.asarray(t, dtype=float)
        series[test] = CountSeries(np.asarray(s), np.asarray(c), np.asarray(lv), np.asarray(r),
                                   times)
    return NemaData(series, float(sum(v[1] for v in background)),
                    float(sum(v[2] for v in background)))


def write_series_file(path: str | Path, data: NemaData, notes: list[str] = ()) -> None:
    """Write the count series as a NEMA series CSV (the background as one row)."""
    with open_private(path, "x") as fh:  # a new file, mode 0600
        for note in notes:
            fh.write(f"# {note}\n")
        out = csv.writer(fh)
        out.writerow(COLUMNS)
        if data.background_live_s:
            out.writerow(("background", "", f"{data.background_counts:.0f}",
                          repr(data.background_live_s), repr(data.background_live_s), ""))
        for test, s in data.series.items():
            for i in range(len(s.counts)):
                out.writerow((test, repr(float(s.settings[i])), f"{s.counts[i]:.0f}",
                              repr(float(s.live_s[i])), repr(float(s.real_s[i])),
                              "" if s.t_s is None else repr(float(s.t_s[i]))))
