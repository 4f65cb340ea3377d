"""Out to 3D Slicer over OpenIGTLink: the reconstructed activity (IMAGE "ProbeNavActivity"), the
hot spots (POINT "ProbeNavSpots") and the live probe (TRANSFORM "ProbeToTracker").

probe-nav is the client; Slicer's OpenIGTLinkIF module runs the server (default 127.0.0.1:18944).
The tracker's frame is sent as Slicer's RAS (mm). A sender thread owns the socket, so a caller
(the console's display, `locate`) never waits on the network: send_* keep the newest message of
each device and return; the thread connects, sends, and after a lost connection reconnects and
sends the newest state again. `flush(timeout_s)` waits until all is sent (the CLI).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Sequence

import numpy as np
import pyigtl  # type: ignore[import-untyped]

from probe_nav.drivers.ratelimit import RateLimitedLog
from probe_nav.drivers.tracking import igtl_wire
from probe_nav.drivers.tracking.pose import PoseSample
from probe_nav.navigation.hotspots import Spot
from probe_nav.navigation.localise import Grid, Image

log = logging.getLogger(__name__)

IMAGE_NAME = "ProbeNavActivity"
SPOTS_NAME = "ProbeNavSpots"
PROBE_NAME = "ProbeToTracker"
SPOT_RGBA = (255, 64, 32, 255)
BESIDE_RGBA = (128, 128, 128, 255)  # a spot the sweep did not go around


def grid_spacing_mm(grid: Grid) -> tuple[float, float, float]:
    """The voxel size along x, y, z (an axis of one voxel takes the others' size)."""
    steps = []
    for axis in (grid.x_mm, grid.y_mm, grid.z_mm):
        d = np.diff(np.asarray(axis, float))
        if len(d) and not np.allclose(d, d[0], rtol=1e-6, atol=1e-9):
            raise ValueError("an image grid must be evenly spaced")
        steps.append(float(d[0]) if len(d) else None)
    known = [s for s in steps if s is not None]
    fill = abs(known[0]) if known else 1.0
    x, y, z = (fill if s is None else s for s in steps)
    return (x, y, z)


def ijk_to_ras(grid: Grid) -> np.ndarray:
    """The 4x4 from voxel index (i along x, j along y, k along z) to the voxel's centre (mm)."""
    m = np.eye(4)
    m[0, 0], m[1, 1], m[2, 2] = grid_spacing_mm(grid)
    m[:3, 3] = (grid.x_mm[0], grid.y_mm[0], grid.z_mm[0])
    return m


def volume_xyz(image: Image) -> np.ndarray:
    """The activity (Bq per voxel) as a float32 array indexed [i, j, k] = [x, y, z]."""
    return np.asarray(image.activity_bq, dtype=np.float32).reshape(image.grid.shape)


def image_message(image: Image, device_name: str = IMAGE_NAME,
                  timestamp_s: float | None = None) -> object:
    """The IMAGE message of an Image: float32 Bq per voxel, IJK->RAS from its grid."""
    voxels = np.ascontiguousarray(volume_xyz(image).transpose(2, 1, 0))  # pyigtl wants [k, j, i]
    return pyigtl.ImageMessage(voxels, ijk_to_world_matrix=ijk_to_ras(image.grid),
                               world_coordinate_system="ras", device_name=device_name,
                               timestamp=time.time() if timestamp_s is None else timestamp_s)


class _PointMessage(pyigtl.PointMessage):  # type: ignore[misc]
    """pyigtl's POINT, which can also be empty (no spots: Slicer's list is cleared)."""

    def _pack_content(self) -> bytes:
        if self.positions is None or len(self.positions) == 0:
            return b""
        return bytes(super()._pack_content())


def spots_message(spots: Sequence[Spot], device_name: str = SPOTS_NAME) -> object:
    """The POINT message of the spots: "spot 1", ... at their positions, radius = sd_mm; a spot
    the sweep did not go around (not localised: probe_nav.navigation.coverage) is grey and
    named so."""
    positions = [(s.x_mm, s.y_mm, s.z_mm) for s in spots]
    names = [f"spot {i + 1}" + ("" if s.swept_around else " (beside the sweep)")
             for i, s in enumerate(spots)]
    return _PointMessage(positions=positions, names=names,
                         rgba_colors=[SPOT_RGBA if s.swept_around else BESIDE_RGBA
                                      for s in spots] or None,
                         diameters=[float(s.sd_mm) for s in spots] or None,
                         groups="ProbeNav", owners=IMAGE_NAME, device_name=device_name)


def probe_message(pose: PoseSample, device_name: str = PROBE_NAME) -> object:
    """The TRANSFORM of the probe: translation the tip, z column the axis; stamped with the
    wall time of the pose's host_s."""
    wall_s = time.time() - time.monotonic() + pose.host_s
    return igtl_wire.transform_message(pose.to_matrix(), device_name, wall_s)


class SlicerLink:
    """A client to Slicer's OpenIGTLinkIF server; see the module's docstring."""

    def __init__(self, host: str = "127.0.0.1", port: int = 18944, timeout_s: float = 2.0,
                 retry_s: float = 1.0, image_name: str = IMAGE_NAME,
                 spots_name: str = SPOTS_NAME, probe_name: str = PROBE_NAME,
                 log_level: int = logging.WARNING) -> None:
        self.log_level = log_level  # of "unreachable"/"lost" (a CLI says it once itself)
        self.host, self.port, self.timeout_s, self.retry_s = host, int(port), timeout_s, retry_s
        self.names = (image_name, spots_name, probe_name)
        self.sent = 0  # messages sent
        self.failures = 0  # connection attempts that failed, connections lost
        self._limited = RateLimitedLog(log)
        self._connected = False
        self._pending: dict[str, bytes] = {}  # device name -> newest message not yet sent
        self._cond = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="slicer-link", daemon=True)
        self._thread.start()

    @property
    def connected(self) -> bool:
        """True while connected to the server."""
        return self._connected

    def send_image(self, image: Image) -> None:
        """Queue the activity image (replaces one not yet sent)."""
        self._queue(self.names[0], image_message(image, self.names[0]))

    def send_spots(self, spots: Sequence[Spot]) -> None:
        """Queue the hot spots as one POINT message."""
        self._queue(self.names[1], spots_message(spots, self.names[1]))

    def send_probe(self, pose: PoseSample) -> None:
        """Queue the probe's pose (only the newest is kept)."""
        self._queue(self.names[2], probe_message(pose, self.names[2]))

    def flush(self, timeout_s: float | None = None, fail_fast: bool = False) -> bool:
        """Wait until everything queued has been sent (True) or timeout_s (default: the
        link's timeout) has passed (False); with fail_fast, False at the first failed
        connection attempt or lost connection meanwhile (a command line's one try)."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        with self._cond:
            failures = self.failures
            while self._pending and not self._stop:
                left = deadline - time.monotonic()
                if left <= 0 or (fail_fast and self.failures > failures):
                    return False
                self._cond.wait(left)
            return not self._pending

    def close(self) -> None:
        """Stop the thread (what is not sent yet is dropped)."""
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=self.timeout_s + 1.0)

    def __enter__(self) -> SlicerLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------ the thread

    def _queue(self, name: str, message: object) -> None:
        data = igtl_wire.pack(message)
        with self._cond:
            self._pending[name] = data
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait()
                if self._stop:
                    return
            sock = self._connect()
            if sock is None:
                with self._cond:
                    self._cond.notify_all()  # a flush(fail_fast) gives up
                    self._cond.wait(self.retry_s)  # close() wakes it
                continue
            try:
                self._serve(sock)
            finally:
                self._connected = False
                sock.close()
                with self._cond:
                    self._cond.notify_all()

    def _connect(self) -> socket.socket | None:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.timeout_s)
        except OSError as exc:
            self.failures += 1
            self._limited.log(self.log_level, "connect", "3D Slicer at %s:%d unreachable (%s)",
                              self.host, self.port, exc.strerror or exc)
            return None
        sock.settimeout(self.timeout_s)
        self._connected = True
        log.info("3D Slicer: connected to %s:%d", self.host, self.port)
        return sock

    def _serve(self, sock: socket.socket) -> None:
        """Send what is pending until the connection fails or close()."""
        while True:
            with self._cond:
                while not self._pending and not self._stop:
                    self._cond.wait(0.2)
                    if not self._alive(sock):
                        return
                if self._stop:
                    return
                name, data = next(iter(self._pending.items()))
            try:
                sock.sendall(data)
            except OSError as exc:
                self.failures += 1
                self._limited.log(self.log_level, "lost",
                                  "3D Slicer at %s:%d: sending failed (%s)",
                                  self.host, self.port, exc.strerror or exc)
                return  # the message stays pending: sent again after reconnecting
            with self._cond:
                if self._pending.get(name) is data:
                    del self._pending[name]
                self.sent += 1
                self._cond.notify_all()

    def _alive(self, sock: socket.socket) -> bool:
        """Read and drop what the server sent (replies, STATUS); False if it closed."""
        try:
            sock.setblocking(False)
            try:
                data = sock.recv(65536)
            finally:
                sock.settimeout(self.timeout_s)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            self.failures += 1
            return False
        if not data:
            self.failures += 1
            self._limited.log(self.log_level, "lost",
                              "3D Slicer at %s:%d closed the connection", self.host, self.port)
            return False
        return True
