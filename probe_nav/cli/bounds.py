"""Argument types that refuse implausible numbers where they are typed: one line naming the value
and the allowed range (argparse prints it and exits 2), before anything is opened or stored.

The record model checks the same bounds again (probe_nav.cases.model, probe_nav.qc.store), so a
value that reaches a store by another path is refused too.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

MAX_RATE_CPS = 1e7  # no probe's counter reports more (probe_nav.cases.model.GENEROUS_MAX_RATE_CPS)
MAX_SEED = 2**63 - 1
MAX_ENERGY_KEV = 10_000.0  # above every gamma line a surgical probe sees


def _range_text(lo: float, hi: float, unit: str, lo_open: bool) -> str:
    low = f"above {lo:g}" if lo_open else f"{lo:g}"
    return f"{low} to {hi:g}{' ' + unit if unit else ''}"


def bounded_float(lo: float, hi: float, unit: str = "", *,
                  lo_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in [lo, hi] (or (lo, hi] with lo_open)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not (math.isfinite(value) and lo <= value <= hi and not (lo_open and value == lo)):
            raise argparse.ArgumentTypeError(
                f"{text} is outside the allowed range {_range_text(lo, hi, unit, lo_open)}")
        return value

    parse.__name__ = "number"
    return parse


def bounded_int(lo: int, hi: int, what: str = "") -> Callable[[str], int]:
    """An argparse type: a whole number in [lo, hi] (digits only: no 1e30, no 2.0)."""
    def parse(text: str) -> int:
        digits = text.strip()
        if not digits.lstrip("+-").isdigit() or len(digits) > 40:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number")
        value = int(digits)
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(
                f"{text} is outside the allowed range {lo} to {hi}{' ' + what if what else ''}")
        return value

    parse.__name__ = "whole number"
    return parse


def finite_float(text: str) -> float:
    """An argparse type: any finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text} is not a finite number")
    return value


rate_cps = bounded_float(0.0, MAX_RATE_CPS, "cps")
seed = bounded_int(0, MAX_SEED)
energy_kev = bounded_float(0.0, MAX_ENERGY_KEV, "keV", lo_open=True)
