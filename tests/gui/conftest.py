"""Fixtures of the console tests: private config/data folders, a simulated probe, the window."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from probe_nav.gui.settings import GuiSettings
from tests.served import WRITE_WAIT_S, served_clock

# qtbot.waitUntil time-outs: a bound on a hang, not a speed requirement (the simulated probe runs
# through a real pty; its link state is judged on the device's own time, so a loaded machine
# that schedules the simulator late makes it slow, never stale).
WAIT_MS = 30_000


@pytest.fixture(autouse=True)
def private_dirs(tmp_path, monkeypatch):
    """Settings and case databases go to the test's own folder."""
    monkeypatch.setenv("PROBE_NAV_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("PROBE_NAV_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def make_sim():
    """Start TrainingSims (a DeviceServer on a pty); all are stopped at the end."""
    from probe_nav.gui.training_sim import TrainingSim

    started: list[TrainingSim] = []

    def make(scenario: str = "sln-static", seed: int = 1, speed: float = 1.0) -> TrainingSim:
        sim = TrainingSim(scenario, seed=seed, speed=speed)
        # a host the loaded machine schedules late gets its bytes late, not never (tests/served.py)
        sim.server.link.write_wait_s = WRITE_WAIT_S
        started.append(sim)
        return sim

    yield make
    for sim in started:
        sim.stop()


@pytest.fixture
def make_console(qtbot, tmp_path):
    """A ConsoleWindow in training mode on a given sim, sound off, settings not written."""
    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.window import ConsoleWindow

    windows: list[ConsoleWindow] = []

    def make(sim, settings: GuiSettings | None = None) -> ConsoleWindow:
        window = ConsoleWindow(settings or GuiSettings(background_s=1.0), training=sim,
                               persist=False, audio=AudioBridge(enabled=False),
                               case_store_path=str(tmp_path / "cases.sqlite3"))
        qtbot.addWidget(window)
        if window.session is not None:  # link state on the device's time (tests/served.py)
            window.session.device.clock = served_clock(sim.server)
        window.resize(1600, 1000)
        window.show()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.shutdown()


def timed_count(window, qtbot, start, done, attempts: int = 3) -> None:
    """Start a timed count (`start()`) and wait until `done()`. A count that a lost link ended
    (frames lost or a reconnection since it started: the console abandons it, as it must) is
    started again, as the user would: what these tests check is the controls, not the link."""
    for _ in range(attempts):
        before = window.session.device.stats
        start()

        def lost(before=before) -> bool:
            now = window.session.device.stats
            snap = window.last_snapshot
            return ((now.reconnects, now.dropped_frames)
                    != (before.reconnects, before.dropped_frames)
                    and snap is not None and snap.timed_progress is None)

        qtbot.waitUntil(lambda: done() or lost(), timeout=WAIT_MS)
        if done():
            return
    pytest.fail(f"the link was lost during {attempts} timed counts in a row")


def shown_rate(window) -> float | None:
    """The number on the big readout, None when it shows no number."""
    text = window.readout.rate_label.text().replace(" ", "")
    try:
        return float(text)
    except ValueError:
        return None


def shown_sd(window) -> float | None:
    """The ± figure beside the readout."""
    text = window.readout.sd_label.text().replace("±", "").replace(" ", "")
    try:
        return float(text)
    except ValueError:
        return None


@pytest.fixture
def console_sim(make_sim, make_console) -> Iterator[tuple]:
    """(window, sim) on sln-static at real time."""
    sim = make_sim()
    yield make_console(sim), sim
