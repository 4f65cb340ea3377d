"""Tests of the offline calibration helpers (tools/detect_calibrate.py) and of the stored threshold
table."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from probe_nav.core import detect_table as table
from tools import detect_calibrate as dc


def test_reflected_walk_is_the_cusum_recursion() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(-0.1, 1.0, size=(3, 500))
    w = dc.reflected_walk(z)
    ref = np.zeros_like(z)
    for i in range(z.shape[0]):
        acc = 0.0
        for n in range(z.shape[1]):
            acc = max(0.0, acc + z[i, n])
            ref[i, n] = acc
    np.testing.assert_allclose(w, ref, atol=1e-9)


def test_first_passage_from_ladders_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    w = dc.reflected_walk(rng.normal(-0.2, 1.0, size=(20, 300)))
    vals, times = dc.ladders(w)
    for h in (0.5, 2.0, 4.0, 6.0, 50.0):
        tau = dc.first_passage(vals, times, h, never=301)
        hit = w >= h
        brute = np.where(hit.any(axis=1), hit.argmax(axis=1) + 1, 301)
        np.testing.assert_array_equal(tau, brute)


def test_exponential_mle_recovers_the_mean() -> None:
    rng = np.random.default_rng(2)
    tau = rng.exponential(100.0, 20_000)
    length = 300
    censored = np.where(tau <= length, tau, length + 1)
    assert abs(dc.exp_mle_mean(censored, length) / 100.0 - 1) < 0.03


def test_stored_table_matches_the_generator_grid() -> None:
    h = np.asarray(table.THRESHOLDS)
    assert h.shape == (len(dc.MU_GRID), len(dc.N_GRID), len(dc.RATIOS))
    np.testing.assert_allclose(table.RATIOS, dc.RATIOS, rtol=1e-6)
    assert tuple(table.MU_GRID) == dc.MU_GRID and tuple(table.N_GRID) == dc.N_GRID
    assert np.all(np.isfinite(h)) and np.all(h >= 0)
    # a longer false-alarm interval always needs a higher threshold on the lowest chart
    assert np.all(np.diff(h[:, :, 0], axis=1) > 0)


def test_the_generator_writes_the_stored_table_back_unchanged() -> None:
    # the file the tool writes (header, grids, 4-decimal values) is byte for byte the stored one,
    # so the tool and probe_nav/core/detect_table.py agree on the format and on where it lives
    assert dc.TABLE_PATH.resolve() == Path(table.__file__).resolve()
    text = dc._format(np.asarray(table.THRESHOLDS), np.asarray(table.LAMBDA))
    assert text == dc.TABLE_PATH.read_text(encoding="utf-8")
