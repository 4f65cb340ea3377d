"""Background and timed counts from the live console into the case table (a real SQLite file),
with the 10 % rule and the parathyroid 20 % rule marking nodes."""

from __future__ import annotations

from probe_nav.cases import CaseStore
from probe_nav.gui.settings import GuiSettings


def count_and_record(window, qtbot, node: str, kind: str, preset_s: float = 1.0) -> None:
    """Timed count with the console's controls, then Record (N) under `node`."""
    window.cases.node_name.setText(node)
    window.cases.select_kind(kind)
    pending_before = window.cases.pending
    window.controls.preset_buttons[preset_s].click()
    window.controls.timed_button.click()
    qtbot.waitUntil(lambda: window.cases.pending is not None
                    and window.cases.pending is not pending_before, timeout=8000)
    window.shortcuts["N"].activated.emit()
    assert window.cases.pending is None, window.cases.pending_label.text()


def offset_for_fraction(sim, fraction: float) -> float:
    """x offset (mm) where the true rate is `fraction` of the rate over the node (bisection on
    the simulator's own rate model, so the test does not depend on the physics constants)."""
    sim.hold(0.0, 0.0)
    peak = sim.sim.rate_at(sim.sim.t_s)
    lo, hi = 0.0, 200.0
    for _ in range(30):
        mid = (lo + hi) / 2
        sim.hold(mid, 0.0)
        if sim.sim.rate_at(sim.sim.t_s) > fraction * peak:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def test_background_and_timed_counts_fill_the_table_and_the_ten_percent_rule(
        make_sim, make_console, qtbot, tmp_path):
    sim = make_sim("sln-static", seed=3, speed=2.0)
    window = make_console(sim)
    x_half = offset_for_fraction(sim, 0.5)
    sim.hold(150.0, 150.0)
    qtbot.waitUntil(lambda: window.last_display is not None and window.last_display.live,
                    timeout=5000)
    window.controls.background_button.click()  # 1 s background (settings.background_s)
    qtbot.waitUntil(lambda: window.cases.table.rowCount() == 1, timeout=6000)
    assert window.cases.table.item(0, 0).text() == "background"
    assert window.session.background is not None

    sim.hold(0.0, 0.0)  # hottest: over the node
    count_and_record(window, qtbot, "SLN 1", "ex_vivo", 2.0)
    sim.hold(x_half, 0.0)  # ~50 % of the hottest: must be removed
    count_and_record(window, qtbot, "SLN 2", "ex_vivo", 2.0)
    sim.hold(150.0, 150.0)  # background only, ~5 % of the hottest: may stay
    count_and_record(window, qtbot, "SLN 3", "ex_vivo", 2.0)

    table = window.cases.table
    rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
            for r in range(table.rowCount())}
    assert set(rows) == {"SLN 1", "SLN 2", "SLN 3", "background"}
    assert rows["SLN 1"][6] == "100"
    assert 25 <= float(rows["SLN 2"][6]) <= 75  # 50 % expected; 2 s counts: sd ~ 10 %
    assert float(rows["SLN 3"][6]) < 10
    assert rows["SLN 1"][7].startswith("REMOVE") and rows["SLN 2"][7].startswith("REMOVE")
    assert not rows["SLN 3"][7].startswith("REMOVE")
    assert window.cases.marked_nodes() == ["SLN 1", "SLN 2"]
    marked_colour = table.item(1, 0).background().color().name()
    assert marked_colour == "#ff8a65" and table.item(2, 0).background().color().name() != "#ff8a65"

    # what the table shows is what the store holds (a real SQLite file)
    with CaseStore.open(tmp_path / "cases.sqlite3") as store:
        measurements = store.measurements(window.cases.case_id)
    assert [m.node for m in measurements] == ["background", "SLN 1", "SLN 2", "SLN 3"]
    assert rows["SLN 1"][2] == str(measurements[1].counts)
    assert all(m.live_s >= 1.0 for m in measurements)


def test_parathyroid_twenty_percent_rule(make_sim, make_console, qtbot):
    sim = make_sim("sln-static", seed=4, speed=2.0)
    window = make_console(sim, GuiSettings(background_s=1.0, procedure="parathyroid"))
    sim.hold(150.0, 150.0)
    qtbot.waitUntil(lambda: window.last_display is not None and window.last_display.live,
                    timeout=5000)
    count_and_record(window, qtbot, "background", "background", 2.0)
    sim.hold(0.0, 0.0)
    count_and_record(window, qtbot, "specimen", "ex_vivo", 1.0)
    assert window.cases.marked_nodes() == ["specimen"]
    decision = window.cases.table.item(0, 7).text()
    assert "consistent with parathyroid" in decision and "REMOVE" not in decision
