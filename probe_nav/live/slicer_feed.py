"""The live navigation state out to 3D Slicer: the probe at the display's rate, the spots and
the activity image whenever the reconstruction has published new ones (the image at most every
IMAGE_PERIOD_S: each is tens of kB to pack and CRC). Through probe_nav.io.igtl_out.SlicerLink,
whose thread owns the socket, so the caller never waits on the network.

The probe is sent only while it is tracked: a lost tracker leaves Slicer's probe where it was
last seen, and Slicer shows the transform's age, rather than a guessed pose.
"""

from __future__ import annotations

from typing import Any

IMAGE_PERIOD_S = 1.0


class SlicerFeed:
    """Forwards NavigationSnapshots (probe_nav.live.navigation) to a SlicerLink."""

    def __init__(self, link: Any, image_period_s: float = IMAGE_PERIOD_S) -> None:
        self.link = link
        self.image_period_s = float(image_period_s)
        self._recon: Any = None
        self._spots: tuple[Any, ...] | None = None
        self._image_at_s = -float("inf")
        self.images_sent = self.spots_sent = self.probes_sent = 0

    def update(self, snapshot: Any, now_s: float) -> None:
        """Send what changed in this snapshot (now_s: the caller's monotonic clock)."""
        if snapshot is None:
            return
        if snapshot.tracking == "tracking" and snapshot.pose is not None:
            self.link.send_probe(snapshot.pose)
            self.probes_sent += 1
        recon = snapshot.recon
        if recon is None or recon is self._recon:
            return
        spots = tuple(recon.spots)
        if spots != self._spots:
            self.link.send_spots(spots)
            self._spots = spots
            self.spots_sent += 1
        if recon.image is not None and now_s - self._image_at_s >= self.image_period_s:
            self.link.send_image(recon.image)
            self._image_at_s = now_s
            self.images_sent += 1
            self._recon = recon  # a newer image waits for the period; spots go at once
        elif recon.image is None:
            self._recon = recon

    def close(self) -> None:
        """Close the link."""
        self.link.close()
