"""The background options of `monitor` and `replay`, one rule for both: a hot decision needs a
background the user set, either as a number (--background-cps) or by saying that the first S
seconds of the stream are background (--background-s). Without either the output carries
`background_cps: null` and `hot: null`: no background is ever guessed from whatever the probe saw
first (it may have been a node).
"""

from __future__ import annotations

import argparse
from typing import Any

from probe_nav.cli.bounds import MAX_RATE_CPS, bounded_float

MAX_BACKGROUND_S = 3600.0  # an hour of counting: longer is a typo, not a background


def add_background_arguments(p: argparse.ArgumentParser) -> None:
    """--background-cps / --background-s (exclusive) and --background-sd-cps."""
    how = p.add_mutually_exclusive_group()
    how.add_argument("--background-cps", type=bounded_float(0.0, MAX_RATE_CPS, "cps"),
                     default=None, metavar="B",
                     help="the background rate in cps (measured before, e.g. over normal tissue)")
    how.add_argument("--background-s", type=bounded_float(0.0, MAX_BACKGROUND_S, "s",
                                                          lo_open=True),
                     default=None, metavar="S",
                     help="the first S seconds of live time ARE background (you say so: the "
                          "probe starts over normal tissue)")
    p.add_argument("--background-sd-cps", type=bounded_float(0.0, MAX_RATE_CPS, "cps"),
                   default=0.0, metavar="SD", help="sd of --background-cps (default 0)")


def background_config(args: argparse.Namespace) -> dict[str, Any]:
    """PipelineConfig keywords from the parsed options (checked by the command: an sd needs
    --background-cps)."""
    return {"background_cps": args.background_cps, "background_sd_cps": args.background_sd_cps,
            "background_s": args.background_s}
