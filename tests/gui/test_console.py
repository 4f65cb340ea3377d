"""The console's real widgets, offscreen, on the simulator through a real pty and driver:
connecting, the readout following the simulated rate, NO SIGNAL on unplug, STALE on a stall.

The simulator runs in real time here (what the console sees is real I/O), so waits are for
conditions, with WAIT_MS only bounding a hang; the one timing promise (NO SIGNAL within a second
of the unplug) is measured from the moment the simulated device really left the link.
"""

from __future__ import annotations

import time

from probe_nav.gui.display_state import Banner
from tests.gui.conftest import WAIT_MS, shown_rate, shown_sd, timed_count


def expected_rate(sim) -> float:
    """The simulator's true window-0 rate for the pose held now (dead time is negligible here:
    2 us x 100 cps = 2e-4 of losses)."""
    return sim.sim.rate_at(sim.sim.t_s)


def settled(window, sim, max_rel_sd: float, k_sd: float = 3.0) -> bool:
    """The reading has gathered enough counts (sd/rate below max_rel_sd) and agrees with the
    true rate within k of its standard deviations (3 sd: a 0.3 % chance of a false failure per
    check once settled; the sd shown is rounded to 0.1 cps, hence the 0.05 floor)."""
    rate, sd = shown_rate(window), shown_sd(window)
    if rate is None or sd is None or rate <= 0 or sd / rate > max_rel_sd:
        return False
    return abs(rate - expected_rate(sim)) <= k_sd * max(sd, 0.05)


def test_connects_to_the_simulator_and_identifies_it(console_sim, qtbot):
    window, _sim = console_sim
    qtbot.waitUntil(lambda: window.last_display is not None and window.last_display.live,
                    timeout=WAIT_MS)
    assert window.last_snapshot.info.model == "probe-nav simulated probe"
    assert "SIM-0001" in window.last_display.device_text
    assert Banner.NO_SIGNAL not in window.banners.active()
    assert window.readout.rate_label.text() != "—"


def test_readout_follows_the_simulated_rate(console_sim, qtbot):
    window, sim = console_sim
    sim.hold(0.0, 0.0)  # over the 20 kBq node, 15 mm deep
    qtbot.waitUntil(lambda: settled(window, sim, max_rel_sd=0.07), timeout=WAIT_MS)
    over_node = shown_rate(window)
    assert expected_rate(sim) > 40
    sim.hold(150.0, 150.0)  # far away: background only
    window.training.refresh()
    qtbot.waitUntil(lambda: settled(window, sim, max_rel_sd=0.25), timeout=WAIT_MS)
    away = shown_rate(window)
    assert expected_rate(sim) < 10
    assert away < over_node / 3
    # the trend holds the same numbers the readout showed
    t, rate, _sd = window.session.trend(45.0)
    assert t[-1] == 0.0 and rate[-1] == window.last_snapshot.reading.rate_cps


def stamp_link_close(sim) -> list[float]:
    """Host times (time.monotonic) at which the simulated device closes its current link."""
    link, stamps = sim.server.link, []
    close = link.close

    def stamped_close() -> None:
        stamps.append(time.monotonic())
        close()

    link.close = stamped_close
    return stamps


def test_no_signal_within_one_second_of_unplug_and_clears_on_reconnect(console_sim, qtbot):
    window, sim = console_sim
    qtbot.waitUntil(lambda: window.last_display is not None and window.last_display.live,
                    timeout=WAIT_MS)
    closed = stamp_link_close(sim)
    sim.inject("unplug", duration_s=3.0)
    # From the moment the device left the link (not from the inject: the simulator's thread may
    # be scheduled late) to the first check after the console's tick that showed the banner.
    # The console must show it during the 3 s unplug, so waiting longer is pointless.
    qtbot.waitUntil(lambda: Banner.NO_SIGNAL in window.banners.active(), timeout=WAIT_MS)
    shown = time.monotonic()
    assert closed and shown - closed[0] < 1.0
    label = window.banners.labels[Banner.NO_SIGNAL]
    assert label.isVisible() and "d50000" in label.styleSheet()
    assert window.readout.rate_label.text() == "—"  # blank, never the last value
    assert window.readout.gauge.fraction is None
    qtbot.waitUntil(lambda: Banner.NO_SIGNAL not in window.banners.active(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: shown_rate(window) is not None, timeout=WAIT_MS)
    assert not window.banners.labels[Banner.NO_SIGNAL].isVisible()
    assert window.last_snapshot.stats.reconnects >= 1


def test_stall_shows_stale_and_greys_out(console_sim, qtbot):
    window, sim = console_sim
    qtbot.waitUntil(lambda: shown_rate(window) is not None, timeout=WAIT_MS)
    # STALE comes 0.5 s into the silence; the console has the other 2.5 s of a 3 s stall to
    # show it (and the stall's end clears it).
    sim.inject("stall", duration_s=3.0)
    qtbot.waitUntil(lambda: Banner.STALE in window.banners.active(), timeout=WAIT_MS)
    assert shown_rate(window) is None
    assert "5c6670" in window.readout.rate_label.styleSheet()  # grey
    qtbot.waitUntil(lambda: shown_rate(window) is not None, timeout=WAIT_MS)
    assert Banner.STALE not in window.banners.active()


def test_keyboard_shortcuts_drive_the_controls(console_sim, qtbot):
    window, _sim = console_sim
    qtbot.waitUntil(lambda: shown_rate(window) is not None, timeout=WAIT_MS)
    window.shortcuts["R"].activated.emit()  # next meter
    assert window.session.meter == "0.5" and window.controls.meter_buttons["0.5"].isChecked()
    window.shortcuts["2"].activated.emit()
    assert window.controls.preset_s == 2.0
    timed_count(window, qtbot, window.shortcuts["Space"].activated.emit,
                lambda: window.controls.timed_progress.value() > 0)
    window.shortcuts["Esc"].activated.emit()  # cancels the count
    window.tick()
    assert window.last_snapshot.timed_progress is None
    window.shortcuts["H"].activated.emit()
    assert not window.training.view.show_map
    window.shortcuts["M"].activated.emit()
    assert window.muted and window.controls.mute_button.isChecked()
    cleared = []
    window.session.clear_over_range = lambda: cleared.append(True)  # the latch's own tests: core
    window.shortcuts["O"].activated.emit()
    assert cleared == [True]
