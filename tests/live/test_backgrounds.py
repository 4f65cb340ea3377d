"""Backgrounds as deliberate acts: no background unless one is set; provenance and age; the
per-case, per-window book survives a JSON round trip; a session keeps its background over a gap."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.core.background import Background
from probe_nav.core.pipeline import PipelineConfig
from probe_nav.drivers.frames import CountFrame, LinkState
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.live import LiveSession
from probe_nav.live.backgrounds import (
    BackgroundBook,
    BackgroundSource,
    SetBackground,
    format_age,
)

rates = st.floats(0.0, 1e7, allow_nan=False)
entries = st.builds(
    SetBackground,
    st.builds(Background, rates, st.floats(0.0, 1e4, allow_nan=False),
              st.integers(0, 10**9), st.floats(0.0, 1e5, allow_nan=False)),
    st.sampled_from(list(BackgroundSource)),
    st.floats(0.0, 4e9, allow_nan=False),
    st.sampled_from(["", "Tc-99m", "In-111", "I-125"]),
)


@given(st.lists(entries, max_size=6), st.one_of(st.none(), st.text(max_size=20)),
       st.text(max_size=30))
def test_the_book_survives_a_json_round_trip(items, case_id, source) -> None:
    book = BackgroundBook(case_id, source=source)
    for entry in items:
        book.put(entry)
    again = BackgroundBook.from_dict(json.loads(json.dumps(book.to_dict())))
    assert again == book
    for entry in items:  # the latest set per window wins
        assert again.get(entry.window) == [e for e in items if e.window == entry.window][-1]


@pytest.mark.parametrize("bad", [
    {"backgrounds": [{"rate_cps": -1, "sd_cps": 0, "source": "measured", "set_unix_s": 0}]},
    {"backgrounds": [{"rate_cps": 5, "sd_cps": 0, "source": "guessed", "set_unix_s": 0}]},
    {"backgrounds": [{"rate_cps": 5, "sd_cps": 0, "source": "measured",
                      "set_unix_s": math.inf}]},
    {"case_id": 7, "backgrounds": []},
])
def test_a_damaged_book_is_refused(bad) -> None:
    with pytest.raises((ValueError, KeyError, TypeError)):
        BackgroundBook.from_dict(bad)


@pytest.mark.parametrize("age_s, text", [(0, "0 s"), (59.4, "59 s"), (60, "1 min"),
                                         (3599, "59 min"), (3600, "1 h 00 min"),
                                         (7500, "2 h 05 min")])
def test_age_reads_at_a_glance(age_s, text) -> None:
    assert format_age(age_s) == text


def test_describe_says_how_and_how_long_ago_and_a_carry_keeps_the_age() -> None:
    entry = SetBackground(Background.measured(50, 10.0), BackgroundSource.MEASURED, 1000.0)
    assert entry.describe(1240.0) == "measured 4 min ago"
    assert entry.carried().describe(1240.0) == "carried over 4 min ago"
    assert entry.age_s(900.0) == 0.0  # a clock that went back never gives a negative age


def feed(device: ProbeLinkDevice, first: int, n: int, counts: int = 10) -> None:
    """n frames of 0.1 s (all live) handed to the device's event queue as if they had arrived."""
    for i in range(first, first + n):
        device.emit_frame(CountFrame(seq=i, t_s=0.1 * (i + 1), real_s=0.1, live_s=0.1,
                                     counts=(counts,)))


def session(config: PipelineConfig | None = None) -> tuple[LiveSession, ProbeLinkDevice]:
    device = ProbeLinkDevice("fake://probe")  # never opened: frames are handed in by `feed`
    return LiveSession(device, config, wall_clock=lambda: 5000.0), device


def test_a_session_starts_with_no_background_and_never_decides_hot() -> None:
    live, device = session()
    feed(device, 0, 200, counts=50)  # 500 cps for 20 s: a node, and nobody set a background
    snap = live.poll()
    assert snap.background is None and snap.background_entry is None
    readings = [reading for reading, _frame in snap.frames]  # the device is never "connected"
    assert len(readings) == 200 and readings[-1].rate_cps > 400
    assert not any(r.background_set or r.hot for r in readings)


def test_b_sets_a_measured_background_with_its_time_and_a_gap_keeps_it() -> None:
    live, device = session()
    live.start_background(2.0)
    feed(device, 0, 20, counts=1)  # 2 s at 10 cps
    snap = live.poll()
    assert snap.new_background is not None
    entry = snap.background_entry
    assert entry is not None and entry.source is BackgroundSource.MEASURED
    assert entry.set_unix_s == 5000.0 and entry.background.rate_cps == pytest.approx(10.0)
    live._set_link(LinkState.DISCONNECTED)  # the probe unplugged...
    live._set_link(LinkState.CONNECTED)  # ...and back: the estimate restarts, the background not
    feed(device, 20, 100, counts=10)  # 100 cps: ten times the background
    snap = live.poll()
    assert snap.background_entry == entry
    last = snap.frames[-1][0]
    assert last.background_set and last.hot


def test_declared_first_seconds_become_a_first_seconds_background_kept_over_a_gap() -> None:
    live, device = session(PipelineConfig(background_s=1.0))
    feed(device, 0, 5)
    assert live.poll().background is None  # still counting the declared second
    feed(device, 5, 10)
    snap = live.poll()  # (the never-opened device is not CONNECTED: each poll ends in a gap)
    # 100 counts in 1 s (ten frames of 0.1 s: float sums, hence approx): 100 +- 10 cps
    assert snap.background.rate_cps == pytest.approx(100.0)
    assert snap.background.sd_cps == pytest.approx(math.sqrt(100) / 1.0)
    first = snap.background
    assert snap.background_entry.source is BackgroundSource.FIRST_SECONDS
    feed(device, 15, 10, counts=50)  # after the gap: the same background, not a new one
    snap = live.poll()
    assert snap.background == first
    assert snap.frames[-1][0].background_cps == first.rate_cps


def test_clear_background_returns_to_not_set() -> None:
    live, device = session(PipelineConfig(background_cps=5.0))
    assert live.background_entry.source is BackgroundSource.ENTERED
    live.clear_background()
    feed(device, 0, 10, counts=10)
    snap = live.poll()
    assert snap.background is None and not snap.frames[-1][0].background_set
