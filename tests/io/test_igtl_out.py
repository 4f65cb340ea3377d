"""Out to 3D Slicer (probe_nav.io.igtl_out): the IMAGE, POINT and TRANSFORM messages as pyigtl's
own server decodes them, and a link that survives a server that is not there or goes away."""

from __future__ import annotations

import signal

import numpy as np
import pytest

from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.io.igtl_out import BESIDE_RGBA, SPOT_RGBA, SlicerLink, ijk_to_ras, volume_xyz
from probe_nav.navigation.hotspots import Spot
from probe_nav.navigation.localise import Grid, Image
from tests.tracking.igtl_peer import RawPeer, wait_for

F32_EPS = float(np.finfo(np.float32).eps)


def make_image(seed: int = 0) -> Image:
    """5 x 3 x 4 voxels of 2 mm, the z axis going down from the skin as sweep_grid makes it."""
    grid = Grid(np.arange(5) * 2.0 - 3.0, np.arange(3) * 2.0 + 10.0, -1.0 - np.arange(4) * 2.0)
    activity = np.random.default_rng(seed).gamma(2.0, 50.0, 5 * 3 * 4)
    return Image(grid, activity, 20.0, 10, -1.0)


@pytest.fixture
def pyigtl_server():
    """pyigtl's OpenIGTLinkServer on a free port (it installs SIGINT/SIGTERM handlers: put back)."""
    import pyigtl

    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    server = pyigtl.OpenIGTLinkServer(port=0, local_server=True)
    try:
        yield server, server.server_address[1]
    finally:
        server.stop()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


def test_image_spots_and_probe_as_pyigtl_receives_them(pyigtl_server) -> None:
    server, port = pyigtl_server
    image = make_image()
    spots = [Spot(1.0, 12.0, -5.0, 1.5, 900.0, 1.0),
             Spot(-3.0, 10.0, -7.0, 4.0, 300.0, 0.33, swept_around=False)]
    pose = PoseSample(5.0, (1.0, 2.0, 3.0), (0.0, 0.6, -0.8))
    with SlicerLink("127.0.0.1", port, timeout_s=5.0) as link:
        link.send_image(image)
        link.send_spots(spots)
        link.send_probe(pose)
        assert link.flush(20.0) and link.connected
    got = {name: server.wait_for_message(name, timeout=20)
           for name in ("ProbeNavActivity", "ProbeNavSpots", "ProbeToTracker")}
    img = got["ProbeNavActivity"]
    assert img.world_coordinate_system == "ras"
    assert img.image.dtype == np.float32
    # pyigtl's array is [k, j, i]: i along x, j along y, k along z
    assert np.array_equal(img.image.transpose(2, 1, 0), volume_xyz(image))
    expected = ijk_to_ras(image.grid)
    assert np.allclose(img.ijk_to_world_matrix, expected, atol=1e-5)
    # voxel (i, j, k) lands on the grid's centre of that voxel
    assert np.allclose(expected @ [4, 2, 3, 1], [5.0, 14.0, -7.0, 1.0])
    points = got["ProbeNavSpots"]
    assert points.names == ["spot 1", "spot 2 (beside the sweep)"]
    assert [tuple(c) for c in points.rgba_colors] == [SPOT_RGBA, BESIDE_RGBA]  # grey: not placed
    assert np.allclose(points.positions, [(1.0, 12.0, -5.0), (-3.0, 10.0, -7.0)])
    assert np.allclose(points.diameters, [1.5, 4.0])  # OpenIGTLink's RADIUS field: sd_mm
    probe = got["ProbeToTracker"]
    assert np.allclose(probe.matrix, pose.to_matrix(), atol=4 * F32_EPS * 3)


def test_no_spots_is_an_empty_point_list() -> None:
    peer = RawPeer()
    try:
        with SlicerLink("127.0.0.1", peer.port) as link:
            link.send_spots([])
            assert link.flush(20.0)
        assert wait_for(lambda: len(peer.messages()) == 1)
        (event,) = peer.messages()
        assert event.kind == "message" and event.header.message_type == "POINT"
        assert event.message.positions == []
    finally:
        peer.close()


def test_an_absent_server_is_reported_and_never_blocks_the_caller() -> None:
    peer = RawPeer()
    port = peer.port
    peer.close()
    with SlicerLink("127.0.0.1", port, timeout_s=1.0, retry_s=0.05) as link:
        link.send_image(make_image())  # returns at once: the thread does the network
        assert not link.flush(fail_fast=True)
        assert not link.connected and link.failures >= 1


def test_the_link_reconnects_and_sends_the_newest_state() -> None:
    first = RawPeer()
    port = first.port
    with SlicerLink("127.0.0.1", port, timeout_s=2.0, retry_s=0.02) as link:
        link.send_probe(PoseSample(1.0, (1.0, 0.0, 0.0), (0.0, 0.0, 1.0)))
        assert link.flush(20.0)
        assert wait_for(lambda: len(first.messages()) == 1)
        first.close()
        assert wait_for(lambda: not link.connected)
        for x in (2.0, 3.0):  # while nobody listens: only the newest is kept
            link.send_probe(PoseSample(x, (x, 0.0, 0.0), (0.0, 0.0, 1.0)))
        second = RawPeer(port)
        try:
            assert link.flush(20.0)
            assert wait_for(lambda: len(second.messages()) == 1)
            (event,) = second.messages()
            assert event.message.matrix[0, 3] == 3.0
        finally:
            second.close()


def test_an_uneven_grid_is_refused() -> None:
    grid = Grid(np.array([0.0, 1.0, 3.0]), np.array([0.0]), np.array([0.0]))
    with pytest.raises(ValueError, match="evenly"):
        ijk_to_ras(grid)
    one = ijk_to_ras(Grid(np.array([5.0]), np.array([0.0, 3.0]), np.array([-1.0])))
    assert np.allclose(np.diag(one)[:3], [3.0, 3.0, 3.0]) and one[0, 3] == 5.0
