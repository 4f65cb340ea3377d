"""Dead-time models of pulse counters: observed rate m from true rate n and back.

Non-paralysable (fixed dead time after each recorded pulse): m = n / (1 + n tau),
n = m / (1 - m tau), m < 1/tau for every n. Paralysable (every pulse, recorded or not, extends
the dead time): m = n exp(-n tau), which rises to its maximum 1/(e tau) at n = 1/tau and FALLS
beyond it, so every observed m < 1/(e tau) has two true rates; the inversion takes the lower one
(Lambert W principal branch) unless asked for the upper one (branch -1). See DOMAIN.md, "Probe
performance figures". All functions accept scalars or numpy arrays and return the same shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import lambertw

CounterKind = Literal["nonparalysable", "paralysable"]


def _check_tau(tau_s: float) -> None:
    if not (tau_s > 0.0 and np.isfinite(tau_s)):
        raise ValueError(f"dead time must be a positive finite number of seconds, got {tau_s!r}")


def _out(value: np.ndarray) -> np.ndarray | float:
    return float(value) if value.ndim == 0 else value


def nonparalysable_observed_cps(true_cps: ArrayLike, tau_s: float) -> np.ndarray | float:
    """Observed rate m = n / (1 + n tau) of a non-paralysable counter."""
    _check_tau(tau_s)
    n = np.asarray(true_cps, dtype=float)
    return _out(n / (1.0 + n * tau_s))


def nonparalysable_true_cps(observed_cps: ArrayLike, tau_s: float) -> np.ndarray | float:
    """True rate n = m / (1 - m tau); inf where m >= 1/tau (no true rate gives it: over range)."""
    _check_tau(tau_s)
    m = np.asarray(observed_cps, dtype=float)
    lost = 1.0 - m * tau_s
    with np.errstate(divide="ignore", invalid="ignore"):
        n = np.where(lost > 0.0, m / np.where(lost > 0.0, lost, 1.0), np.inf)
    return _out(n)


def paralysable_observed_cps(true_cps: ArrayLike, tau_s: float) -> np.ndarray | float:
    """Observed rate m = n exp(-n tau) of a paralysable counter."""
    _check_tau(tau_s)
    n = np.asarray(true_cps, dtype=float)
    return _out(n * np.exp(-n * tau_s))


def paralysable_true_cps(
    observed_cps: ArrayLike, tau_s: float, branch: Literal["low", "high"] = "low"
) -> np.ndarray | float:
    """True rate n with n exp(-n tau) = m: n = -W(-m tau) / tau.

    branch "low" (Lambert W principal branch, n tau <= 1) is the physically usual reading;
    "high" (branch -1, n tau >= 1) is the paralysed reading. inf where m > 1/(e tau).
    """
    _check_tau(tau_s)
    m = np.asarray(observed_cps, dtype=float)
    x = -m * tau_s
    if branch not in ("low", "high"):
        raise ValueError(f"branch must be 'low' or 'high', got {branch!r}")
    ok = x >= -1.0 / np.e
    k = 0 if branch == "low" else -1
    # At x = -1/e exactly both branches meet at W = -1; rounding can put x a hair below.
    w = lambertw(np.where(ok, x, -1.0 / np.e), k=k).real
    n = np.where(ok, -w / tau_s, np.inf)
    if branch == "high":
        n = np.where(m > 0.0, n, np.inf)  # m = 0 on the paralysed branch means n -> infinity
    return _out(n)


def paralysable_max_observed_cps(tau_s: float) -> float:
    """Highest rate a paralysable counter can show: 1/(e tau), reached at n = 1/tau."""
    _check_tau(tau_s)
    return 1.0 / (np.e * tau_s)


def nonparalysable_max_observed_cps(tau_s: float) -> float:
    """Limit a non-paralysable counter approaches but never reaches: 1/tau."""
    _check_tau(tau_s)
    return 1.0 / tau_s


@dataclass(frozen=True, slots=True)
class DeadTimeModel:
    """A counter's dead-time behaviour: kind and dead time tau_s."""

    kind: CounterKind
    tau_s: float

    def __post_init__(self) -> None:
        if self.kind not in ("nonparalysable", "paralysable"):
            raise ValueError(f"unknown counter kind {self.kind!r}")
        _check_tau(self.tau_s)

    @property
    def max_observed_cps(self) -> float:
        """1/tau (non-paralysable limit) or 1/(e tau) (paralysable maximum)."""
        if self.kind == "paralysable":
            return paralysable_max_observed_cps(self.tau_s)
        return nonparalysable_max_observed_cps(self.tau_s)

    def observed_cps(self, true_cps: ArrayLike) -> np.ndarray | float:
        """Observed rate for a true rate."""
        if self.kind == "paralysable":
            return paralysable_observed_cps(true_cps, self.tau_s)
        return nonparalysable_observed_cps(true_cps, self.tau_s)

    def true_cps(self, observed_cps: ArrayLike) -> np.ndarray | float:
        """True rate for an observed rate (lower branch for a paralysable counter)."""
        if self.kind == "paralysable":
            return paralysable_true_cps(observed_cps, self.tau_s)
        return nonparalysable_true_cps(observed_cps, self.tau_s)
