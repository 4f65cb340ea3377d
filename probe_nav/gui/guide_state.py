"""What the navigation guide shows, decided without Qt: the status, and the guidance numbers only
while they are true now.

The guidance is geometry between the live pose and a reconstructed spot, so it is shown only with
a fresh valid pose ("tracking"); with the pose lost or never seen the numbers are withheld and the
status says why, in words and colour, never an old arrow. The spots themselves may be seconds old
(the reconstruction runs behind the counts): their age is shown beside them. Only confident spots
(sd_mm <= CONFIDENT_SD_MM, the acceptance's line between a spot and noise) are guided to: early
in a sweep, or from a sweep that missed the node, the fit's best point may be hundreds of mm
uncertain, and an arrow to it would send the surgeon the wrong way with authority. And only
spots the sweep went around (Spot.swept_around, probe_nav.navigation.coverage): beside a single
line a spot's place has a mirror image and a deeper twin that its sd cannot show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from probe_nav.gui import style
from probe_nav.navigation.guidance import Guidance, aim_score, guide

CONFIDENT_SD_MM = 15.0
GUIDING, NO_POSE, LOST, NO_SPOT, OFF = "GUIDING", "NO POSE", "TRACKING LOST", "NO SPOT YET", "OFF"
CLOCK = "CLOCK MISMATCH"  # the device clock's rate is not the one assumed: no pose is true
STATUS_COLOURS = {
    CLOCK: (style.ALARM, "white"),
    GUIDING: (style.NOT_HOT, style.TEXT),
    NO_SPOT: (style.PANEL, style.TEXT),
    NO_POSE: (style.WARNING, "black"),
    LOST: (style.ALARM, "white"),
    OFF: (style.PANEL, style.GREY_TEXT),
}


def is_guided(spot: Any) -> bool:
    """Whether a spot is shown and guided to: confident (sd_mm <= CONFIDENT_SD_MM) and swept
    around (module docstring)."""
    return spot.sd_mm <= CONFIDENT_SD_MM and getattr(spot, "swept_around", True)


@dataclass(frozen=True)
class GuideDisplay:
    """The guide's content: status, the guidance (None unless GUIDING), the chosen spot's
    label, and a detail line about the reconstruction."""

    status: str
    guidance: Guidance | None
    spot_label: str
    detail: str
    aim: float | None  # the sound's aim score (None: silent)
    selected: int  # index of the chosen spot (-1: none)

    @property
    def colours(self) -> tuple[str, str]:
        """(background, text) of the status."""
        return STATUS_COLOURS[self.status]


def guide_display(snapshot: Any | None, selected: int = 0, skin_z_mm: float = 0.0
                  ) -> GuideDisplay:
    """The guide for a probe_nav.live.navigation.NavigationSnapshot (None: no navigation) with
    spot `selected` chosen (wrapped to the spots there are)."""
    if snapshot is None:
        return GuideDisplay(OFF, None, "", "navigation is off", None, -1)
    rate = getattr(snapshot, "clock_rate", None)
    if rate is not None:  # every pose would be at the wrong time: nothing is shown as found
        assumed = getattr(snapshot, "assumed_clock_rate", 1.0)
        return GuideDisplay(CLOCK, None, "", f"the probe's clock runs at {rate:.3g}x host time, "
                            f"{assumed:.3g}x expected: frames are not posed", None, -1)
    recon = snapshot.recon
    found = tuple(recon.spots) if recon is not None else ()
    spots = tuple(s for s in found if is_guided(s))
    frames = recon.n_frames if recon is not None else 0
    detail = f"{frames} posed frames · {snapshot.update_hz:.1f} updates/s"
    unposed = getattr(snapshot, "unposed_frames", 0)
    if unposed:
        detail += f" · {unposed} frames without pose"
    uncertain = sum(1 for s in found if s.sd_mm > CONFIDENT_SD_MM)
    beside = sum(1 for s in found if s.sd_mm <= CONFIDENT_SD_MM and not is_guided(s))
    if uncertain:
        detail += f" · {uncertain} uncertain (±>{CONFIDENT_SD_MM:.0f} mm)"
    if beside:
        detail += f" · {beside} beside the sweep"
    index = selected % len(spots) if spots else -1
    label = ""
    if spots:
        spot = spots[index]
        label = (f"spot {index + 1} of {len(spots)} · ±{spot.sd_mm:.0f} mm · "
                 f"{100 * spot.relative_activity:.0f} %")
        age = getattr(recon, "spots_age_frames", 0)
        if age:
            label += f" · {age} frames old"
    if snapshot.tracking == "no pose":
        return GuideDisplay(NO_POSE, None, label, detail, None, index)
    if snapshot.tracking != "tracking" or snapshot.pose is None:
        return GuideDisplay(LOST, None, label, detail, None, index)
    if not spots:
        ask = "sweep across and around it" if beside else "sweep the probe over the area"
        return GuideDisplay(NO_SPOT, None, ask, detail, None, -1)
    spot = spots[index]
    g = guide(snapshot.pose.position_mm, snapshot.pose.axis,
              (spot.x_mm, spot.y_mm, spot.z_mm), skin_z_mm)
    return GuideDisplay(GUIDING, g, label, detail, aim_score(g.off_axis_deg), index)
