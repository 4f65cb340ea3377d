"""The console's background as a deliberate step, on real widgets and a simulated probe: no hot
decision until B; B with no case opens one and says so; the result is recorded in the case, kept
over an unplug, and carried over (with its age) when the console restarts on the same patient."""

from __future__ import annotations

from probe_nav.gui.display_state import ReadoutState
from tests.gui.conftest import WAIT_MS


def make_persistent_console(qtbot, sim, tmp_path):
    """A console that saves its state (settings, backgrounds) like a user's, in the test's
    private config folder."""
    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.settings import GuiSettings
    from probe_nav.gui.window import ConsoleWindow
    from tests.served import served_clock

    window = ConsoleWindow(GuiSettings(background_s=2.0, scenario=sim.scenario_name),
                           training=sim, persist=True, audio=AudioBridge(enabled=False),
                           case_store_path=str(tmp_path / "cases.sqlite3"))
    qtbot.addWidget(window)
    window.session.device.clock = served_clock(sim.server)
    window.show()
    return window


def state(window) -> ReadoutState | None:
    return None if window.last_display is None else window.last_display.state


def test_no_hot_decision_until_b_then_kept_and_carried_over(make_sim, qtbot, tmp_path) -> None:
    sim = make_sim("sln-static")
    sim.hold(0.0, 0.0)  # over the node from the start: the old default took this as background
    window = make_persistent_console(qtbot, sim, tmp_path)
    qtbot.waitUntil(lambda: state(window) is ReadoutState.BACKGROUND_NOT_SET, timeout=WAIT_MS)
    assert window.readout.rate_label.text() != "—"  # the gross rate is shown
    assert "not set" in window.last_display.background_text
    assert window.last_display.hot is False

    sim.hold(150.0, 150.0)  # the surgeon puts the probe on normal tissue and presses B
    window.training.refresh()
    window.start_background()
    assert window.cases.case_id is not None
    # the message stays on the readout across refreshes (it is the session's notice)
    qtbot.waitUntil(lambda: f"started case {window.cases.case_id}"
                    in window.readout.notice_label.text(), timeout=WAIT_MS)
    window.tick()
    assert f"started case {window.cases.case_id}" in window.readout.notice_label.text()
    qtbot.waitUntil(lambda: window.last_snapshot is not None
                    and window.last_snapshot.background is not None, timeout=WAIT_MS)
    measured = window.last_snapshot.background
    truth_cps = sim.sim.rate_at(sim.sim.t_s)
    # 2 s at ~5 cps is ~10 counts: within 5 sd of Poisson (sd = sqrt(n)/T) of the truth
    assert abs(measured.rate_cps - truth_cps) <= 5 * max(measured.sd_cps, 1.0)
    assert "measured" in window.last_display.background_text
    # the instruction to hold the probe still is replaced, not left under a live readout
    qtbot.waitUntil(lambda: "background measured:" in window.readout.notice_label.text(),
                    timeout=WAIT_MS)
    assert "keep the probe" not in window.readout.notice_label.text()
    assert any(m.kind == "background" for m in window.cases._store.measurements(
        window.cases.case_id))
    qtbot.waitUntil(lambda: state(window) is ReadoutState.NOT_HOT, timeout=WAIT_MS)

    sim.hold(0.0, 0.0)  # back over the node: now a decision is made
    window.training.refresh()
    qtbot.waitUntil(lambda: state(window) is ReadoutState.HOT, timeout=WAIT_MS)

    window.start_background()  # replacing it asks once
    qtbot.waitUntil(lambda: "B again" in window.readout.notice_label.text(), timeout=WAIT_MS)
    assert window.last_snapshot.background_progress is None

    case_id = window.cases.case_id
    window.shutdown()
    window.close()
    again = make_persistent_console(qtbot, make_sim("sln-static", seed=2), tmp_path)
    try:
        assert again.cases.case_id == case_id  # the restarted console reopens the case
        qtbot.waitUntil(lambda: again.last_snapshot is not None
                        and again.last_snapshot.background is not None, timeout=WAIT_MS)
        assert again.last_snapshot.background == measured
        assert "carried over" in again.last_display.background_text
        qtbot.waitUntil(lambda: "reopened" in again.readout.notice_label.text(), timeout=WAIT_MS)
    finally:
        again.shutdown()


def test_another_scenario_is_another_patient(make_sim, qtbot, tmp_path) -> None:
    sim = make_sim("sln-static")
    window = make_persistent_console(qtbot, sim, tmp_path)
    try:
        window.background_step.enter(window.session, 5.0, window.settings.isotope)
        window.switch_scenario("sln-scan")
        qtbot.waitUntil(lambda: window.last_display is not None and window.last_display.live,
                        timeout=WAIT_MS)
        assert window.session.background is None and window.cases.case_id is None
        assert state(window) is ReadoutState.BACKGROUND_NOT_SET
    finally:
        window.shutdown()


def test_b_with_an_unwritable_case_store_still_measures_and_says_so(make_sim, qtbot,
                                                                     tmp_path) -> None:
    """A case store that cannot be created (a read-only data folder): B still gives the readout
    its background, and says the background is in no case; no exception reaches Qt."""
    from probe_nav.gui.audio_bridge import AudioBridge
    from probe_nav.gui.settings import GuiSettings
    from probe_nav.gui.window import ConsoleWindow

    blocker = tmp_path / "not-a-folder"  # a regular file: nothing is created below it, even
    blocker.write_text("")  # by root, whom file modes do not stop
    window = ConsoleWindow(GuiSettings(background_s=1.0), training=make_sim(), persist=False,
                           audio=AudioBridge(enabled=False),
                           case_store_path=str(blocker / "cases.sqlite3"))
    qtbot.addWidget(window)
    try:
        window.start_background()
        assert window.cases.case_id is None
        qtbot.waitUntil(lambda: "NOT RECORDED in a case" in window.readout.notice_label.text(),
                        timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.last_snapshot is not None
                        and window.last_snapshot.background is not None, timeout=WAIT_MS)
    finally:
        window.shutdown()
