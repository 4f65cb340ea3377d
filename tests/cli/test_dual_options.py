"""`demo`/`gui --dual PAIR --spill ...`: bad options are one line and exit 2, before any window."""

from __future__ import annotations

import pytest

from tests.in_process import run_main


@pytest.mark.parametrize(("args", "message"), [
    (("demo", "--dual", "Tc-99m + Lu-177", "--terminal"), "known pairs are"),
    (("demo", "--spill", "1:0=0.1", "--terminal"), "--spill needs --dual"),
    (("demo", "--dual", "I-125 + Tc-99m", "--spill", "1:0=x", "--terminal"), "--spill"),
    (("demo", "--dual", "I-125 + Tc-99m", "--spill", "2:0=0.1", "--terminal"), "only 2 windows"),
    (("gui", "--device", "/dev/null", "--dual", "nope"), "known pairs are"),
])
def test_bad_dual_options(args: tuple[str, ...], message: str) -> None:
    out = run_main(*args)
    assert out.returncode == 2, out.stderr
    assert message in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_the_pair_is_matched_loosely() -> None:
    """Spaces and case do not matter: 'i-125+tc-99m' is the I-125 + Tc-99m pair."""
    import argparse

    from probe_nav.cli.dual_args import dual_from_args

    pair, spill = dual_from_args(argparse.Namespace(dual="i-125+tc-99m", spill=["1:0=0.095"]))
    assert pair == "I-125 + Tc-99m" and spill is not None and spill.texts() == ["1:0=0.095"]
