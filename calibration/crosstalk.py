"""Crosstalk between energy windows: the spill matrix of a dual-isotope count.

A spill fraction f(s -> t) is the fraction of window s's true counts (the counts of window s's own
isotope that fall in window s) that appear in window t as well: Tc-99m's 140 keV photons scatter
in the patient and the probe and land in the I-125 window (20-45 keV). With true rates T and
measured rates m, m = M T, M = I + F, F[t, s] = f(s -> t). Each fraction carries its 1 sd
(measured: counting statistics of the calibration; entered: what the user says, default 0).

Written `S:T=F` or `S:T=F+-SD` (`1:0=0.095` = 9.5 % of window 1's counts appear in window 0),
the syntax of `--spill` and of the crosstalk QC record. The correction itself (solving the system
with propagated uncertainty) is probe_nav.core.crosstalk; measuring the fractions is
probe_nav.calibration.crosstalk_measure.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# The common pairs of dual-isotope surgery (first isotope = window 0, second = window 1).
ISOTOPE_PAIRS: dict[str, tuple[str, str]] = {
    "I-125 + Tc-99m": ("I-125", "Tc-99m"),  # radioactive seed localisation + sentinel node
    "In-111 + Tc-99m": ("In-111", "Tc-99m"),  # two tracers, e.g. In-111 octreotide + Tc-99m
}
MAX_WINDOWS = 8  # the frame formats carry at most 8 windows
MAX_SPILL_FRACTION = 10.0  # a window can hold many times another's counts (downscatter), not more
_SPILL = re.compile(
    r"^\s*(?P<s>\d+)\s*:\s*(?P<t>\d+)\s*=\s*(?P<f>[^+]+?)\s*(?:(?:\+-|±)\s*(?P<sd>\S+)\s*)?$")


class SpillError(ValueError):
    """A spill fraction or matrix that cannot be used (one line, for the user)."""


@dataclass(frozen=True, slots=True)
class Spill:
    """Fraction (with its 1 sd) of window `source`'s true counts seen in window `target`."""

    source: int
    target: int
    fraction: float
    sd: float = 0.0

    def __post_init__(self) -> None:
        for name in ("fraction", "sd"):  # numpy floats in, plain floats kept (text() is repr)
            object.__setattr__(self, name, float(getattr(self, name)))
        if self.source == self.target:
            raise SpillError(f"spill {self.source}:{self.target}: a window does not spill into "
                             "itself")
        if min(self.source, self.target) < 0 or max(self.source, self.target) >= MAX_WINDOWS:
            raise SpillError(f"spill {self.source}:{self.target}: windows are 0 to "
                             f"{MAX_WINDOWS - 1}")
        if not (math.isfinite(self.fraction) and 0.0 <= self.fraction <= MAX_SPILL_FRACTION):
            raise SpillError(f"spill {self.source}:{self.target}: the fraction must be between 0 "
                             f"and {MAX_SPILL_FRACTION:g}, got {self.fraction!r}")
        if not (math.isfinite(self.sd) and 0.0 <= self.sd <= MAX_SPILL_FRACTION):
            raise SpillError(f"spill {self.source}:{self.target}: the sd must be between 0 and "
                             f"{MAX_SPILL_FRACTION:g}, got {self.sd!r}")

    @classmethod
    def parse(cls, text: str) -> Spill:
        """`S:T=F` or `S:T=F+-SD` (also `±`); SpillError with the expected form otherwise."""
        m = _SPILL.match(text)
        if m is None:
            raise SpillError(f"spill {text!r}: write SOURCE:TARGET=FRACTION[+-SD], e.g. "
                             "1:0=0.095 (9.5 % of window 1's counts appear in window 0)")
        try:
            fraction = float(m["f"])
            sd = float(m["sd"]) if m["sd"] is not None else 0.0
        except ValueError:
            raise SpillError(f"spill {text!r}: the fraction and sd must be numbers") from None
        return cls(int(m["s"]), int(m["t"]), fraction, sd)

    def text(self) -> str:
        """The `S:T=F+-SD` form (repr floats: reads back identical)."""
        sd = f"+-{self.sd!r}" if self.sd else ""
        return f"{self.source}:{self.target}={self.fraction!r}{sd}"


@dataclass(frozen=True, slots=True)
class SpillMatrix:
    """All spill fractions between `n_windows` windows (absent pairs spill nothing)."""

    n_windows: int
    spills: tuple[Spill, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.n_windows <= MAX_WINDOWS:
            raise SpillError(f"{self.n_windows} windows: between 1 and {MAX_WINDOWS} are allowed")
        seen: set[tuple[int, int]] = set()
        for s in self.spills:
            if max(s.source, s.target) >= self.n_windows:
                raise SpillError(f"spill {s.source}:{s.target}: there are only {self.n_windows} "
                                 f"windows (0 to {self.n_windows - 1})")
            if (s.source, s.target) in seen:
                raise SpillError(f"spill {s.source}:{s.target} is given twice")
            seen.add((s.source, s.target))
        if self.spills and not self.well_conditioned():
            raise SpillError("these spill fractions make the windows indistinguishable (the "
                             "system cannot be solved): check the calibration")

    @classmethod
    def parse(cls, texts: Iterable[str], n_windows: int) -> SpillMatrix:
        """From `S:T=F[+-SD]` strings (`--spill` options)."""
        return cls(n_windows, tuple(Spill.parse(t) for t in texts))

    @classmethod
    def none(cls, n_windows: int) -> SpillMatrix:
        """No crosstalk: every window counts only its own isotope."""
        return cls(n_windows)

    def matrix(self) -> np.ndarray:
        """M = I + F, shape (n, n): measured = M @ true."""
        m = np.eye(self.n_windows)
        for s in self.spills:
            m[s.target, s.source] = s.fraction
        return m

    def well_conditioned(self) -> bool:
        """False when M is singular or nearly so (condition number above 1e6)."""
        return bool(np.linalg.cond(self.matrix()) < 1e6)

    def fraction(self, source: int, target: int) -> Spill | None:
        """The spill from `source` into `target`, None when not given."""
        return next((s for s in self.spills if (s.source, s.target) == (source, target)), None)

    def subset(self, indices: Sequence[int]) -> SpillMatrix:
        """The spills among these windows, renumbered 0, 1, ... in the order given (a device's
        calibration of all its windows, for the pair counted)."""
        where = {w: k for k, w in enumerate(indices)}
        if len(where) != len(indices) or any(not 0 <= w < self.n_windows for w in indices):
            raise SpillError(f"windows {list(indices)} are not distinct windows of "
                             f"{self.n_windows}")
        return SpillMatrix(len(indices), tuple(
            Spill(where[s.source], where[s.target], s.fraction, s.sd) for s in self.spills
            if s.source in where and s.target in where))

    def texts(self) -> list[str]:
        """The `S:T=F+-SD` strings (the record's and the command line's form)."""
        return [s.text() for s in self.spills]

    def as_dict(self) -> dict[str, object]:
        """Plain values (JSON, QC records)."""
        return {"n_windows": self.n_windows, "spills": self.texts()}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> SpillMatrix:
        """Inverse of as_dict (SpillError on anything else)."""
        try:
            n = int(data["n_windows"])  # type: ignore[call-overload]
            texts = data["spills"]
        except (KeyError, TypeError, ValueError):
            raise SpillError("a spill matrix needs n_windows and spills") from None
        if not isinstance(texts, Sequence) or isinstance(texts, str):
            raise SpillError("spills must be a list of S:T=F+-SD strings")
        return cls.parse([str(t) for t in texts], n)
