"""The console's background step without Qt: B asks once before replacing a background, results
are kept per case and window and saved, carried to a new session (same probe) and to a restart,
never to another probe or patient, and a damaged or old file only loses the carry."""

from __future__ import annotations

import json

import pytest

from probe_nav.core.background import Background
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.gui.background_step import (
    CONFIRM_WINDOW_S,
    MAX_CARRY_AGE_S,
    BackgroundStep,
)
from probe_nav.live import LiveSession
from probe_nav.live.backgrounds import BackgroundSource


class Clock:
    """A hand-set wall clock."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def new_session(clock: Clock) -> LiveSession:
    return LiveSession(ProbeLinkDevice("fake://probe"), wall_clock=clock)


def test_b_starts_at_once_when_none_is_set_and_asks_once_before_replacing(tmp_path) -> None:
    clock = Clock()
    step = BackgroundStep(tmp_path / "bg.json", clock)
    live = new_session(clock)
    assert step.press(live, 10.0).started  # nothing to replace
    live.cancel_background()
    step.enter(live, 5.0, "Tc-99m")
    first = step.press(live, 10.0)
    assert not first.started and "B again" in first.message and "5.0" in first.message
    clock.now += CONFIRM_WINDOW_S - 0.1
    assert step.press(live, 10.0).started  # the second press within the window replaces it
    live.cancel_background()
    clock.now += 1.0
    assert not step.press(live, 10.0).started  # asked afresh: the confirmation was used
    clock.now += CONFIRM_WINDOW_S + 0.1
    assert not step.press(live, 10.0).started  # too late: asks again


def test_kept_per_window_and_carried_to_a_new_session(tmp_path) -> None:
    clock = Clock()
    step = BackgroundStep(tmp_path / "bg.json", clock)
    step.case_opened("C-1", "sim:sln-static")
    live = new_session(clock)
    step.measured(Background.measured(50, 10.0), "Tc-99m")
    step.enter(live, 30.0, "In-111")
    clock.now += 240.0
    other = new_session(clock)  # a reconnect to the same probe
    applied = step.apply(other, "Tc-99m")
    assert applied is not None and applied.source is BackgroundSource.CARRIED
    assert other.background == Background.measured(50, 10.0)
    assert other.background_entry.describe(clock.now) == "carried over 4 min ago"
    assert step.apply(other, "I-125") is None and other.background is None  # no such window
    assert step.apply(other, "In-111").background.rate_cps == 30.0


def test_a_restart_carries_the_same_probe_and_case_only(tmp_path) -> None:
    clock = Clock()
    path = tmp_path / "bg.json"
    step = BackgroundStep(path, clock)
    step.case_opened("C-7", "probelink /dev/ttyUSB0")
    step.measured(Background.measured(80, 10.0), "Tc-99m")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    clock.now += 600.0
    again = BackgroundStep(path, clock)
    assert again.load("probelink /dev/ttyUSB0") == "C-7"
    assert again.book.get("Tc-99m").background.rate_cps == 8.0
    assert BackgroundStep(path, clock).load("probelink /dev/ttyUSB1") is None  # another probe
    clock.now += MAX_CARRY_AGE_S  # older than any operation: not carried
    assert BackgroundStep(path, clock).load("probelink /dev/ttyUSB0") is None


def test_another_case_starts_without_backgrounds(tmp_path) -> None:
    clock = Clock()
    step = BackgroundStep(tmp_path / "bg.json", clock)
    step.case_opened("C-1", "sim:x")
    step.measured(Background.measured(80, 10.0), "Tc-99m")
    step.case_opened("C-2")
    assert step.book.get("Tc-99m") is None and step.book.source == "sim:x"


@pytest.mark.parametrize("text", ["{", "[]", json.dumps({"backgrounds": [{"rate_cps": -3}]}),
                                  "\xff\xfe"])
def test_a_damaged_file_only_loses_the_carry(tmp_path, caplog, text) -> None:
    path = tmp_path / "bg.json"
    path.write_text(text, encoding="latin-1")
    step = BackgroundStep(path, Clock())
    assert step.load("") is None
    assert step.book.entries == {}
    assert any("not used" in r.getMessage() for r in caplog.records)


def test_an_unwritable_folder_is_logged_not_raised(tmp_path, caplog) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    step = BackgroundStep(blocked / "bg.json", Clock())  # its parent is a file
    step.measured(Background.measured(1, 1.0), "")
    assert any("not saved" in r.getMessage() for r in caplog.records)
