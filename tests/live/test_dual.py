"""Dual-isotope counting (probe_nav.live.dual) on snapshots built from known frames."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from probe_nav.calibration.crosstalk import SpillMatrix
from probe_nav.drivers.frames import (
    CountFrame,
    DeviceInfo,
    EnergyWindow,
    FaultFlag,
    LinkState,
    LinkStats,
)
from probe_nav.live.dual import DualError, DualIsotope, window_indices
from probe_nav.live.snapshot import LiveSnapshot

WINDOWS = (EnergyWindow(20.0, 45.0, "I-125"), EnergyWindow(126.0, 155.0, "Tc-99m"))
F = 0.095


def snapshot(frames: list[CountFrame], live: bool = True) -> LiveSnapshot:
    info = DeviceInfo(model="sim", serial="1", firmware="", windows=WINDOWS)
    empty = LiveSnapshot(
        link=LinkState.CONNECTED if live else LinkState.STALE, link_reason="", reading=None,
        last_frame=frames[-1] if frames else None, last_frame_host_s=None, info=info,
        status=None, stats=LinkStats(), battery_pct=None, battery_low=False, faults=FaultFlag.NONE,
        over_range=False, background=None, background_progress=None, timed=None,
        timed_preset_s=None, timed_progress=None, new_timed=None, new_background=None,
        new_background_count=None, spectrum=None)
    if not live or not frames:
        return empty
    from probe_nav.core.pipeline import Processor

    readings = Processor().process_frames(frames)
    return replace(empty, reading=readings[len(frames) - 1],
                   frames=tuple((readings[i], f) for i, f in enumerate(frames)))


def poisson_frames(rng, rates_cps, n: int, start_seq: int) -> list[CountFrame]:
    counts = rng.poisson(np.asarray(rates_cps) * 0.05, size=(n, 2))
    return [CountFrame(start_seq + i, (start_seq + i + 1) * 0.05, 0.05, 0.05,
                       tuple(int(c) for c in row)) for i, row in enumerate(counts)]


def run(dual: DualIsotope, rng, rates, seconds: float, seq: list[int]):
    state = None
    for _ in range(int(seconds / 0.5)):  # polls of 10 frames
        frames = poisson_frames(rng, rates, 10, seq[0])
        seq[0] += 10
        state = dual.feed(snapshot(frames))
    return state


def test_the_seed_reads_through_the_node_tracers_spill() -> None:
    rng, seq = np.random.default_rng(4), [0]
    dual = DualIsotope("I-125 + Tc-99m", SpillMatrix.parse([f"1:0={F}+-0.003"], 2))
    dual.start_background(5.0)
    state = run(dual, rng, [10.0, 40.0], 6.0, seq)  # over normal tissue: both backgrounds
    bg = dual.backgrounds
    assert bg[0] is not None and bg[1] is not None
    # 5 s of counts: the rate within 4 Poisson sd of the truth
    assert abs(bg[0][0] - 10.0) < 4 * math.sqrt(10.0 / 5.0)
    assert abs(bg[1][0] - 40.0) < 4 * math.sqrt(40.0 / 5.0)
    site = run(dual, rng, [10.0 + F * 30_000.0, 30_000.0], 8.0, seq)  # the injection site
    seed_view, node_view = site.windows
    assert node_view.hot and not seed_view.hot and seed_view.dominated
    assert seed_view.corrected_cps >= 0.0  # never below zero on the display
    state = run(dual, rng, [10.0 + 500.0, 40.0], 8.0, seq)  # over the seed
    assert state.windows[0].hot and not state.windows[1].hot
    assert abs(state.windows[0].corrected_cps - 500.0) < 4 * state.windows[0].corrected_sd_cps


def test_the_sound_follows_the_selected_isotope() -> None:
    rng, seq = np.random.default_rng(5), [0]
    dual = DualIsotope("I-125 + Tc-99m", SpillMatrix.parse([f"1:0={F}"], 2))
    dual.set_backgrounds([None, None])
    run(dual, rng, [10.0 + F * 20_000.0, 20_000.0], 4.0, seq)
    assert dual.selected == 1  # the node's tracer first
    node = dual.readings()[-1]
    assert node.rate_cps > 15_000  # the Tc-99m window's corrected rate
    dual.switch()
    seed = dual.readings()[-1]
    # the I-125 window holds ~1,900 cps of spill; the pitch follows the corrected rate (~10)
    assert seed.rate_cps < 300
    frame = CountFrame(0, 0.05, 0.05, 0.05, (7, 900))
    assert dual.selected_counts(frame) == 7


def test_no_signal_shows_no_number_and_restarts_the_estimate() -> None:
    rng, seq = np.random.default_rng(6), [0]
    dual = DualIsotope("I-125 + Tc-99m")
    run(dual, rng, [100.0, 100.0], 2.0, seq)
    state = dual.feed(snapshot([], live=False))
    assert not state.live and all(math.isnan(v.corrected_cps) for v in state.windows)
    assert dual.readings() == []
    assert not state.corrected  # no spill given: CROSSTALK NOT CORRECTED


def test_window_matching() -> None:
    assert window_indices("I-125 + Tc-99m", WINDOWS) == (0, 1)
    assert window_indices("I-125 + Tc-99m", WINDOWS[::-1]) == (1, 0)
    unnamed = tuple(EnergyWindow(w.lo_kev, w.hi_kev, "") for w in WINDOWS)
    assert window_indices("I-125 + Tc-99m", unnamed) == (0, 1)  # by energy
    with pytest.raises(DualError, match="one energy window"):
        window_indices("I-125 + Tc-99m", WINDOWS[:1])
    with pytest.raises(DualError, match="In-111"):
        window_indices("In-111 + Tc-99m", (EnergyWindow(20, 45, ""), EnergyWindow(126, 140, "")))
