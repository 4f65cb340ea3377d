"""The console's navigation: a Navigator (probe_nav.live.navigation) fed by the live session,
its snapshot on the Navigate tab and its aim in the sound.

In training the simulated patient's probe pose reaches the console the way a real tracker's
would: the simulator serves it over OpenIGTLink on loopback (probe_nav.simulator.pose_server)
and the console reads it with the OpenIGTLink client (probe_nav.drivers.tracking.igtl_client).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from probe_nav.gui.audio_bridge import AudioBridge
from probe_nav.gui.navigation_panel import NavigationPanel

log = logging.getLogger(__name__)
TRAINING_TRACKER_HZ = 60.0  # an optical tracker's rate


class ConsoleNavigation:
    """Owns the Navigator (and, in training, the simulator's pose server) of the session shown."""

    def __init__(self, panel: NavigationPanel, audio: AudioBridge) -> None:
        self.panel = panel
        self.audio = audio
        self.navigator: Any = None
        self._pose_server: Any = None
        self.posed: Any = None  # PosedRecording of the session shown
        self.slicer: Any = None  # SlicerFeed to 3D Slicer, if asked for
        panel.new_sweep_requested.connect(self.new_sweep)

    @property
    def active(self) -> bool:
        """True while a navigator runs."""
        return self.navigator is not None

    def start_training(self, sim: Any) -> Any:
        """A Navigator on a TrainingSim: the pose served over OpenIGTLink on loopback, read back
        by the OpenIGTLink client; the response model from the scenario's probe and tracer."""
        from probe_nav.drivers.tracking.igtl_client import IgtlPoseSource
        from probe_nav.simulator.pose_server import PoseServer, device_pose_at

        self.stop()
        server = PoseServer(device_pose_at(sim.server), rate_hz=TRAINING_TRACKER_HZ).start()
        try:
            source = IgtlPoseSource("127.0.0.1", server.port)
            scenario = sim.scenario
            navigator = self._navigator(scenario.probe, scenario.nuclide_name, scenario.tissue,
                                        source, device_s_per_host_s=sim.server.speed)
        except BaseException:
            server.stop()
            raise
        self._pose_server, self.navigator = server, navigator
        return navigator

    def start(self, probe: Any, nuclide_name: str, source: Any, latency_s: float = 0.0,
              skin_z_mm: float = 0.0) -> Any:
        """A Navigator on a real probe (its ProbeModel) and a pose source."""
        self.stop()
        self.navigator = self._navigator(probe, nuclide_name, None, source, latency_s, skin_z_mm)
        return self.navigator

    def _navigator(self, probe: Any, nuclide_name: str, tissue: Any, source: Any,
                   latency_s: float = 0.0, skin_z_mm: float = 0.0,
                   device_s_per_host_s: float = 1.0) -> Any:
        from probe_nav.live.navigation import Navigator
        from probe_nav.navigation.response import ResponseModel

        model = ResponseModel(probe, nuclide_name, skin_z_mm=skin_z_mm, tissue=tissue)
        self.panel.skin_z_mm = skin_z_mm
        return Navigator(model, source, latency_s=latency_s,
                         device_s_per_host_s=device_s_per_host_s)

    def record_into(self, recorder: Any) -> None:
        """Record the navigator's posed frames beside the session's (SESSION/posed.csv); without
        a session recording (NOT RECORDING) or on a failure to start, none (logged)."""
        from probe_nav.errors import UserError
        from probe_nav.live.posed_recording import PosedRecording

        self._close_posed()
        if self.navigator is None or recorder is None:
            return
        try:
            self.posed = PosedRecording(recorder.directory)
        except (OSError, UserError) as exc:
            log.warning("posed frames not recorded: %s", exc)
            return
        self.navigator.on_posed = self.posed.write

    def _close_posed(self) -> None:
        posed, self.posed = self.posed, None
        if posed is not None:
            posed.close()

    def new_sweep(self) -> None:
        """Start the reconstruction again (the spots so far are forgotten)."""
        if self.navigator is not None:
            self.navigator.reset()

    def connect_slicer(self, host: str, port: int) -> None:
        """Send the probe, the spots and the image to 3D Slicer's OpenIGTLink server
        (docs/slicer.md); an absent Slicer is logged and retried, never waited for."""
        from probe_nav.io.igtl_out import SlicerLink
        from probe_nav.live.slicer_feed import SlicerFeed

        if self.slicer is not None:
            self.slicer.close()
        self.slicer = SlicerFeed(SlicerLink(host, port))

    def tick(self, draw_scene: bool, counts_live: bool) -> None:
        """Show the navigation state; the aim sounds only while the counts are live too."""
        snapshot = self.navigator.snapshot() if self.navigator is not None else None
        display = self.panel.show_snapshot(snapshot, draw_scene)
        self.audio.set_aim(display.aim if counts_live else None)
        if self.slicer is not None and snapshot is not None:
            self.slicer.update(snapshot, time.monotonic())

    def close(self) -> None:
        """Stop navigating and close the link to Slicer (the console is closing)."""
        self.stop()
        if self.slicer is not None:
            self.slicer.close()
            self.slicer = None

    def stop(self) -> None:
        """Stop the navigator and the pose server (idempotent); Slicer stays connected."""
        navigator, server = self.navigator, self._pose_server
        self.navigator = self._pose_server = None
        if navigator is not None:
            try:
                navigator.close()  # hands its last frames to posed.csv first
            except Exception:  # closing must not stop the console from going on
                log.exception("navigator did not close cleanly")
        self._close_posed()
        if server is not None:
            server.stop()
