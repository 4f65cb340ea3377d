"""The hot decision is raised on the very frame whose counts cross a chart's threshold."""

from __future__ import annotations

import numpy as np

from probe_nav.core.detect import HotDetector


def test_an_overwhelming_frame_is_hot_on_that_frame() -> None:
    # 10 cps background in 0.1 s frames (exactly 1 count each, the CUSUMs stay near 0); then one
    # frame of 200 counts: the rho = 4 chart gains 200 ln 4 - 3 x 1 = 274, far above any
    # threshold of the table (< 30), so that frame itself is the onset.
    det = HotDetector(10.0, frame_period_s=0.1)
    counts = np.r_[np.ones(100, dtype=np.int64), 200, 200]
    hot = det.process(counts, np.full(counts.size, 0.1))
    assert det.thresholds is not None and det.thresholds.max() < 30
    assert not hot[:100].any()
    assert hot[100] and hot[101]


def test_any_positive_false_alarm_interval_is_accepted() -> None:
    # a sub-second interval is unusual but valid (thresholds from the table's smallest n)
    det = HotDetector(10.0, false_alarm_interval_s=0.5, frame_period_s=0.1)
    assert det.thresholds is not None and np.all(np.isfinite(det.thresholds))
