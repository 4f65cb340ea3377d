"""The plausibility gate (drivers/plausibility.py), alone and in every driver: what it rejects,
the bound it derives, how it takes a new time base, and the defects of issue 14 it closes."""

from __future__ import annotations

import logging
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from probe_nav.core.rate import as_frames
from probe_nav.drivers.frames import CounterSpec, CountFrame, DeviceInfo, FaultFlag
from probe_nav.drivers.gmc.codec import Rfc1801
from probe_nav.drivers.plausibility import (
    CLOCK_ALLOWANCE,
    JUMP_MIN_S,
    MAX_KEPT_JUMP_S,
    MAX_T_S,
    REBASE_AFTER,
    FrameBounds,
    PlausibilityGate,
    frame_bounds,
    value_problem,
)
from probe_nav.simulator.faults import FaultPlan
from tests.drivers.fuzz_targets import (
    AsciiTarget,
    AsciiUntimedTarget,
    OgdTarget,
    ProbeLinkTarget,
    gmc_target,
)
from tests.drivers.fuzzing import make_emulator

BOUNDS = FrameBounds(frame_period_s=1.0, max_rate_cps=1e4, source="test")
HOST_S = 500.0


def frame(t_s: float = 1.0, counts: tuple = (10,), real_s: float = 1.0, live_s: float | None = None,
          spectrum: tuple | None = None, flags: FaultFlag = FaultFlag.NONE) -> CountFrame:
    return CountFrame(seq=0, t_s=t_s, real_s=real_s, live_s=real_s if live_s is None else live_s,
                      counts=counts, spectrum=spectrum, flags=flags)


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(("bad", "needle"), [
    (frame(counts=(-1,)), "negative"),
    (frame(counts=(2.5,)), "not an integer"),
    (frame(counts=(True,)), "not an integer"),
    (frame(counts=(10**25,)), "counts, above"),
    (frame(counts=()), "no window counts"),
    (frame(counts=(5, 20_000)), "window 1 = 20000 counts, above the"),
    (frame(spectrum=(7_000, 7_000)), "spectrum total 14000"),
    (frame(spectrum=(1, -1)), "channel 1 is negative"),
    (frame(real_s=0.0), "real_s"),
    (frame(real_s=-1.0), "real_s"),
    (frame(real_s=math.nan), "real_s"),
    (frame(real_s=101.0), "real_s"),
    (frame(live_s=1.001), "live_s"),
    (frame(live_s=-0.1), "live_s"),
    (frame(live_s=math.inf), "live_s"),
    (frame(t_s=math.nan), "t_s"),
    (frame(t_s=-1.0), "t_s"),
    (frame(t_s=MAX_T_S * 2), "t_s"),
])
def test_impossible_values_are_rejected_with_a_reason(bad, needle) -> None:
    problem = value_problem(bad, BOUNDS)
    assert problem is not None and needle in problem
    verdict = PlausibilityGate().admit(bad, BOUNDS, HOST_S)
    assert verdict.frame is None and verdict.reason == problem


def test_plausible_values_pass() -> None:
    m = 1e4 * 1.0  # counts at the very maximum rate pass, as do live time a hair above real
    for ok in (frame(counts=(int(m),)), frame(counts=(0, 0)), frame(live_s=1.0 + 1e-7),
               frame(spectrum=(5_000, 5_000)), frame(real_s=100.0, counts=(int(100 * m),))):
        assert value_problem(ok, BOUNDS) is None, ok


@pytest.mark.parametrize("m", np.logspace(-2, 9, 45).tolist())
def test_count_bound_is_above_the_poisson_quantile_at_the_maximum_rate(m: float) -> None:
    # A counter counting at exactly its maximum mean rate, on an interval CLOCK_ALLOWANCE longer
    # than it says, has Poisson(m x (1 + allowance)) counts or fewer (dead time makes counts
    # sub-Poisson): the bound must exceed that distribution's 1 - 1e-9 quantile, so that a real
    # frame is falsely rejected less than once in 10^9.
    bound = FrameBounds(1.0, max_rate_cps=m).max_count(1.0)
    assert stats.poisson.sf(bound, m * (1 + CLOCK_ALLOWANCE)) < 1e-9
    # ... and stays within a few percent of the maximum where counts are large (not a no-op).
    assert bound <= 1.1 * m * (1 + CLOCK_ALLOWANCE) + 6 * math.sqrt(m) + 14


def test_bound_comes_from_the_device_then_the_driver_then_the_protocol() -> None:
    device = DeviceInfo("x", counter=CounterSpec(max_rate_cps=100.0, source="device"))
    unknown = DeviceInfo("x", frame_period_s=0.05)
    driver = CounterSpec(max_rate_cps=1000.0, source="table")
    assert frame_bounds(device, driver, 1e7, 2**32, 1.0).max_rate_cps == 100.0
    got = frame_bounds(unknown, driver, 1e7, 2**32, 1.0)
    assert (got.max_rate_cps, got.frame_period_s) == (1000.0, 0.05)
    assert frame_bounds(unknown, CounterSpec(), 1e7, 2**32, 1.0).max_rate_cps == 1e7
    width = frame_bounds(None, CounterSpec(), None, 0x3FFF, 1.0)
    assert width.max_rate_cps is None and width.max_count(1.0) == 0x3FFF


# ---------------------------------------------------------------- time


def feed(gate: PlausibilityGate, frames: list[CountFrame], host_step_s: float = 1.0,
         bounds: FrameBounds = BOUNDS) -> list[CountFrame | None]:
    host = HOST_S
    out = []
    for f in frames:
        host += host_step_s
        out.append(gate.admit(f, bounds, host).frame)
    return out


def test_time_in_line_passes_untouched() -> None:
    frames = [frame(t_s=float(t)) for t in range(1, 6)]
    assert feed(PlausibilityGate(), frames) == frames


@pytest.mark.parametrize(("t_s", "real_s", "why"), [
    (3.0, 1.0, "t_s went from"),  # the same time again
    (2.0, 1.0, "t_s went from"),  # back
    (3.5, 1.0, "overlaps"),  # an interval starting before the previous frame ended
    (3.0 + JUMP_MIN_S + 2.5, 1.0, "jumped"),  # ahead by more than the bound (host step 1 s)
])
def test_time_out_of_line_is_rejected(t_s, real_s, why) -> None:
    gate = PlausibilityGate()
    feed(gate, [frame(t_s=2.0), frame(t_s=3.0)])
    verdict = gate.admit(frame(t_s=t_s, real_s=real_s), BOUNDS, HOST_S + 3.0)
    assert verdict.frame is None and why in verdict.reason


def test_a_stall_of_the_host_allows_a_matching_jump() -> None:
    gate = PlausibilityGate()
    feed(gate, [frame(t_s=2.0)])
    # 100 s of device time after 100 s of host time: frames lost on the way, not a jump
    assert gate.admit(frame(t_s=102.0), BOUNDS, HOST_S + 101.0).frame is not None


def test_an_unflagged_restart_is_taken_after_consistent_frames_and_flagged() -> None:
    gate = PlausibilityGate()
    before = feed(gate, [frame(t_s=1000.0), frame(t_s=1001.0)])
    restarted = feed(gate, [frame(t_s=float(t)) for t in range(1, REBASE_AFTER + 2)])
    assert restarted[: REBASE_AFTER - 1] == [None] * (REBASE_AFTER - 1)
    taken, after = restarted[REBASE_AFTER - 1], restarted[REBASE_AFTER]
    assert taken is not None and taken.flags & FaultFlag.CLOCK_RESET
    assert taken.t_s == pytest.approx(before[-1].t_s + 1.0)  # t_s goes on from the last frame
    assert after.t_s == pytest.approx(taken.t_s + 1.0) and not after.flags


def test_inconsistent_out_of_line_frames_never_make_a_time_base() -> None:
    gate = PlausibilityGate()
    feed(gate, [frame(t_s=1000.0)])
    rng = np.random.default_rng(4)
    garbage = [frame(t_s=float(t)) for t in rng.uniform(0, 1e9, 200)]
    assert all(f is None or f.t_s > 1000.0 for f in feed(gate, garbage))
    # the real clock goes on: 201 s of device time in the 201 s of host time since t_s 1000
    assert gate.admit(frame(t_s=1201.0), BOUNDS, HOST_S + 202.0).frame is not None


def test_a_flagged_jump_is_kept_up_to_a_day_and_re_based_beyond() -> None:
    gate = PlausibilityGate()
    feed(gate, [frame(t_s=30.0)])
    hour = gate.admit(frame(t_s=3631.0, flags=FaultFlag.CLOCK_RESET), BOUNDS, HOST_S + 2).frame
    assert hour.t_s == 3631.0 and hour.flags & FaultFlag.CLOCK_RESET  # the device's own clock
    # sim serve --faults clockjump@30:1000000000: t_s would span 1e9 s (replay: 74 GiB of ticks)
    huge = 3632.0 + 1e9
    jumped = gate.admit(frame(t_s=huge, flags=FaultFlag.CLOCK_RESET), BOUNDS, HOST_S + 3).frame
    assert jumped.t_s == pytest.approx(3632.0) and huge - MAX_KEPT_JUMP_S > 3632.0
    assert gate.admit(frame(t_s=huge + 1.0), BOUNDS, HOST_S + 4).frame.t_s == pytest.approx(3633.0)


def test_an_interval_longer_than_the_host_time_since_the_last_frame_is_rejected() -> None:
    gate = PlausibilityGate()
    feed(gate, [frame(t_s=2.0)])  # host HOST_S + 1
    # 1 s of host time later: an interval of 1 + JUMP_MIN_S + 1 s cannot have passed, flagged or not
    for flags in (FaultFlag.NONE, FaultFlag.CLOCK_RESET):
        long_s = 2.0 + JUMP_MIN_S
        verdict = gate.admit(frame(t_s=2.0 + long_s, real_s=long_s, flags=flags), BOUNDS,
                             HOST_S + 2.0)
        assert verdict.frame is None and "longer than" in verdict.reason
    # after a host stall as long, it can
    assert gate.admit(frame(t_s=2.0 + long_s, real_s=long_s), BOUNDS,
                      HOST_S + 1.0 + long_s).frame is not None


def test_a_flagged_frame_that_overlaps_the_previous_one_is_no_new_time_base() -> None:
    # A garbled timestamp went back (6655 -> 6651): the driver flags the next frame CLOCK_RESET
    # and takes its interval from 6651; but its t_s continues the old clock, as no restarted
    # clock would: rejected, and the clock goes on.
    gate = PlausibilityGate()
    feed(gate, [frame(t_s=6654.0)])
    verdict = gate.admit(frame(t_s=6656.0, real_s=5.0, flags=FaultFlag.CLOCK_RESET), BOUNDS,
                         HOST_S + 3.0)
    assert verdict.frame is None and "overlaps" in verdict.reason
    assert gate.admit(frame(t_s=6657.0), BOUNDS, HOST_S + 4.0).frame is not None


@pytest.mark.parametrize("garbled", [b"6635.000", b"6675.000", b"6615.000", b"6695.000",
                                     b"6651.000", b"6675.000"])
def test_a_garbled_ascii_timestamp_gives_no_frame_of_the_wrong_length(garbled: bytes) -> None:
    target = AsciiTarget(seed=8)
    target.feed(b"6653.000,7\r\n")  # the reference
    target.clock.advance(1.0)
    target.feed(b"6654.000,9\r\n")
    target.clock.advance(1.0)
    target.feed(garbled + b",11\r\n")  # 6655 with one bit flipped in its tens digit
    for t in range(6656, 6660):
        target.clock.advance(1.0)
        target.feed(f"{t}.000,{t - 6640}\r\n".encode())
    out = target.frames()
    assert [f.real_s for f in out] == [1.0] * len(out) and len(out) >= 3
    assert out[0].counts == (9,) and out[-1].counts == (19,)


def test_a_new_connection_may_bring_a_new_clock() -> None:
    gate = PlausibilityGate()
    feed(gate, [frame(t_s=5000.0)])
    gate.new_connection()  # the device rebooted while unplugged: its clock starts over
    first = gate.admit(frame(t_s=1.0), BOUNDS, HOST_S + 5).frame
    assert first is not None and first.flags & FaultFlag.CLOCK_RESET and first.t_s == 5001.0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(0, 1e4)),
    st.one_of(st.floats(allow_nan=True), st.floats(0.001, 3.0)),
    st.floats(0.0, 1.2), st.integers(-5, 10**20), st.booleans(), st.floats(0.0, 50.0)),
    max_size=40))
def test_whatever_comes_in_what_goes_out_is_plausible_and_in_order(rows) -> None:
    gate = PlausibilityGate()
    host, last_t = HOST_S, -math.inf
    for t_s, real_s, live_frac, count, reset, host_step in rows:
        host += host_step
        live = live_frac * real_s if math.isfinite(real_s) else real_s
        flags = FaultFlag.CLOCK_RESET if reset else FaultFlag.NONE
        out = gate.admit(frame(t_s=t_s, real_s=real_s, live_s=live, counts=(count,), flags=flags),
                         BOUNDS, host).frame
        if out is None:
            continue
        assert value_problem(out, BOUNDS) is None
        assert out.t_s > last_t
        if last_t > -math.inf:  # never a jump beyond a day, whatever the device's clock does
            assert out.t_s - last_t <= MAX_KEPT_JUMP_S + out.real_s + host_step + JUMP_MIN_S
        last_t = out.t_s


# ---------------------------------------------------------------- the defects, in the drivers


def test_garbage_into_a_gmc500_gives_no_impossible_rate() -> None:
    # Issue 14: 200 garbage bytes into a GMC-500 gave 50 frames and a live, hot 3.6e9 cps.
    target = gmc_target("gmc-500", Rfc1801)(seed=14)
    target.feed(target.rng.randbytes(200))
    out = target.frames()
    limit = target.max_count(frame())
    assert all(f.counts[0] <= limit for f in out)
    # a random 4-byte word is below the M4011's 2e4 cps bound with probability 5e-6
    assert target.device.stats.extra["implausible"] == 50 - len(out) and len(out) <= 1


@pytest.mark.parametrize("line", [b"5.000,1000000000000", b"5.000,999999999999",
                                  b"1000001.000,10000000000000000000000000", b"1e400,5",
                                  b"+inf,5", b"5.0,-3"])
def test_absurd_ascii_lines_never_become_frames(line: bytes) -> None:
    # Issue 14: `5.000,1000000000000` was shown as 1e12 cps; the second line killed the monitor.
    target = AsciiTarget(seed=1)
    target.feed(b"4.000,7\r\n" + line + b"\r\n")
    assert target.frames() == []  # 4.000 only set the reference; the absurd line is rejected
    assert target.device.stats.bad_frames == 1
    target.feed(b"6.000,8\r\n")  # and the counter goes on
    assert [f.counts for f in target.frames()] == [(8,)]
    assert target.device.stats.bad_frames == 1


def test_ogd_credits_one_interval_after_a_rejected_line() -> None:
    # Issue 14: after a rejected line OGD spectrum mode credited two intervals to one second.
    target = OgdTarget(seed=2)
    good = [target.valid() for _ in range(5)]
    target.feed(good[0][0])  # the zero
    target.clock.advance(1.0)
    target.feed(good[1][0])
    assert [f.counts for f in target.frames()] == [good[1][1]]
    corrupted = good[2][0].replace(b";", b";x", 1)  # a line that does not parse: lost
    for data, _ in ((corrupted, None), good[3], good[4]):
        target.clock.advance(1.0)
        target.feed(data)
    out = target.frames()
    assert [f.counts for f in out] == [good[4][1]]  # line 3 only set the new zero
    assert [f.real_s for f in out] == [1.0]


def test_ogd_auto_mode_discards_the_half_line_it_connected_into() -> None:
    # Issue 14: in auto mode the first half-line after connect became a frame of 2,047 counts.
    target = OgdTarget(seed=3)
    line = target.valid()[0]
    target.feed(line[len(line) // 2 :])  # the tail of a spectrum line: ~2048 small values
    assert target.frames() == []
    assert target.device.stats.extra["partial_first_line"] == 1


def test_gmc_stream_time_counts_only_plausible_words() -> None:
    target = gmc_target("gmc-500", Rfc1801)(seed=5)
    target.feed(b"\x00\x00\x00\x07" + b"\xff\xff\xff\xf0" * 3 + b"\x00\x00\x00\x08")
    assert [(f.counts, f.t_s) for f in target.frames()] == [((7,), 1.0), ((8,), 2.0)]


def test_probelink_clock_jump_of_1e9_s_keeps_t_s_continuous() -> None:
    # Issue 14: sim serve --faults clockjump@30:1000000000, record, replay -> 74.5 GiB.
    target = ProbeLinkTarget(seed=6)
    emulator = make_emulator("probelink")
    target.emulator = emulator
    target.device.connection_made()
    target.handshake()
    emulator.faults = FaultPlan.from_spec("clockjump@3:1000000000")
    emulator.streaming = True
    target.feed(emulator.advance(6.0))
    out = target.frames()
    jumped = [f for f in out if f.flags & FaultFlag.CLOCK_RESET]
    assert len(out) > 100 and len(jumped) == 1
    steps = np.diff([f.t_s for f in out])
    assert steps.min() > 0 and steps.max() < 0.2  # 50 ms frames, no 1e9 s gap


def test_untimed_ascii_after_rejects_counts_only_real_lines() -> None:
    target = AsciiUntimedTarget(seed=7)
    target.feed(b"5\r\n999999999999\r\n6\r\n")
    assert [(f.counts, f.t_s) for f in target.frames()] == [((5,), 1.0), ((6,), 2.0)]


# ---------------------------------------------------------------- the core refuses, never crashes


@pytest.mark.parametrize(("counts", "live"), [
    ([10**25], [1.0]), ([2**63], [1.0]), ([1e30], [1.0]), ([2.5], [1.0]), ([-1], [1.0]),
    ([5], [10**400]), ([5], [math.inf]), ([5], [math.nan]),
])
def test_as_frames_refuses_with_a_value_error(counts, live) -> None:
    with pytest.raises(ValueError):
        as_frames(counts, live)


def test_live_session_refuses_an_impossible_frame_and_goes_on(caplog) -> None:
    from probe_nav.drivers.device import FrameEvent
    from probe_nav.drivers.frames import LinkState, LinkStats
    from probe_nav.live import LiveSession

    class Stub:  # a device whose (hypothetical) gate let an absurd frame by
        link_state = LinkState.CONNECTED
        stats = LinkStats()

        def __init__(self) -> None:
            self.events = [FrameEvent(frame(t_s=1.0, counts=(10**25,)), 1.0),
                           FrameEvent(frame(t_s=2.0, counts=(12,)), 2.0)]

        def poll(self, timeout_s: float = 0.0) -> list:
            out, self.events = self.events, []
            return out

        def describe(self) -> str:
            return "stub"

    session = LiveSession(Stub())  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        snap = session.poll()
    assert "frame refused" in snap.notice and "2^63" in snap.notice
    assert [f.counts for _r, f in snap.frames] == [(12,)]
