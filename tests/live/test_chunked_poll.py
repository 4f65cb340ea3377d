"""A poll processes the frames it drains as one chunk: the readings are bit for bit those of
frame-by-frame processing, also when a background measurement finishes inside the chunk (the
frames after it go through the restarted processor, as they would one by one), and an impossible
frame is refused alone."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from probe_nav.drivers.frames import CountFrame, LinkState
from probe_nav.drivers.probelink.device import ProbeLinkDevice
from probe_nav.live import LiveSession


class ConnectedDevice(ProbeLinkDevice):
    """Never opened (frames are handed in by emit_frame) yet CONNECTED, so no poll is a gap."""

    @property
    def link_state(self) -> LinkState:
        return LinkState.CONNECTED


def frames(counts: list[int]) -> list[CountFrame]:
    return [CountFrame(seq=i, t_s=0.05 * (i + 1), real_s=0.05, live_s=0.05, counts=(c,))
            for i, c in enumerate(counts)]


def readings(counts: list[int], chunk: int, background_s: float | None) -> list[tuple]:
    device = ConnectedDevice("fake://probe")
    live = LiveSession(device, wall_clock=lambda: 0.0)
    if background_s is not None:
        live.start_background(background_s)
    out = []
    todo = frames(counts)
    for start in range(0, len(todo), chunk):
        for frame in todo[start:start + chunk]:
            device.emit_frame(frame)
        out += [tuple("nan" if isinstance(v, float) and math.isnan(v) else v
                      for v in (r.rate_cps, r.rate_sd_cps, r.background_cps, r.net_cps, r.z,
                                r.hot, r.over_range))
                for r, _f in live.poll().frames]
    return out


@settings(max_examples=25)
@example([5] * 60, 50, 1.0)  # the background completes at frame 20 of a 50-frame chunk
@given(st.lists(st.integers(0, 40), min_size=1, max_size=120), st.integers(2, 50),
       st.sampled_from([None, 0.5, 1.0, 2.0]))
def test_chunks_give_the_frame_by_frame_readings(counts, chunk, background_s) -> None:
    assert readings(counts, chunk, background_s) == readings(counts, 1, background_s)


def test_an_impossible_frame_is_refused_alone() -> None:
    from probe_nav.drivers.device import FrameEvent

    device = ConnectedDevice("fake://probe")
    live = LiveSession(device)
    good = frames([3, 4, 5])
    bad = CountFrame(seq=9, t_s=0.2, real_s=0.05, live_s=0.05, counts=(3,))
    object.__setattr__(bad, "live_s", -1.0)  # as if a driver's gate had let it by
    events = [FrameEvent(f, 0.0) for f in (good[0], bad, good[1], good[2])]
    device.poll = lambda timeout_s=0.0: events  # type: ignore[method-assign]
    snap = live.poll()
    assert [f.seq for _r, f in snap.frames] == [0, 1, 2]
    assert "refused" in snap.notice
    assert np.isfinite(snap.frames[-1][0].rate_cps)
    with pytest.raises(ValueError):
        live._processor.push(bad)
