"""Every fault, end to end: a DeviceServer plays it on a real pty, the ProbeLink driver reads
the stream, and the link state and frame accounting say what happened.

Nothing here waits on the wall clock for an outcome: a session runs until the frames the host
received reach a device time, and the driver judges link state by the device time the server has
played (tests/served.py), held while the host has bytes it has not read yet (HeardClock): a server
thread the OS leaves unscheduled on a loaded machine is a pause of the device, and a reader
thread it leaves unscheduled a pause of the host, never a silence the host would call STALE. The
wall clock only bounds a hang (HANG_S).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from itertools import pairwise

import pytest

from probe_nav.drivers.device import FrameEvent, LinkEvent, StatusEvent
from probe_nav.drivers.frames import CountFrame, DeviceStatus, FaultFlag, LinkState, LinkStats
from probe_nav.simulator.emulators.probelink import ProbeLinkEmulator
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.scenario import load
from probe_nav.simulator.server import DeviceServer
from tests.drivers.lockstep import pending_to_host
from tests.served import served_probelink

HANG_S = 120.0  # wall-clock bound on one session: only a hang gets near it
FRAME_S = 0.05  # sln-static's frame period (20 frames per device second)


@dataclass
class Session:
    """What the host saw while a faulty device played."""

    frames: list[CountFrame] = field(default_factory=list)
    states: list[LinkState] = field(default_factory=list)
    statuses: list[DeviceStatus] = field(default_factory=list)
    stats: LinkStats | None = None
    server: DeviceServer | None = None

    @property
    def emulator(self) -> ProbeLinkEmulator:
        assert self.server is not None
        return self.server.emulator  # type: ignore[return-value]

    def seq_span(self) -> int:
        return self.frames[-1].seq - self.frames[0].seq + 1

    def between(self, t0: float, t1: float) -> list[CountFrame]:
        """Frames whose counting interval's middle lies in [t0, t1) (device clock)."""
        return [f for f in self.frames if t0 <= f.t_s - f.real_s / 2 < t1]


class HeardClock:
    """Host seconds = device time the server has played, held while bytes the device wrote wait
    unread on the pty: the host is judged on what it could have heard. (The stale bound is 0.1 s
    at 50 ms frames; a reader thread scheduled that late is common on a loaded machine.)"""

    def __init__(self, server: DeviceServer) -> None:
        self.server = server
        self._lock = threading.Lock()
        self._held_s = self._played_s()

    def _played_s(self) -> float:
        return self.server.played_t_s / self.server.speed

    def _host_behind(self) -> bool:
        link = self.server.link
        try:  # (an unplugged link's pty is closed: nothing is waiting)
            return isinstance(link, PtyLink) and pending_to_host(link) > 0
        except OSError:
            return False

    def __call__(self) -> float:
        with self._lock:
            if not self._host_behind():
                self._held_s = max(self._held_s, self._played_s())
            return self._held_s


def play(tmp_path, spec: str, until_s: float, speed: float = 10.0,
         scenario: str = "sln-static", seed: int = 1) -> Session:
    """Serve `scenario` with faults `spec` on a pty and watch it until the frame counted up to
    device time `until_s` (by its sequence number, which a clock jump does not move) arrived."""
    last_seq = round(until_s / load(scenario).frame_period_s) - 1  # frame k ends at (k + 1) T
    with served_probelink(scenario, seed, speed, spec, str(tmp_path / "ttyPROBE")) as (device,
                                                                                     server):
        device.clock = HeardClock(server)
        session = Session(server=server)
        deadline = time.monotonic() + HANG_S
        while not (session.frames and session.frames[-1].seq >= last_seq):
            assert time.monotonic() < deadline, f"no frame of {until_s} s: {session.states}"
            for event in device.poll(0.02):
                if isinstance(event, FrameEvent):
                    session.frames.append(event.frame)
                elif isinstance(event, LinkEvent):
                    session.states.append(event.state)
                elif isinstance(event, StatusEvent):
                    session.statuses.append(event.status)
        session.stats = device.stats
    return session


def assert_accounted(s: Session) -> None:
    """Every frame between the first and the last one seen is either received or dropped."""
    assert s.stats is not None
    assert s.stats.frames == len(s.frames)
    assert s.stats.frames + s.stats.dropped_frames == s.seq_span()


def test_unplug_disconnects_then_the_device_returns_at_the_same_url(tmp_path) -> None:
    s = play(tmp_path, "unplug@4+10", until_s=20.0)
    assert s.states[0] is LinkState.CONNECTED
    assert LinkState.DISCONNECTED in s.states
    gone = s.states.index(LinkState.DISCONNECTED)
    assert LinkState.CONNECTED in s.states[gone:]
    assert s.stats.reconnects == 1
    assert_accounted(s)
    # The one gap in the sequence spans the unplug: the last frame before it was counted by 4 s,
    # the first after it once the device was back (after 14 s), and the device kept counting
    # in between (one sequence number per 50 ms). Every frame of the 10 s unplugged is lost, and
    # so are those sent before the host reopened the port (up to its 0.25 s retry, and however
    # long the OS took to run it): the count is exact, not a band.
    i = max(range(1, len(s.frames)), key=lambda j: s.frames[j].seq - s.frames[j - 1].seq)
    before, after = s.frames[i - 1], s.frames[i]
    assert before.t_s <= 4.0 + 1e-9 and after.t_s >= 14.0 + FRAME_S - 1e-9
    assert after.seq - before.seq == round((after.t_s - before.t_s) / FRAME_S)
    assert s.stats.dropped_frames == after.seq - before.seq - 1 >= 10 / FRAME_S
    assert s.stats.bad_frames <= 1  # a frame cut in two by the unplug


def test_stall_goes_stale_is_reopened_while_silent_then_resumes(tmp_path) -> None:
    s = play(tmp_path, "stall@4+10", until_s=18.0)
    assert s.states[:3] == [LinkState.CONNECTED, LinkState.STALE, LinkState.DISCONNECTED]
    assert s.states[-1] is LinkState.CONNECTED
    # Silent past 3 periods (and the stale bound + 0.25 s), the port was closed and reopened,
    # then again at doubling intervals; the same device proved itself and streams again.
    assert s.stats.silent_reopens >= 1 and s.stats.reconnects == s.stats.silent_reopens
    assert s.stats.bad_frames == 0 and s.stats.identity_rejects == 0
    assert_accounted(s)
    gaps = [b.t_s - a.t_s for a, b in pairwise(s.frames)]
    # Frozen from 4 s to 14 s: the last frame before ends at 4.0 s, the next at 14.05 s or later
    # (frames sent while the host was reopening the port are flushed with its input buffer).
    assert max(gaps) >= 10.05 - 1e-6
    assert all(g == pytest.approx(0.05, abs=1e-6) for g in gaps if g < 10.0)
    assert sorted(gaps)[-2] == pytest.approx(0.05, abs=1e-6)


def test_garbage_is_skipped_and_counted(tmp_path) -> None:
    s = play(tmp_path, "garbage@4x300", until_s=8.0)
    assert s.server.garbage_bytes == 300
    assert s.states == [LinkState.CONNECTED]  # the stream never stopped
    assert s.stats.bad_frames >= 1 and s.stats.skipped_bytes >= 250
    assert s.stats.dropped_frames <= 2  # at most the frame the garbage ran into
    assert_accounted(s)


def test_bit_flips_corrupt_frames_only_while_they_last(tmp_path) -> None:
    s = play(tmp_path, "bitflip@4+4:0.003", until_s=12.0)
    # ~37-byte COUNT: P(corrupted) = 1 - (1 - 0.003)^296 = 59 % of the 80 frames (~47, sd 4.4).
    assert s.server.flipped_bits > 30
    assert s.stats.bad_frames >= 20 and s.stats.dropped_frames >= 20
    assert_accounted(s)
    clean = s.between(8.1, 12.0)
    assert len(clean) >= 70 and all(b.seq == a.seq + 1 for a, b in pairwise(clean))
    assert s.states == [LinkState.CONNECTED]


def test_dropped_frames_are_counted_exactly(tmp_path) -> None:
    s = play(tmp_path, "drop@3x5,drop@5+1", until_s=8.0)
    assert s.emulator.frames_dropped == 5 + 20
    assert s.stats.dropped_frames == 25 and s.stats.bad_frames == 0
    assert_accounted(s)
    # The link is judged in host seconds (device time / speed): 20 lost frames leave 0.105 s
    # without a frame, about the stale bound (1.5 periods + jitter), far from a silent reopen.
    assert s.states[0] is LinkState.CONNECTED and s.states[-1] is LinkState.CONNECTED
    assert LinkState.DISCONNECTED not in s.states and s.stats.reconnects == 0


def test_low_battery_shows_in_status_and_frames(tmp_path) -> None:
    s = play(tmp_path, "lowbat@4:6", until_s=8.0)
    before = [st for st in s.statuses if st.t_s < 3.9]
    after = [st for st in s.statuses if st.t_s > 4.1]
    assert before and all(st.battery_pct > 80 and not st.faults & FaultFlag.LOW_BATTERY
                          for st in before)
    assert after and all(st.battery_pct == 6 and st.faults & FaultFlag.LOW_BATTERY
                         for st in after)
    assert all(f.flags & FaultFlag.LOW_BATTERY for f in s.between(4.0, 8.0))
    assert not any(f.flags & FaultFlag.LOW_BATTERY for f in s.between(0.0, 4.0))


@pytest.mark.parametrize(("scenario", "kind"), [("sln-static", "nonparalysable"),
                                                  ("psma-node", "paralysable")])
def test_saturation_is_flagged_over_range(tmp_path, scenario: str, kind: str) -> None:
    s = play(tmp_path, "saturate@4+3:2e7", until_s=9.0, scenario=scenario)
    assert load(scenario).probe.dead_time_kind == kind
    during, outside = s.between(4.0, 7.0), s.between(0.0, 4.0) + s.between(7.0, 9.0)
    assert during and all(f.flags & FaultFlag.OVER_RANGE for f in during)
    assert outside and not any(f.flags & FaultFlag.OVER_RANGE for f in outside)
    assert all(f.live_s < 0.05 * f.real_s for f in during)
    if kind == "paralysable":  # n tau = 100: the reading collapses, only the flag tells
        assert all(f.counts[0] == 0 for f in during)
    assert_accounted(s)


def test_hv_fault_flags_and_starves_the_window(tmp_path) -> None:
    s = play(tmp_path, "hv@4+3:0.6", until_s=9.0)
    during, before = s.between(4.0, 7.0), s.between(0.5, 4.0)
    assert during and all(f.flags & FaultFlag.HV_FAULT for f in during)
    assert not any(f.flags & FaultFlag.HV_FAULT for f in before)
    rate = lambda frames: sum(f.counts[0] for f in frames) / sum(f.live_s for f in frames)  # noqa: E731
    assert rate(during) < 0.2 * rate(before)
    bad = [st for st in s.statuses if st.faults & FaultFlag.HV_FAULT]
    assert bad and all(st.high_voltage_v == pytest.approx(300.0) for st in bad)


def test_clock_jump_is_flagged_once_and_frames_go_on(tmp_path) -> None:
    s = play(tmp_path, "clockjump@4:+3600", until_s=7.0)
    jumped = [i for i, f in enumerate(s.frames) if f.flags & FaultFlag.CLOCK_RESET]
    assert len(jumped) == 1
    i = jumped[0]
    assert s.frames[i].t_s - s.frames[i - 1].t_s == pytest.approx(3600.05, abs=1e-6)
    assert s.frames[i].seq == s.frames[i - 1].seq + 1
    assert s.stats.dropped_frames == 0 and s.stats.bad_frames == 0
    assert_accounted(s)


def test_faults_injected_from_the_api_while_serving() -> None:
    frames: list[CountFrame] = []
    deadline = time.monotonic() + HANG_S
    with served_probelink("sln-static", seed=3, speed=10.0) as (device, server):

        def watch_until(done) -> None:
            while not (frames and done()):
                assert time.monotonic() < deadline, f"{len(frames)} frames"
                frames.extend(e.frame for e in device.poll(0.02) if isinstance(e, FrameEvent))

        watch_until(lambda: len(frames) >= 20)
        fault = server.inject("drop", count=4)
        # The 4 frames counted next after the fault's start are swallowed; 10 frames later the
        # host has seen the gap whatever the scheduling.
        watch_until(lambda: frames[-1].t_s >= fault.start_s + 10 * FRAME_S)
        assert device.stats.dropped_frames == 4
        assert server.emulator.frames_dropped == 4  # type: ignore[attr-defined]
