"""Fault SPEC strings: the documented grammar, its defaults, and one clear error per mistake."""

from __future__ import annotations

import math

import pytest

from probe_nav.simulator.faults import FaultPlan, FaultSpecError, make_fault, parse_faults

EXAMPLE = ("unplug@10+3,garbage@5x200,stall@20+2,bitflip@4-8:0.1,drop@12+1,saturate@30+5,"
           "hv@40+2,lowbat@50,clockjump@60:+3600")


def test_the_documented_example_parses() -> None:
    f = {fault.kind: fault for fault in parse_faults(EXAMPLE)}
    assert (f["unplug"].start_s, f["unplug"].end_s) == (10.0, 13.0)
    assert (f["garbage"].start_s, f["garbage"].count) == (5.0, 200)
    assert (f["stall"].start_s, f["stall"].end_s) == (20.0, 22.0)
    assert (f["bitflip"].start_s, f["bitflip"].end_s, f["bitflip"].param) == (4.0, 8.0, 0.1)
    assert (f["drop"].start_s, f["drop"].end_s) == (12.0, 13.0)
    assert (f["saturate"].end_s, f["saturate"].param) == (35.0, 1e8)
    assert (f["hv"].end_s, f["hv"].param) == (42.0, 0.7)
    assert f["lowbat"].end_s == math.inf and f["lowbat"].param == 5.0
    assert (f["clockjump"].start_s, f["clockjump"].param) == (60.0, 3600.0)


def test_defaults() -> None:
    (unplug, stall, garbage, drop, bitflip) = parse_faults(
        "unplug@1,stall@2,garbage@3,drop@4,bitflip@5")
    assert unplug.end_s == 4.0 and stall.end_s == 4.0
    assert garbage.count == 64 and garbage.end_s == garbage.start_s
    assert drop.count == 1 and drop.end_s == drop.start_s
    assert bitflip.end_s == 10.0 and bitflip.param == 1e-3
    assert parse_faults("drop@4x7")[0].count == 7
    assert parse_faults("clockjump@3:-2.5")[0].param == -2.5


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("", "empty item"),
        ("unplug@10,,stall@1", "empty item"),
        ("unplg@10", "unknown fault 'unplg'"),
        ("unplug", "expected KIND@START"),
        ("unplug@soon", "expected KIND@START"),
        ("garbage@5+2", "takes no duration"),
        ("stall@5x3", "takes no xCOUNT"),
        ("clockjump@60", "needs :PARAM"),
        ("bitflip@8-4", "END must be after START"),
        ("hv@1+2:abc", "not a number"),
        ("lowbat@1:150", "outside"),
        ("bitflip@1+2:0", "outside"),
        ("drop@1+1x2", "not both"),
        ("unplug@1+0", "duration must be > 0"),
        ("stall@1:3", "takes no :PARAM"),
    ],
)
def test_malformed_specs_say_what_is_wrong(spec: str, problem: str) -> None:
    with pytest.raises(FaultSpecError) as info:
        parse_faults(spec)
    assert problem in str(info.value) and "\n" not in str(info.value)


def test_plan_queries_by_device_time() -> None:
    plan = FaultPlan.from_spec("hv@2+1:0.5,saturate@3+1:2e6,clockjump@4:10,clockjump@6:-3")
    assert plan.gain_at(1.9) == 1.0 and plan.gain_at(2.5) == 0.5 and plan.gain_at(3.0) == 1.0
    assert plan.extra_rate_cps(3.5) == 2e6 and plan.extra_rate_cps(4.0) == 0.0
    assert [plan.clock_offset_s(t) for t in (3.9, 4.0, 5.0, 6.0)] == [0.0, 10.0, 10.0, 7.0]
    assert [f.param for f in plan.started_in("clockjump", 3.95, 4.0)] == [10.0]
    assert plan.started_in("clockjump", 4.0, 4.05) == []
    plan.add(make_fault("stall", 7.0, 1.0))
    assert plan.active("stall", 7.5) is not None and plan.active("stall", 8.0) is None
