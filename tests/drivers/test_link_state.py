"""Stale within a bound, silent ports reopened, driver errors survived: every protocol's driver
against its emulator on a pty, in lock step with a fake clock (tests/drivers/lockstep.py), so each
time below is device time set by the test, never how fast the machine ran."""

from __future__ import annotations

import logging

import pytest

from probe_nav.drivers.device import Device, LinkEvent
from probe_nav.drivers.frames import CountFrame, DeviceInfo, LinkState
from probe_nav.drivers.link_timing import (
    ArrivalJitter,
    max_stale_after_s,
    silent_reopen_s,
    stale_after_s,
)
from probe_nav.live import LiveSession
from probe_nav.monitor import monitor_update
from tests.drivers.lockstep import FakeClock, Lockstep

PERIOD_S = {"probelink": 0.05, "gmc-320": 1.0, "mightyohm": 1.0, "ogd": 1.0, "ascii": 1.0}
BOUND_S = {0.05: 0.3, 1.0: 2.0}  # issue 14: blank within this long after the last frame
# The GMC's handshake waits for replies on the fake clock, which moves in lock-step ticks however
# long the reader thread takes to answer: a reply time-out of 30 s (600 ticks) never fires here.
DRIVER_KW = {"gmc-320": {"reply_timeout_s": 30.0}}


def step_s(period_s: float) -> float:
    return period_s / 2 if period_s < 1.0 else 0.1


def link_events(events: list) -> list[LinkEvent]:
    return [e for e in events if isinstance(e, LinkEvent)]


# ---------------------------------------------------------------- the bound itself


def test_jitter_allowance_is_measured_and_capped() -> None:
    jitter = ArrivalJitter()
    assert stale_after_s(1.0, jitter) == pytest.approx(2.0)  # nothing measured yet: the cap
    for _ in range(10):
        jitter.add(1.0, 1.0)  # a perfectly regular 1-s device
    assert stale_after_s(1.0, jitter) == pytest.approx(1.5 + 0.02 + 0.1)  # the floor
    jitter.add(1.3, 1.0)  # one frame 0.3 s late
    assert stale_after_s(1.0, jitter) == pytest.approx(1.8)
    jitter.add(5.0, 1.0)  # a 4 s hole does not widen the bound past the cap
    assert stale_after_s(1.0, jitter) == pytest.approx(2.0)
    fast = ArrivalJitter()
    for _ in range(10):
        fast.add(0.05, 0.05)
    assert stale_after_s(0.05, fast) == pytest.approx(0.075 + 0.025)
    assert max_stale_after_s(1.0) == pytest.approx(2.0)
    assert max_stale_after_s(0.05) == pytest.approx(0.29)


def test_silent_reopen_comes_after_3_periods_and_backs_off() -> None:
    assert silent_reopen_s(1.0, 1.62, 0) == pytest.approx(3.0)
    assert silent_reopen_s(0.05, 0.1, 0) == pytest.approx(0.35)  # never before STALE + 0.25 s
    assert [silent_reopen_s(1.0, 1.62, k) for k in range(6)] == [3.0, 6.0, 12.0, 24.0, 30.0, 30.0]


# ---------------------------------------------------------------- every protocol, end to end


@pytest.mark.parametrize("protocol", sorted(PERIOD_S))
def test_a_stalled_link_blanks_within_the_bound(protocol: str) -> None:
    """The live session (which the console and the monitor show) and the monitor's update stop
    showing a number within 2 s (1-s devices) or 0.3 s (50 ms frames) of the last frame."""
    period_s = PERIOD_S[protocol]
    with Lockstep(protocol, collect_events=False, **DRIVER_KW.get(protocol, {})) as ls:
        session = LiveSession(ls.device)
        ls.advance_to(2.0 + 30 * period_s, step_s(period_s))
        live = session.poll()
        assert live.stats.frames >= 20 and live.last_frame_host_s is not None
        last_s = live.last_frame_host_s
        bound_s = ls.device.stale_after_s
        # the bound: more than 1.5 periods, at most 2 s (1-s devices) or 0.3 s (50 ms frames)
        assert 1.5 * period_s < bound_s <= BOUND_S[period_s]
        ls.clock.now_s = last_s + bound_s - 1e-6
        live = session.poll()
        assert live.link is LinkState.CONNECTED and live.reading is not None
        assert monitor_update(live, 0.0)["rate_cps"] is not None
        ls.clock.now_s = last_s + bound_s + 1e-6
        blank = session.poll()
        assert blank.link is LinkState.STALE and blank.reading is None
        update = monitor_update(blank, 0.0)
        assert update["rate_cps"] is None and update["link"] == "stale"
        logging.getLogger(__name__).info("%s: stale %.3f s after the last frame", protocol,
                                         bound_s)


def test_a_late_first_frame_after_connecting_is_not_called_stale() -> None:
    """OGD in spectrum mode: the first line only sets the baseline, the first frame comes a
    period later; the link is not STALE before that (the readout is blank anyway)."""
    with Lockstep("ogd") as ls:
        ls.advance_to(2.5, 0.1)
        assert ls.frames(), ls.events
        assert not [e for e in link_events(ls.events) if e.state is LinkState.STALE]


# ---------------------------------------------------------------- silent ports


@pytest.mark.parametrize("protocol", ["mightyohm", "gmc-320", "probelink"])
def test_a_silent_port_is_closed_and_reopened(protocol: str) -> None:
    period_s = PERIOD_S[protocol]
    with Lockstep(protocol, **DRIVER_KW.get(protocol, {})) as ls:
        ls.advance_to(2.0 + 10 * period_s, step_s(period_s))
        last_s = ls.frames()[-1].host_s
        limit_s = silent_reopen_s(period_s, ls.device.stale_after_s, 0)
        assert limit_s == pytest.approx(max(3 * period_s, ls.device.stale_after_s + 0.25))
        ls.clock.now_s = last_s + limit_s + 1e-6  # the device says nothing for that long
        ls.wait_for(lambda _ev: ls.device.stats.reconnects == 1, "the reopen")
        reopened = [e for e in link_events(ls.events) if e.state is LinkState.DISCONNECTED]
        assert "closing and reopening the port" in reopened[0].reason
        assert ls.device.stats.silent_reopens == 1
        n = len(ls.frames())
        ls.advance_to(ls.clock.now_s + 3.0 + 10 * period_s, step_s(period_s))
        assert len(ls.frames()) > n  # the same device, picked up again
        assert ls.device.link_state is LinkState.CONNECTED
        if protocol == "probelink":  # numbered frames: each one shown or counted as dropped,
            seqs = [e.frame.seq for e in ls.frames()]  # (those before it proved itself too)
            stats = ls.device.stats
            assert stats.frames + stats.dropped_frames == seqs[-1] - seqs[0] + 1
    if protocol == "mightyohm":
        assert ls.emulator.received == 0  # listen-only: nothing written, before or after


# ---------------------------------------------------------------- driver errors


def test_an_exception_in_protocol_code_disconnects_logs_and_reconnects(monkeypatch,
                                                                        caplog) -> None:
    with Lockstep("ascii") as ls:
        ls.advance_to(5.0, 0.1)
        device = ls.device
        original = device.on_data
        raised: list[bytes] = []

        def on_data(data: bytes) -> None:
            if not raised:
                raised.append(data)
                raise RuntimeError("decoder exploded")
            original(data)

        monkeypatch.setattr(device, "on_data", on_data)
        with caplog.at_level(logging.ERROR, logger="probe_nav.drivers.transport"):
            ls.link.write(b"5.5,3\r\n")
            ls.wait_for(lambda _ev: device.stats.reconnects == 1, "the reconnection")
        lost = [e for e in link_events(ls.events) if e.state is LinkState.DISCONNECTED]
        assert lost[0].reason == "driver error in data_received: RuntimeError: decoder exploded"
        assert device.stats.driver_errors == 1
        logged = [r for r in caplog.records if "decoder exploded" in r.getMessage()]
        assert logged and "Traceback" in logged[0].getMessage()
        ls.sent_frames = ls.accounted()  # the line that met the exception is lost with it
        n = len(ls.frames())
        ls.advance_to(10.0, 0.1)
        assert len(ls.frames()) > n and device.link_state is LinkState.CONNECTED


class _AlwaysFailing:
    """A listener whose protocol code raises on every byte (a driver bug met on every
    connection)."""

    def __init__(self) -> None:
        self.lost: list[str] = []

    def connection_made(self) -> None: ...

    def data_received(self, data: bytes) -> None:
        raise ValueError("bad decoder")

    def connection_lost(self, reason: str) -> None:
        self.lost.append(reason)

    def idle(self) -> None: ...

    def open_failed(self, reason: str) -> None: ...


class _ChattyPort:
    """An open port that always has a byte to read."""

    in_waiting = 0

    def read(self, size: int = 1, /) -> bytes:
        return b"x"

    def write(self, data: bytes, /) -> int:
        return len(data)

    def reset_input_buffer(self) -> None: ...

    def close(self) -> None: ...


class _RecordedStop:
    """Stands for the transport's stop event: records each wait instead of sleeping, and stops
    the transport after `turns` of them."""

    def __init__(self, turns: int) -> None:
        self.waits_s: list[float] = []
        self.turns = turns

    def is_set(self) -> bool:
        return len(self.waits_s) >= self.turns

    def wait(self, timeout_s: float) -> bool:
        self.waits_s.append(timeout_s)
        return self.is_set()

    def set(self) -> None:
        self.turns = 0


def test_a_driver_failing_on_every_connection_is_reopened_at_doubling_intervals(
        monkeypatch, caplog) -> None:
    from probe_nav.drivers import transport as transport_module
    from probe_nav.drivers.transport import (
        DRIVER_ERROR_MAX_PAUSE_S,
        SerialSettings,
        SerialTransport,
    )

    monkeypatch.setattr(transport_module, "monotonic_s", FakeClock(100.0))  # the log limiter's
    listener = _AlwaysFailing()
    transport = SerialTransport("fake://", listener, SerialSettings(reconnect_interval_s=0.25),
                                opener=lambda _url, _settings: _ChattyPort())
    stop = _RecordedStop(turns=10)
    transport._stop = stop  # type: ignore[assignment]
    with caplog.at_level(logging.ERROR, logger="probe_nav.drivers.transport"):
        transport._run()  # on this thread: returns after 10 reopens
    assert stop.waits_s == [0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert max(stop.waits_s) == DRIVER_ERROR_MAX_PAUSE_S
    assert listener.lost == ["driver error in data_received: ValueError: bad decoder"] * 10
    assert transport.driver_errors == 10 and transport.connections == 10
    tracebacks = [r for r in caplog.records if "Traceback" in r.getMessage()]
    assert len(tracebacks) == 3  # then one summary a minute (rate-limited), not one per reopen


class _QueryDevice(Device):
    """A query protocol reduced to its hooks: frames and identities are fed by the test."""

    identifies_by_query = True
    default_frame_period_s = 0.05

    def on_connect(self) -> None: ...

    def on_data(self, data: bytes) -> None: ...


def _frame(seq: int) -> CountFrame:
    return CountFrame(seq=seq, t_s=(seq + 1) * 0.05, real_s=0.05, live_s=0.05, counts=(10,))


def test_frames_of_an_unproved_device_and_the_gap_before_them_count_as_dropped() -> None:
    device = _QueryDevice("loop://")
    clock = FakeClock()
    device.clock = clock
    info = DeviceInfo(model="M", serial="1", firmware="", protocol="p")
    device._transport.connections = 1
    device.connection_made()
    assert device.emit_info(info)
    for seq in range(3):
        clock.now_s += 0.05
        assert device.emit_frame(_frame(seq))
    device._transport.connections = 2  # the port was lost and reopened
    device.connection_lost("device disconnected")
    device.connection_made()
    clock.now_s += 1.0
    assert not device.emit_frame(_frame(22), dropped_before=19)  # before it said who it is
    assert device.emit_info(info)  # the same device: proved
    clock.now_s += 0.05
    assert device.emit_frame(_frame(23))
    stats = device.stats
    assert stats.frames == 4 and stats.extra["unverified_frames"] == 1
    assert stats.frames + stats.dropped_frames == 24  # seq 0 to 23: every one accounted
