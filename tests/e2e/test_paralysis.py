"""Issue 14 acceptance: a paralysable counter stepped or ramped past its peak never shows a
valid-looking (low) rate, via `replay` and via each emulator over a pty, and the monitor's
output carries no number while over range.

"Past its peak" is judged per frame from the truth: the counter's load n tau exceeded 1 during
the WHOLE frame (a frame that crosses the peak mixes both branches; the next one is the first
wholly beyond it). Such a frame (or tick showing it) must be over range with every rate null.

What counts alone cannot tell (core/overrange.py): a counter without measured live time or a
device flag that jumps past its peak faster than `max_change_per_s` (a true step) reads like a
plausible smaller rise; the replay cases below therefore step only where the live time is
measured and ramp at no more than the default 25/s (two decades in 0.2 s) where it is not.
The emulators are served in this process on a real pty with the host driver on the device's
clock (tests/served.py), so a pause of a loaded machine is a pause of the device; seeds are fixed.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, replace

import numpy as np
import pytest

from probe_nav.core.overrange import MAX_CHANGE_PER_S as G_PER_S  # fastest ramp (25/s)
from probe_nav.drivers.counters import user_counter
from probe_nav.drivers.registry import open_device
from probe_nav.live import LiveSession
from probe_nav.monitor import format_line, monitor_update
from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.faults import FaultPlan
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.registry import emulator_class
from probe_nav.simulator.scenario import load
from probe_nav.simulator.server import DeviceServer
from tests.conftest import run_cli
from tests.in_process import run_main
from tests.served import HANG_S, WRITE_WAIT_S, served_clock

TAU_S = 5e-6  # psma-node's probe: paralysable, 5 us
FRAME_S = 0.1
RECORDING_S = 40.0  # the longest ramp (20 s from 10 s) is then held for 10 s
RATE_FIELDS = ("rate_cps", "rate_sd_cps", "net_cps", "net_sd_cps", "z")


# ------------------------------------------------------------------ replay


def load_path(duration_s: float, target: float, t0_s: float = 10.0,
              n0: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
    """Sub-sample times and n tau of an exponential ramp from n0 to `target` over duration_s
    starting at t0_s (a step for 0), held to the end of the recording."""
    sub = 200  # samples per frame: the counting interval is integrated, not point-sampled
    t = (np.arange(round(RECORDING_S / FRAME_S) * sub) + 0.5) * (FRAME_S / sub)
    x = (t >= t0_s).astype(float) if duration_s == 0 else np.clip((t - t0_s) / duration_s, 0, 1)
    return t, n0 * np.exp(np.log(target / n0) * x)


def write_paralysed(path, duration_s: float, target: float, measured: bool,
                    seed: int) -> np.ndarray:
    """A frame CSV of a paralysable counter (tau 5 us) on that path; live_s is the counter's
    live time (mean exp(-n tau)) or, not measured, real time. Returns per frame whether the
    counter was past its peak for the whole frame."""
    # a ramp at <= G_PER_S: it starts no lower than target x exp(-G D)
    n0 = 1e-3 if duration_s == 0 else max(1e-3, target * math.exp(-G_PER_S * duration_s))
    _, load = load_path(duration_s, target, t0_s=10.05, n0=n0)  # mid-frame: mixed frames too
    load = load.reshape(-1, 200)
    mean_cps = (load / TAU_S * np.exp(-load)).mean(axis=1)
    live = np.exp(-load).mean(axis=1) * FRAME_S if measured else np.full(load.shape[0], FRAME_S)
    counts = np.random.default_rng(seed).poisson(mean_cps * FRAME_S)
    t_end = np.round((np.arange(load.shape[0]) + 1) * FRAME_S, 6)
    lines = ["t_s,live_s,counts,real_s"] + [
        f"{a!r},{v!r},{c},{FRAME_S!r}" for a, v, c in zip(t_end.tolist(), live.tolist(),
                                                         counts.tolist(), strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return load.min(axis=1) > 1.0


def replay_ticks(path, measured: bool) -> list[dict]:
    result = run_main("replay", str(path), "--json", "--dead-time-us", "5", "--counter",
                      "paralysable", "--background-cps", "200", "--background-sd-cps", "5",
                      "--live-time", "measured" if measured else "none")
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def assert_no_number_past_the_peak(ticks: list[dict], past: np.ndarray) -> int:
    """Every tick showing a frame that was wholly past the peak is over range with null rates;
    returns how many such ticks there were."""
    n_past = 0
    for tick in ticks:
        k = round(tick["t_s"] / FRAME_S) - 1  # the frame the tick shows (t_s <= tick)
        if k >= 0 and past[k]:
            n_past += 1
            assert tick["over_range"], tick
            assert all(tick[name] is None for name in RATE_FIELDS), tick
            assert not tick["hot"]
        if tick["over_range"]:
            assert all(tick[name] is None for name in RATE_FIELDS), tick
    return n_past


CASES = [(d, target, measured) for d in (0.2, 2.0, 20.0) for target in (2.0, 5.0, 10.0)
         for measured in (False, True)]
CASES += [(0.0, target, True) for target in (2.0, 5.0, 10.0, 100.0)] + [(0.0, 2.0, False)]


@pytest.mark.parametrize(("duration_s", "target", "measured"), CASES)
def test_replay_of_a_counter_driven_past_its_peak_shows_no_number(
        tmp_path, duration_s: float, target: float, measured: bool) -> None:
    path = tmp_path / "paralysed.csv"
    past = write_paralysed(path, duration_s, target, measured, seed=round(10 * target))
    ticks = replay_ticks(path, measured)
    assert len(ticks) == past.size  # one tick per 0.1 s frame
    n_past = assert_no_number_past_the_peak(ticks, past)
    assert n_past >= 80  # at least the last 10 s of the recording were past the peak
    # before the ramp (load <= 0.07, z <= 0.18) the number is shown
    assert not any(tick["over_range"] for tick in ticks if tick["t_s"] < 9.0)


# ------------------------------------------------------------------ emulators over a pty


class RampPlan(FaultPlan):
    """A saturation that ramps: an extra true rate rising exponentially from `low_cps` at t0_s
    to `top_cps` at t0_s + ramp_s, then held (ramp_s 0: a step, as `saturate@` plays it).
    t0_s is set once the host reads frames (identifying a GMC takes device seconds)."""

    def __init__(self, ramp_s: float, low_cps: float, top_cps: float) -> None:
        super().__init__()
        self.t0_s = math.inf
        self.ramp_s, self.low_cps, self.top_cps = ramp_s, low_cps, top_cps

    def extra_rate_cps(self, t_s: float) -> float:
        if t_s < self.t0_s:
            return 0.0
        x = 1.0 if self.ramp_s == 0 else min((t_s - self.t0_s) / self.ramp_s, 1.0)
        return float(self.low_cps * (self.top_cps / self.low_cps) ** x)


@dataclass(frozen=True)
class Rig:
    """How a protocol is driven past its peak: the simulated counter's dead time, the ramp's
    ends (n tau = rate x tau), and whether the user states the counter (the device's own
    description, DeviceInfo.counter, is used otherwise)."""

    tau_s: float
    low_cps: float
    top_cps: float
    stated: bool
    speed: float = 20.0  # device seconds per host second


# The 1 s emulators count each second at the rate of its middle (simulator/engine.py), so their
# ramps start at n tau ~ 0.2 and end at ~4-5: the 2 s ramp then has a second near the peak
# (n tau 0.4 -> 1.6 -> 4), as a real counter's second would. GM emulators simulate a GM tube
# (190 us, the model table's M4011/SBM-20 figure) so the drivers' own counter entry is tested.
GM = Rig(190e-6, 1e3, 2e4, stated=False)
RIGS = {
    # v2 INFO states the probe's counter; 10 frames a second at 4x: 40 a second to read
    "probelink": Rig(TAU_S, 1.0, 1e7, stated=False, speed=4.0),
    "gmc-320": GM, "gmc-500": GM, "mightyohm": GM,
    # an ASCII counter's is unknown: the user's; 10 lines a second at 5x
    "ascii": Rig(TAU_S, 1e4, 1e6, stated=True, speed=5.0),
    # the OGD's counter is non-paralysable; this one is not. Its 4 KB spectrum lines at 20x
    # would outrun a loaded host: 2x
    "ogd": Rig(TAU_S, 1e4, 1e6, stated=True, speed=2.0),
}
LEAD_S = 3.0  # device seconds of frames before the ramp
HOLD_S = 12.0  # ... and after it


def play_paralysis(protocol: str, plan: RampPlan, seed: int = 4, lead_s: float = LEAD_S):
    """Serve psma-node (its counter paralysable, dead time as the rig says) with `plan` through
    `protocol`'s emulator on a pty, and read it with a LiveSession from LEAD_S before the ramp
    to HOLD_S after it. Returns the emulator and the (reading, frame, monitor update) of every
    frame."""
    rig = RIGS[protocol]
    scenario = load("psma-node")
    assert scenario.probe.dead_time_kind == "paralysable"
    scenario = replace(scenario, probe=replace(scenario.probe, dead_time_s=rig.tau_s))
    emulator: Emulator = emulator_class(protocol)(Simulation(scenario, seed))
    server = DeviceServer(emulator, PtyLink(write_wait_s=WRITE_WAIT_S), speed=rig.speed,
                          faults=plan, seed=seed)
    device = open_device(server.url, protocol)
    device.clock = served_clock(server)
    counter = user_counter("paralysable", rig.tau_s * 1e6) if rig.stated else None
    shown: list[tuple] = []
    try:
        device.open()
        server.start()
        session = LiveSession(device, counter=counter)
        deadline = time.monotonic() + 4 * HANG_S
        while server.played_t_s < plan.t0_s + plan.ramp_s + HOLD_S:
            assert time.monotonic() < deadline, "the session never reached the end"
            snap = session.poll()
            update = monitor_update(snap, 0.0)
            for reading, frame in snap.frames:
                shown.append((reading, frame, update))
            if shown and plan.t0_s == math.inf:
                plan.t0_s = server.played_t_s + lead_s
            time.sleep(0.01)
        stats = device.stats
    finally:
        server.stop()
        device.close()
    # Lines are written in pieces; on a loaded machine (load average 12 while these were
    # written) a piece can come later than a driver's 0.5 s for an unfinished line and the line
    # is rejected, or a frame lost: a few are tolerated (skipped in the truth below). What
    # is judged here is what was shown of the frames that came.
    assert stats.dropped_frames <= 3 and stats.bad_frames <= 5, stats
    return emulator, shown


def truth_of(emulator: Emulator, counts: list[int]) -> list[int]:
    """The emulator's truth index of every frame the host got: frames are in order, some sent
    before the host listened (or taken as a reference, or rejected as torn lines), so each is
    the next truth frame with the same counts."""
    truth = [f.counts[0] for f in emulator.truth]
    index, j = [], 0
    for c in counts:
        while j < len(truth) and truth[j] != c:
            j += 1
        assert j < len(truth), "the host's frames are not the emulator's"
        index.append(j)
        j += 1
    return index


@pytest.mark.slow
@pytest.mark.parametrize("protocol", list(RIGS))
@pytest.mark.parametrize("ramp_s", [0.0, 2.0, 20.0])
def test_each_emulator_driven_past_the_peak_shows_no_number(protocol: str, ramp_s: float) -> None:
    if ramp_s == 0.0 and protocol != "probelink":
        pytest.skip("a step past the peak is seen at once only by live time or a flag (ProbeLink);"
                    " GM counters: test_a_gm_counter_stepped_past_its_peak_stops_within_2_frames")
    rig = RIGS[protocol]
    emulator, shown = play_paralysis(protocol, RampPlan(ramp_s, rig.low_cps, rig.top_cps))
    counts = [frame.total_window0 for _, frame, _ in shown]
    past = [emulator.truth[j].truth.total_rate_cps * rig.tau_s > 1.0
            for j in truth_of(emulator, counts)]
    assert sum(past) >= 10, "the counter was not held past its peak"
    for (reading, frame, _), beyond in zip(shown, past, strict=True):
        if beyond:  # the frame (counted at one rate in the emulators) is past the peak
            assert reading.over_range, (frame, reading)
    # the monitor's update after each poll: once over range, no later update has a number (the
    # counter stays past its peak to the end; a poll that finds the link STALE on a loaded
    # machine shows none either), and while connected its line says OVER RANGE
    updates = [update for _, _, update in shown]
    first = next(i for i, update in enumerate(updates) if update["over_range"])
    for update in updates[first:]:
        assert all(update[name] is None for name in ("rate_cps", "rate_sd_cps", "net_cps", "z"))
        assert not update["hot"]
        if update["link"] == "connected":
            assert update["over_range"] and "OVER RANGE" in format_line(update), update
    # before the ramp the number was shown
    assert any(update["rate_cps"] is not None for update in updates[:first])


# Rule 8 (core/counting_floor.py) needs a floor: FLOOR_WINDOW_S + CONFIRM_S = 6 s of frames.
GM_LEAD_S = 8.0
GM_STEP_FRAMES = 2  # frames past the peak that may still show a number: P(0 in 2 s) at the
# floor (a tenth of ~48 cps, psma-node over its node: 4.8 cps) is 7e-5 <= ALPHA = 1e-3


@pytest.mark.slow
@pytest.mark.parametrize("protocol", ["gmc-320", "mightyohm"])
def test_a_gm_counter_stepped_past_its_peak_stops_within_2_frames(protocol: str) -> None:
    # A step past the peak (saturate@ plays one) leaves a GM tube reading ~0: from counts alone
    # that is a low reading until it falls below any background the counter has been in.
    rig = RIGS[protocol]
    emulator, shown = play_paralysis(protocol, RampPlan(0.0, rig.low_cps, rig.top_cps),
                                     lead_s=GM_LEAD_S)
    counts = [frame.total_window0 for _, frame, _ in shown]
    past = [emulator.truth[j].truth.total_rate_cps * rig.tau_s > 1.0
            for j in truth_of(emulator, counts)]
    assert sum(past) >= 10, "the counter was not held past its peak"
    first_past = past.index(True)
    assert not any(reading.over_range for reading, _, _ in shown[:first_past])
    for reading, frame, _ in shown[first_past + GM_STEP_FRAMES:]:
        assert reading.over_range, (frame, reading)


@pytest.mark.slow
def test_the_monitor_process_prints_no_number_while_over_range() -> None:
    # `probe-nav monitor --json` as a user runs it, on a ProbeLink emulator whose counter is
    # saturated (a step to 1e8 cps, n tau = 500) from device time 6 s to the end.
    scenario = load("psma-node")
    plan = FaultPlan.from_spec("saturate@6+1000:1e8")
    server = DeviceServer(emulator_class("probelink")(Simulation(scenario, 5)),
                          PtyLink(write_wait_s=WRITE_WAIT_S), speed=2.0, faults=plan,
                          seed=5).start()
    try:
        result = run_cli("monitor", "--device", server.url, "--protocol", "probelink",
                         "--duration", "6", "--json", "--interval", "0.1", timeout=HANG_S)
        played_s = server.played_t_s
    finally:
        server.stop()
    assert result.returncode == 0, result.stderr
    assert played_s > 8.0  # the monitor ran at least 2 device seconds into the saturation
    updates = [json.loads(line) for line in result.stdout.splitlines()]
    over = [u for u in updates if u["over_range"]]
    assert over, "the saturation was never shown as over range"
    for update in over:
        assert all(update[name] is None for name in ("rate_cps", "rate_sd_cps", "net_cps", "z"))
        # no background was set: no hot decision at all (null), over range or not
        assert update["hot"] is None and "OVER RANGE" in format_line(update)
    first = updates.index(over[0])
    # from then on the counter stays saturated: no line shows a number again, and every line
    # while connected (a loaded machine may make a poll find the link STALE) says over range
    assert all(u["rate_cps"] is None for u in updates[first:])
    assert all(u["over_range"] for u in updates[first:] if u["link"] == "connected")
