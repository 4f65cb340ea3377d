"""Tracker files: a [tracker] table opens the named pose source through the entry points, with
the common keys (tip offset, tool axis, latency) checked once; bad files give one line."""

from __future__ import annotations

import time

import pytest

from probe_nav.drivers.tracking.registry import (
    TrackerConfigError,
    load_tracker,
    source_names,
)
from probe_nav.simulator.pose_server import PoseServer

WAIT_S = 30.0  # bounds a hang on a loaded machine; not a speed requirement


def test_both_trackers_are_registered() -> None:
    assert {"openigtlink", "aruco"} <= set(source_names())


def test_an_openigtlink_tracker_file_receives_poses_with_its_tip_offset(tmp_path) -> None:
    # the server sends the marker straight down at the origin; the tip 100 mm along the marker's
    # -z axis reads (0, 0, -100) in the tracker frame, its axis (0, 0, 1) -> down as sent
    def pose_at(host_s: float):
        return (0.0, 0.0, 0.0), (0.0, 0.0, -1.0)

    with PoseServer(pose_at, rate_hz=50.0) as server:
        path = tmp_path / "tracker.toml"
        path.write_text(f'[tracker]\nsource = "openigtlink"\nport = {server.port}\n'
                        'tip_offset_mm = [0.0, 0.0, 100.0]\nlatency_ms = 20\n')
        source = load_tracker(path)
        try:
            deadline = time.monotonic() + WAIT_S
            samples = []
            while not samples and time.monotonic() < deadline:
                samples = source.poll()
                time.sleep(0.02)
            assert samples, "no pose arrived"
            s = samples[-1]
            assert s.position_mm == pytest.approx((0.0, 0.0, -100.0), abs=1e-3)
            assert s.axis == pytest.approx((0.0, 0.0, -1.0), abs=1e-6)
            assert source.latency_s == pytest.approx(0.020)
        finally:
            source.close()


@pytest.mark.parametrize("body,message", [
    ('source = "nope"', "source must be one of aruco, ndi, openigtlink"),
    ('source = "openigtlink"\nport = 70000', "port must be 1-65535"),
    ('source = "openigtlink"\nportt = 1', "unknown key 'portt'"),
    ('source = "openigtlink"\ntip_offset_mm = [1, 2]', "tip_offset_mm must be three"),
    ('source = "openigtlink"\ntool_axis = [0, 0, 0]', "tool_axis must not be zero"),
    ('source = "openigtlink"\nlatency_ms = "fast"', "latency_ms must be a number"),
    ('source = "aruco"', "intrinsics must name"),
    ('source = "aruco"\nintrinsics = "missing.toml"', "missing.toml"),
    ('source = "aruco"\nintrinsics = "cam.toml"\nboard = { markers = 3 }', "unknown key"),
    ('source = "aruco"\nintrinsics = "cam.toml"\ncamera = "none.avi"', "cannot open camera"),
])
def test_bad_tracker_files_are_one_line(tmp_path, body: str, message: str) -> None:
    (tmp_path / "cam.toml").write_text("[camera]\nfx = 1000\nfy = 1000\ncx = 640\ncy = 360\n")
    path = tmp_path / "tracker.toml"
    path.write_text(f"[tracker]\n{body}\n")
    with pytest.raises(TrackerConfigError) as info:
        load_tracker(path)
    text = str(info.value)
    assert message in text and "\n" not in text and str(path) in text


def test_not_a_tracker_file(tmp_path) -> None:
    with pytest.raises(TrackerConfigError, match="cannot read"):
        load_tracker(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[tracker\n")
    with pytest.raises(TrackerConfigError, match="not a TOML file"):
        load_tracker(bad)
    empty = tmp_path / "empty.toml"
    empty.write_text("[probe]\n")
    with pytest.raises(TrackerConfigError, match=r"no \[tracker\] table"):
        load_tracker(empty)
