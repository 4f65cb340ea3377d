"""The NDI pose source on a stand-in tracker with scikit-surgerynditracker's get_frame() contract
(port handles, time stamps, frame numbers, 4x4 matrices with NaN for an unseen tool, quality):
the tip and axis from the marker's matrix, unseen -> valid False at the last pose, bad replies
counted; and the tracker file's checks. No NDI hardware here."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from probe_nav.drivers.tracking.ndi import NdiPoseSource
from probe_nav.drivers.tracking.registry import CommonOptions, TrackerConfigError, load_tracker

WAIT_S = 20.0  # bounds a hang on a loaded machine


def rot_x(deg: float) -> np.ndarray:
    c, s = math.cos(math.radians(deg)), math.sin(math.radians(deg))
    return np.array([[1, 0, 0], [0, c, -s], [0, s, c]], float)


class StandIn:
    """Replies from a list of matrices (None: a bad reply), then repeats the last."""

    def __init__(self, matrices: list) -> None:
        self.matrices = list(matrices)
        self.i = 0
        self.stopped = threading.Event()

    def get_frame(self):
        m = self.matrices[min(self.i, len(self.matrices) - 1)]
        self.i += 1
        if m is None:
            return ([], [], [], [], [])
        return ([1], [time.time()], [self.i], [m], [0.12])

    def stop_tracking(self) -> None:
        self.stopped.set()

    def close(self) -> None:
        pass


def marker(deg: float, t_mm) -> np.ndarray:
    m = np.eye(4)
    m[:3, :3] = rot_x(deg)
    m[:3, 3] = t_mm
    return m


def test_tip_axis_and_quality_from_the_marker() -> None:
    unseen = np.full((4, 4), np.nan)
    stand_in = StandIn([marker(30.0, (10.0, 20.0, 30.0)), unseen, None])
    common = CommonOptions(tip_offset_mm=(0.0, 0.0, 150.0), tool_axis=(0.0, 0.0, 1.0),
                           latency_s=0.02)
    ticks = iter(range(10**9))
    source = NdiPoseSource(stand_in, 0, common, rate_hz=400.0,
                           clock=lambda: 100.0 + next(ticks))
    try:
        got: list = []
        deadline = time.monotonic() + WAIT_S
        while (len(got) < 2 or source.rejected == 0) and time.monotonic() < deadline:
            got += source.poll()
            time.sleep(0.01)
    finally:
        source.close()
    assert stand_in.stopped.is_set()
    first, second = got[0], got[1]
    # the tip 150 mm along the marker's z, turned 30 deg about x: (0, -75, 129.9) from t
    assert first.position_mm == pytest.approx((10.0, 20.0 - 75.0, 30.0 + 150 * math.cos(
        math.radians(30))), abs=1e-9)
    assert first.axis == pytest.approx((0.0, -0.5, math.cos(math.radians(30))), abs=1e-12)
    assert first.valid and first.error_mm == pytest.approx(0.12)
    assert first.host_s == pytest.approx(100.0 - 0.02)
    assert not second.valid and second.position_mm == first.position_mm  # unseen: last pose
    assert source.missing >= 1 and source.rejected >= 1  # the empty reply


def test_a_bad_rotation_is_refused_and_counted() -> None:
    bad = marker(0.0, (0, 0, 0))
    bad[:3, :3] *= 2.0
    source = NdiPoseSource(StandIn([bad]), 0, rate_hz=400.0)
    try:
        deadline = time.monotonic() + WAIT_S
        while source.rejected == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert source.poll() == []
        assert source.rejected >= 1
    finally:
        source.close()


@pytest.mark.parametrize("body,message", [
    ('tracker_type = "optotrak"', "tracker_type must be one of polaris, vega, aurora"),
    ('tracker_type = "polaris"\ntool = -1', "tool must be"),
    ('tracker_type = "polaris"\nrate_hz = 0', "rate_hz must be 1-400"),
    ('tracker_type = "polaris"\nromfiles = "probe.rom"', "romfiles must be a list"),
    ('tracker_type = "polaris"\nbaud = 9600', "unknown key 'baud'"),
])
def test_bad_ndi_tracker_files(tmp_path, body: str, message: str) -> None:
    path = tmp_path / "tracker.toml"
    path.write_text(f'[tracker]\nsource = "ndi"\n{body}\n')
    with pytest.raises(TrackerConfigError) as info:
        load_tracker(path)
    assert message in str(info.value)
