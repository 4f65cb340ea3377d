"""`--dual PAIR` and `--spill S:T=F[+-SD]` of `demo` and `gui`: dual-isotope counting in the
console (probe_nav.live.dual), with the crosstalk between the pair's windows (0 = the pair's
first isotope, 1 = its second, e.g. `--dual "I-125 + Tc-99m" --spill 1:0=0.095+-0.004`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from probe_nav.calibration.crosstalk import ISOTOPE_PAIRS as PRESETS
from probe_nav.calibration.crosstalk import SpillError, SpillMatrix
from probe_nav.errors import UserError

if TYPE_CHECKING:
    from probe_nav.live.dual import Dual


def add_dual_arguments(p: argparse.ArgumentParser) -> None:
    """--dual and --spill."""
    p.add_argument("--dual", metavar="PAIR", help="dual-isotope counting: "
                   + " or ".join(f"'{name}'" for name in PRESETS)
                   + " (the pair's first isotope is window 0, the second window 1)")
    p.add_argument("--spill", action="append", default=[], metavar="S:T=F[+-SD]",
                   help="with --dual: fraction F of window S's counts seen in window T, "
                        "e.g. 1:0=0.095 (from `probe-nav calibrate crosstalk`)")


def dual_from_args(args: argparse.Namespace) -> Dual | None:
    """(pair, spill or None) from the options; UserError (one line) for a bad one."""
    if args.dual is None:
        if args.spill:
            raise UserError("--spill needs --dual (the pair of isotopes it is between)")
        return None
    pair = " ".join(args.dual.split())
    match = {name.replace(" ", "").lower(): name for name in PRESETS}
    name = match.get(pair.replace(" ", "").lower())
    if name is None:
        raise UserError(f"--dual {args.dual!r}: known pairs are {', '.join(PRESETS)}")
    if not args.spill:
        return name, None
    try:
        return name, SpillMatrix.parse(args.spill, 2)
    except SpillError as exc:
        raise UserError(f"--spill: {exc}") from None
