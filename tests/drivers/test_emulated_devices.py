"""Every driver against its emulator over a real pty, in device time x20: the frames the driver
produces are exactly the counts the simulator drew, and their rate matches the simulated truth
within Poisson statistics."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pytest

from probe_nav.drivers.device import Device
from probe_nav.drivers.registry import driver_class
from probe_nav.simulator.emulators.base import Emulator
from probe_nav.simulator.engine import SimFrame, Simulation
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.registry import emulator_class
from probe_nav.simulator.scenario import load
from probe_nav.simulator.server import DeviceServer
from tests.drivers.expected_protocol import collect, frames_of
from tests.served import WRITE_WAIT_S, wait_until_read

SPEED = 20.0
N_FRAMES = 30


def run_pair(protocol: str, n_frames: int = N_FRAMES, seed: int = 7, emulator_kwargs=None,
             driver_kwargs=None, speed: float = SPEED
             ) -> tuple[list, Emulator, Device, DeviceServer]:
    emulator = emulator_class(protocol)(Simulation(load("sln-static"), seed),
                                        **(emulator_kwargs or {}))
    server = DeviceServer(emulator, PtyLink(write_wait_s=WRITE_WAIT_S), speed=speed).start()
    device = driver_class(protocol)(server.url, **(driver_kwargs or {}))
    device.open()
    try:
        events = collect(device, frames=n_frames)
        server.dropped_while_read = server.link.dropped_bytes  # type: ignore[attr-defined]
    finally:
        device.close()
        wait_until_read(server.link)  # the emulator hears the driver's goodbye
        server.stop()
    return events, emulator, device, server


def aligned(received: Sequence[int], truth: Sequence[int]) -> int:
    """Offset k with truth[k:k+n] == received (the driver may start after the device did)."""
    n = len(received)
    for k in range(len(truth) - n + 1):
        if list(truth[k : k + n]) == list(received):
            return k
    raise AssertionError(f"{received[:8]}... is not a run of the simulated counts {truth[:12]}...")


def assert_poisson_rate(truth: Sequence[SimFrame], counts: int) -> None:
    """Counts agree with the expected counts of the same intervals (the simulator's window-0 rate
    after dead time): |C - E| < 4.5 sqrt(E), false alarm probability 7e-6."""
    expected = sum(f.truth.observed_rate_cps * f.real_s for f in truth)
    assert abs(counts - expected) < 4.5 * math.sqrt(expected), (counts, expected)


def check(events, emulator: Emulator, window: int = 0) -> tuple[list, list[SimFrame]]:
    frames = frames_of(events)
    got = [f.counts[window] for f in frames]
    truth = [f.counts[0] for f in emulator.truth]
    k = aligned(got, truth)
    matched = emulator.truth[k : k + len(got)]
    assert_poisson_rate(matched, sum(got))
    return frames, matched


@pytest.mark.parametrize("protocol", ["gmc-300", "gmc-500", "gmc"])
def test_gmc_heartbeat_frames_are_the_simulated_seconds(protocol) -> None:
    events, emulator, device, _server = run_pair(protocol, speed=40)
    frames, _matched = check(events, emulator)
    assert [f.t_s for f in frames] == [float(i + 1) for i in range(len(frames))]
    assert emulator.writes == []  # the driver never wrote the counter's configuration
    assert emulator.commands[:5] == [b"HEARTBEAT0", b"GETVER", b"GETSERIAL", b"GETVOLT",
                                     b"HEARTBEAT1"]
    assert emulator.commands[-1] == b"HEARTBEAT0"  # a clean stop
    assert device.stats.bad_frames == 0 and device.info is not None


def test_gmc_already_streaming_when_the_driver_connects() -> None:
    events, emulator, device, _server = run_pair("gmc-320", speed=40,
                                                 emulator_kwargs={"heartbeat": True})
    check(events, emulator)
    assert device.version is not None and device.version.raw == "GMC-320Re 4.26"


def test_mightyohm_lines_are_the_simulated_seconds() -> None:
    events, emulator, device, _server = run_pair("mightyohm", speed=40)
    frames, _matched = check(events, emulator)
    assert all(f.real_s == 1.0 for f in frames) and device.stats.bad_frames == 0


def test_ascii_timestamps_are_the_simulated_clock() -> None:
    events, emulator, _device, _server = run_pair("ascii", n_frames=200)
    frames, matched = check(events, emulator)
    assert [f.t_s for f in frames] == pytest.approx([m.t_end_s for m in matched], abs=1e-3)
    assert [f.real_s for f in frames] == pytest.approx([m.real_s for m in matched], abs=2e-3)


@pytest.mark.parametrize("mode", ["spectrum", "events"])
def test_ogd_window_counts_are_the_simulated_counts(mode) -> None:
    events, emulator, device, server = run_pair("ogd", emulator_kwargs={"mode": mode})
    frames, _matched = check(events, emulator)
    assert device.info is not None and device.info.protocol == f"ogd {mode}"
    # The continuum outside the window is in the total (window 1) but not in window 0.
    assert sum(f.counts[1] for f in frames) > sum(f.counts[0] for f in frames)
    assert all(sum(f.spectrum) == f.counts[1] for f in frames)
    assert device.stats.bad_frames == 0 and server.dropped_while_read == 0
    assert emulator.writes == []  # no `set out`: the detector's flash was left alone
