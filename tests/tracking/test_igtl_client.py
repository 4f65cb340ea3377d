"""The OpenIGTLink pose client (probe_nav.drivers.tracking.igtl_client) against a bare peer on
127.0.0.1: what it keeps, what it rejects and counts, how it times samples, how it comes back
after the server vanishes; and the codec round trip PoseSample -> matrix -> bytes -> PoseSample.
"""

from __future__ import annotations

import math
import struct
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from probe_nav.drivers.tracking import igtl_wire
from probe_nav.drivers.tracking.igtl_client import IgtlPoseSource
from probe_nav.drivers.tracking.pose import PoseSample
from tests.tracking.igtl_peer import RawPeer, transform_bytes, wait_for

F32_EPS = float(np.finfo(np.float32).eps)


@pytest.fixture
def peer():
    p = RawPeer()
    yield p
    p.close()


def _collect(source: IgtlPoseSource, n: int) -> list[PoseSample]:
    got: list[PoseSample] = []
    assert wait_for(lambda: len(got) >= n or bool(got.extend(source.poll()))), \
        f"{len(got)} of {n} samples (received {source.received}, rejected {source.rejected})"
    return got


def test_good_messages_in_between_malformed_ones_arrive(peer: RawPeer) -> None:
    """Garbage, a bad CRC, NaN, a sheared rotation, 20 m away, another device, another message
    type, half a message: each is skipped (and counted), every good one arrives, in order."""
    with IgtlPoseSource(port=peer.port, retry_s=0.02) as source:
        peer.wait_client()
        bad_crc = bytearray(transform_bytes(99.0))
        bad_crc[-5] ^= 0x40  # a bit of the body flipped: the header's CRC-64 no longer matches
        sheared = np.eye(4)
        sheared[0, 1] = 0.2
        far = np.eye(4)
        far[2, 3] = 20_000.0
        nan = np.eye(4)
        nan[1, 3] = math.nan
        garbage = np.random.default_rng(3).integers(0, 256, 300, dtype=np.uint8).tobytes()
        string = igtl_wire.pack(__import__("pyigtl").StringMessage("hello",
                                                                   device_name="ProbeToTracker"))
        good = [transform_bytes(float(i)) for i in range(1, 7)]
        stream = [good[0], garbage, good[1], bytes(bad_crc), good[2],
                  transform_bytes(0, matrix=nan), transform_bytes(0, matrix=sheared),
                  transform_bytes(0, matrix=far), good[3], transform_bytes(50.0, "Other"),
                  string, good[4]]
        for chunk in stream:
            peer.send(chunk)
        half = len(good[5]) // 2  # half a message now, the rest later: kept, not rejected
        peer.send(good[5][:half])
        assert wait_for(lambda: source.received >= 5)
        peer.send(good[5][half:])
        samples = _collect(source, 6)
        assert [s.position_mm[0] for s in samples] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
        assert all(s.valid for s in samples)
        # garbage (1 run or more), bad CRC, NaN, sheared, far: 5 kinds; other device and STRING
        assert source.rejected >= 5 and source.garbage_bytes == len(garbage)
        assert source.ignored == 2


def test_the_server_vanishing_and_coming_back_on_the_same_port() -> None:
    first = RawPeer()
    port = first.port
    with IgtlPoseSource(port=port, retry_s=0.02) as source:
        first.wait_client()
        assert wait_for(lambda: source.connected)
        first.send(transform_bytes(1.0))
        assert [s.position_mm[0] for s in _collect(source, 1)] == [1.0]
        first.close()
        assert wait_for(lambda: not source.connected)
        second = RawPeer(port)
        try:
            second.wait_client()
            assert wait_for(lambda: source.connected)
            second.send(transform_bytes(2.0))
            assert [s.position_mm[0] for s in _collect(source, 1)] == [2.0]
            assert source.reconnects == 1
        finally:
            second.close()


def test_no_server_no_samples_and_no_error() -> None:
    peer = RawPeer()
    port = peer.port
    peer.close()  # nobody listens there now
    with IgtlPoseSource(port=port, retry_s=0.02) as source:
        assert source.poll() == [] and not source.connected


def test_a_plausible_stamp_times_the_sample_an_implausible_one_its_arrival(peer: RawPeer) -> None:
    with IgtlPoseSource(port=peer.port, latency_s=0.25) as source:
        peer.wait_client()
        before = time.monotonic()
        peer.send(transform_bytes(1.0, stamp_s=time.time() - 0.5))  # 0.5 s old: believed
        peer.send(transform_bytes(2.0, stamp_s=time.time() - 3600))  # an hour: the clocks differ
        recent, old = _collect(source, 2)
        after = time.monotonic()
        # the stamp: 0.5 s before it was sent, minus the latency (1 ms slack for the clocks)
        assert before - 0.75 - 1e-3 <= recent.host_s <= after - 0.75 + 1e-3
        assert before - 0.25 <= old.host_s <= after - 0.25  # arrival, minus the latency
        assert source.stamps_used == 1


def test_status_and_plus_transform_status_mark_samples_invalid(peer: RawPeer) -> None:
    import pyigtl

    with IgtlPoseSource(port=peer.port) as source:
        peer.wait_client()
        peer.send(transform_bytes(1.0))
        body = struct.pack(">HQ20s", 13, 0, b"NOT_READY") + b"tool out of view\x00"
        peer.send(igtl_wire.pack_header("STATUS", "ProbeToTracker", time.time(), body) + body)
        flagged = pyigtl.TransformMessage(np.eye(4), device_name="ProbeToTracker")
        flagged.header_version = 2  # OpenIGTLink v3 header with PLUS's metadata
        flagged.metadata = {"ProbeToTrackerTransformStatus": "INVALID"}
        peer.send(igtl_wire.pack(flagged))
        peer.send(transform_bytes(4.0))
        samples = _collect(source, 4)
        assert [s.valid for s in samples] == [True, False, False, True]
        assert samples[1].position_mm == samples[0].position_mm  # the last known, flagged


def test_a_tip_offset_and_tool_axis_are_applied(peer: RawPeer) -> None:
    rot = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])  # 90 deg about z
    matrix = np.eye(4)
    matrix[:3, :3], matrix[:3, 3] = rot, (10.0, 20.0, 30.0)
    with IgtlPoseSource(port=peer.port, tip_offset_mm=(0.0, 0.0, -160.0),
                        tool_axis=(1.0, 0.0, 0.0)) as source:
        peer.wait_client()
        peer.send(transform_bytes(0, matrix=matrix))
        (sample,) = _collect(source, 1)
    assert np.allclose(sample.position_mm, (10.0, 20.0, -130.0), atol=1e-4)
    assert np.allclose(sample.axis, (0.0, 1.0, 0.0), atol=1e-6)


def _unit(v: tuple[float, float, float]) -> tuple[float, float, float]:
    n = math.sqrt(sum(a * a for a in v))
    return (v[0] / n, v[1] / n, v[2] / n)


coord = st.floats(-2000.0, 2000.0, allow_nan=False)
axis = st.tuples(st.floats(-1, 1), st.floats(-1, 1), st.floats(-1, 1)).filter(
    lambda v: sum(a * a for a in v) > 1e-2).map(_unit)


@given(position=st.tuples(coord, coord, coord), axis=axis, split=st.integers(1, 105))
def test_pose_round_trip_through_the_codec(position: tuple[float, float, float],
                                           axis: tuple[float, float, float], split: int) -> None:
    """PoseSample -> 4x4 -> TRANSFORM bytes (fed in two pieces) -> PoseSample: equal within
    float32 (the wire's precision: half an ulp per value, a few ulps after the 3x3 products)."""
    pose = PoseSample(1.0, position, axis)
    data = igtl_wire.pack(igtl_wire.transform_message(pose.to_matrix(), "ProbeToTracker", 1e9))
    parser = igtl_wire.StreamParser()
    events = parser.feed(data[:split]) + parser.feed(data[split:])
    assert [e.kind for e in events] == ["message"]
    back = PoseSample.from_matrix(events[0].message.matrix, 1.0)
    scale = max(1.0, *map(abs, position))
    assert np.allclose(back.position_mm, position, rtol=0, atol=F32_EPS * scale)
    assert np.allclose(back.axis, axis, rtol=0, atol=4 * F32_EPS)
    assert events[0].header.timestamp_s == pytest.approx(1e9, abs=1e-6)
