"""Live navigation: frames posed by the tracker and reconstructed on a worker thread.

The live session calls `on_frame(frame, host_s)` for every accepted frame (host_s: the host's
monotonic time of its arrival). The Navigator polls its PoseSource into a PoseTrack, maps the
device clock to the host's (ClockMap) and gives the frame the pose at the host time of its
mid-interval less the pose-to-count latency (probe_nav.navigation.sync defines it and its sign).
A frame whose pose has not arrived yet waits (up to POSE_WAIT_S: a tracker's samples come late
too); a frame with no pose then is counted in `unposed_frames` and never posed by a guess.

Posed frames go through a queue to a worker thread that owns the LiveReconstruction: after new
frames it reconstructs the image and publishes a snapshot, and between images it runs the spot
search one fit at a time, publishing after each; so on_frame never waits for the
reconstruction. `snapshot()` returns the latest published reconstruction with the probe's pose
and the tracking state, read under a lock.

on_frame, poll_poses, snapshot and reset are called from one thread (the session's); close()
joins the worker.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from probe_nav.drivers.frames import CountFrame
from probe_nav.drivers.tracking.pose import PoseSample, PoseSource
from probe_nav.navigation.live_recon import VOXEL_MM, LiveReconstruction, ReconSnapshot
from probe_nav.navigation.response import ResponseModel
from probe_nav.navigation.sync import ClockMap, PoseTrack

log = logging.getLogger(__name__)

TRACKING_AGE_S = 0.25  # a valid pose younger than this: "tracking"; older: "lost"
POSE_WAIT_S = 0.5  # a frame waits this long (host time) for the tracker's samples around it
RATE_WINDOW_S = 5.0  # update_hz counts the snapshots published over this long
IDLE_WAIT_S = 0.1  # the worker's longest sleep on an empty queue
IMAGE_PERIOD_S = 0.3  # during a spot fit, new frames are imaged at most this often
_RESET = object()
_STOP = object()


@dataclass(frozen=True)
class NavigationSnapshot:
    """What the navigation view shows now."""

    recon: ReconSnapshot | None  # None until the first reconstruction (or after a reset)
    pose: PoseSample | None  # the latest valid pose
    pose_age_s: float | None  # how old that pose is (host clock)
    tracking: str  # "tracking", "lost" or "no pose"
    update_hz: float  # reconstructions published per second, over RATE_WINDOW_S
    posed_frames: int  # frames given a pose since the last reset
    unposed_frames: int  # frames without one (no pose at their time): not reconstructed
    latency_s: float  # the pose-to-count latency in use
    clock_resets: int  # device clock resets or jumps seen
    error: str = ""  # the reconstruction's last failure, if any
    # the device clock's rate (device s per host s) when it is not the one assumed
    # (ClockMap.measured_rate): frames are not posed meanwhile; None while it agrees
    clock_rate: float | None = None
    assumed_clock_rate: float = 1.0


class Navigator:
    """Poses frames and reconstructs them on a worker thread (module docstring)."""

    def __init__(self, model: ResponseModel, pose_source: PoseSource, latency_s: float = 0.0,
                 voxel_mm: float = VOXEL_MM, background_cps: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 reconstruction: LiveReconstruction | None = None,
                 on_posed: Callable[[CountFrame, PoseSample | None], None] | None = None,
                 device_s_per_host_s: float = 1.0) -> None:
        if not math.isfinite(latency_s):
            raise ValueError(f"the latency must be finite, got {latency_s}")
        self.source = pose_source
        self.latency_s = float(latency_s)
        # every frame handled, with its pose or None, on the caller's thread (posed.csv)
        self.on_posed = on_posed
        self._clock = clock
        self._track = PoseTrack()
        # the device clock's rate: 1 for a probe, the speed of a simulator played faster
        self._clock_map = ClockMap(device_s_per_host_s=device_s_per_host_s)
        # (query host s or None: no pose, arrival, frame)
        self._pending: deque[tuple[float | None, float, CountFrame]] = deque()
        self._latest_valid: PoseSample | None = None
        self._latest: PoseSample | None = None
        self._posed = self._unposed = 0
        self._source_failing = False
        self._clock_rate: float | None = None  # measured when not the assumed rate
        self._recon = reconstruction if reconstruction is not None else LiveReconstruction(
            model, voxel_mm, background_cps)
        self._queue: queue.Queue[object] = queue.Queue()
        self._held: deque[object] = deque()  # a reset or stop met during a spot fit
        self._last_image_s = -math.inf  # time.monotonic of the last image (worker pacing)
        self._recon.between_steps = self._between_fit_steps
        self._lock = threading.Lock()
        self._published: ReconSnapshot | None = None
        self._reset_pending = False  # a reset is queued: what the worker has is stale
        self._publish_s: deque[float] = deque()
        self._error = ""
        self._thread = threading.Thread(target=self._run, name="navigator", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ the caller's thread

    def poll_poses(self) -> None:
        """Take the source's new samples into the track and pose the frames waiting for them."""
        try:
            samples = self.source.poll()
            self._source_failing = False
        except Exception:  # a failing source is "lost", not a crash of the session
            if not self._source_failing:  # once per failure, not at every poll
                log.exception("pose source %s failed", getattr(self.source, "name", "?"))
            self._source_failing = True
            samples = []
        for sample in samples:
            if self._track.add(sample):
                self._latest = sample
                if sample.valid:
                    self._latest_valid = sample
        self._pose_pending(self._clock())

    def on_frame(self, frame: CountFrame, host_s: float) -> None:
        """A frame the session accepted, with its host arrival time: map its clock, queue it
        for its pose (never blocks on the reconstruction)."""
        if self._clock_map.add(frame.t_s, host_s):
            log.info("device clock reset or jump at t_s %r: the clock map restarts", frame.t_s)
        if self._clock_mismatch():  # no pose, in its turn
            self._pending.append((None, host_s, frame))
        else:
            host_mid = self._clock_map.to_host(frame.t_s - frame.real_s / 2.0)
            assert host_mid is not None  # a pair was just added
            self._pending.append((host_mid - self.latency_s, host_s, frame))
        self.poll_poses()

    def _clock_mismatch(self) -> bool:
        """Whether the device clock runs at another rate than the one assumed (logged when it
        starts and ends): a frame's host time, hence its pose, would be wrong, so none is
        given."""
        rate = self._clock_map.measured_rate()
        if (rate is None) != (self._clock_rate is None):
            if rate is not None:
                log.warning("the device clock runs at %.4gx host time, %.4gx assumed: frames are "
                            "not posed until it agrees", rate,
                            self._clock_map.device_s_per_host_s)
            else:
                log.info("the device clock's rate agrees again: frames are posed")
        self._clock_rate = rate
        return rate is not None

    def _pose_pending(self, now_s: float) -> None:
        """Pose the waiting frames whose time the track has passed; give up on the ones that
        waited POSE_WAIT_S."""
        latest = self._track.latest()
        while self._pending:
            query_s, arrival_s, frame = self._pending[0]
            if query_s is None:  # the clock's rate was wrong: never posed
                pose = None
            elif latest is None or latest.host_s < query_s:
                if now_s - arrival_s < POSE_WAIT_S:
                    return
                pose = None
            else:
                pose = self._track.at(query_s)
            self._pending.popleft()
            if self.on_posed is not None:
                self.on_posed(frame, pose)
            if pose is None:
                self._unposed += 1
                continue
            self._posed += 1
            self._queue.put((pose.position_mm, pose.axis, frame.live_s,
                             float(frame.total_window0)))

    def snapshot(self) -> NavigationSnapshot:
        """The latest reconstruction, the probe's pose and the tracking state (polls the pose
        source first, so the probe moves even when no frame comes)."""
        self.poll_poses()
        now = self._clock()
        pose = self._latest_valid
        age = None if pose is None else max(0.0, now - pose.host_s)
        if pose is None:
            tracking = "no pose"
        elif (self._latest is not None and not self._latest.valid) or age is None \
                or age > TRACKING_AGE_S:
            tracking = "lost"
        else:
            tracking = "tracking"
        with self._lock:
            recon, error = self._published, self._error
            while self._publish_s and self._publish_s[0] < now - RATE_WINDOW_S:
                self._publish_s.popleft()
            hz = len(self._publish_s) / RATE_WINDOW_S
        return NavigationSnapshot(recon, pose, age, tracking, hz, self._posed, self._unposed,
                                  self.latency_s, self._clock_map.resets, error,
                                  self._clock_rate, self._clock_map.device_s_per_host_s)

    def reset(self) -> None:
        """A new sweep: the reconstruction starts again (the poses and clock map are kept)."""
        self._posed = self._unposed = 0
        self._pending.clear()
        with self._lock:
            self._published = None
            self._publish_s.clear()
            self._reset_pending = True
        self._queue.put(_RESET)

    def close(self) -> None:
        """Hand the frames still waiting for a pose to on_posed (posed if the track has their
        time, else without), stop the worker (join it) and close the pose source."""
        try:
            self.poll_poses()
            self._pose_pending(math.inf)
        except Exception:  # closing goes on: the frames are in the session's own file
            log.exception("frames waiting for a pose not handed on at close")
        self._queue.put(_STOP)
        self._thread.join(timeout=10.0)
        if self._thread.is_alive():
            log.warning("the navigation worker did not stop within 10 s")
        self.source.close()

    # ------------------------------------------------------------ the worker thread

    def _take(self, block: bool, during_fit: bool = False) -> tuple[int, bool]:
        """Frames from the queue into the reconstruction: (frames added, stop asked). During a
        spot fit a reset or stop is held back (not acted on) until the fit is over."""
        added = 0
        if during_fit and self._held:
            return 0, False
        while True:
            if self._held and not during_fit:
                item = self._held.popleft()
            else:
                try:
                    item = self._queue.get(timeout=IDLE_WAIT_S) if block and added == 0 \
                        else self._queue.get_nowait()
                except queue.Empty:
                    return added, False
            block = False
            if during_fit and (item is _STOP or item is _RESET):
                self._held.append(item)
                return added, False
            if item is _STOP:
                return added, True
            if item is _RESET:
                self._recon.reset()
                with self._lock:
                    self._reset_pending = False
                added = 0
                continue
            position, axis, live_s, counts = item  # type: ignore[misc]
            self._recon.add(position, axis, live_s, counts)
            added += 1

    def _image(self) -> None:
        self._publish(self._recon.update_image())
        self._last_image_s = time.monotonic()

    def _between_fit_steps(self) -> None:
        """During a spot fit: image the new frames if the last image is IMAGE_PERIOD_S old
        (wall-clock pacing of the worker only; nothing shown depends on it)."""
        if time.monotonic() - self._last_image_s < IMAGE_PERIOD_S:
            return
        try:
            if self._take(block=False, during_fit=True)[0]:
                self._image()
        except Exception as exc:  # reported like the worker's own failures
            log.exception("live reconstruction failed")
            with self._lock:
                self._error = f"reconstruction failed: {exc}"

    def _publish(self, recon: ReconSnapshot) -> None:
        with self._lock:
            if self._reset_pending:  # computed from the frames of the sweep just reset
                return
            self._published = recon
            self._publish_s.append(self._clock())

    def _run(self) -> None:
        while True:
            busy = self._recon.spot_cycle_open
            added, stop = self._take(block=not busy)
            if stop:
                return
            try:
                if added:
                    self._image()
                steps = self._recon.spot_steps
                recon = self._recon.update_spots()
                if self._recon.spot_steps != steps:
                    self._publish(recon)
            except Exception as exc:  # reported in the snapshot; the session goes on
                log.exception("live reconstruction failed")
                with self._lock:
                    self._error = f"reconstruction failed: {exc}"
