"""The live monitor's logic, free of I/O: device events in, one snapshot per update out.

A reading is only shown while the link is CONNECTED; on STALE or DISCONNECTED the rate is None
(the display says NO SIGNAL) and the estimator restarts when frames come back, so nothing from
before a gap is passed off as live.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from probe_nav.core.rate import RateMeter, make_meter
from probe_nav.drivers.device import DeviceEvent, FrameEvent, InfoEvent, LinkEvent, StatusEvent
from probe_nav.drivers.frames import (
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    FaultFlag,
    LinkState,
    LinkStats,
)


@dataclass
class MonitorState:
    """Accumulates device events; `snapshot` says what the monitor shows now."""

    meter_name: str = "adaptive"
    meter: RateMeter = field(init=False)
    rate_cps: float | None = None
    rate_sd_cps: float | None = None
    info: DeviceInfo | None = None
    status: DeviceStatus | None = None
    link: LinkState = LinkState.CONNECTING
    link_reason: str = ""
    last_frame: CountFrame | None = None
    frames: int = 0

    def __post_init__(self) -> None:
        self.meter = make_meter(self.meter_name)

    def handle(self, event: DeviceEvent) -> None:
        """Take one device event into account."""
        if isinstance(event, FrameEvent):
            self.frames += 1
            self.last_frame = event.frame
            est = self.meter.process(
                np.array([event.frame.total_window0]), np.array([event.frame.live_s])
            )
            if est.eff_live_s[0] > 0:
                self.rate_cps = float(est.rate_cps[0])
                self.rate_sd_cps = float(est.rate_sd_cps[0])
        elif isinstance(event, LinkEvent):
            if event.state is not LinkState.CONNECTED:
                self._forget()
            self.link = event.state
            self.link_reason = event.reason
        elif isinstance(event, InfoEvent):
            self.info = event.info
        elif isinstance(event, StatusEvent):
            self.status = event.status

    def _forget(self) -> None:
        """Nothing from before a gap may be shown as live: restart the estimate."""
        self.meter.reset()
        self.rate_cps = self.rate_sd_cps = None

    def snapshot(self, t_s: float, link: LinkState, stats: LinkStats) -> dict[str, Any]:
        """The monitor's output at host time `t_s`: JSON-ready, rate None unless live."""
        if link is not LinkState.CONNECTED:
            self._forget()
        live = link is LinkState.CONNECTED and self.rate_cps is not None
        frame = self.last_frame
        flags = frame.flags if frame is not None else FaultFlag.NONE
        if self.status is not None:
            flags |= self.status.faults
        return {
            "t_s": round(t_s, 3),
            "rate_cps": round(self.rate_cps, 3) if live else None,
            "rate_sd_cps": round(self.rate_sd_cps, 3) if live else None,
            "link": link.value,
            "link_reason": self.link_reason,  # why the link is in that state (no answer, ...)
            "device_t_s": frame.t_s if frame is not None else None,
            "frames": stats.frames,
            "dropped_frames": stats.dropped_frames,
            "bad_frames": stats.bad_frames,
            "reconnects": stats.reconnects,
            "faults": [f.name.lower() for f in FaultFlag if f and f in flags],
            "battery_pct": self.status.battery_pct if self.status else None,
            "device": None
            if self.info is None
            else {"model": self.info.model, "serial": self.info.serial,
                  "firmware": self.info.firmware, "protocol": self.info.protocol},
        }


def format_line(snap: dict[str, Any]) -> str:
    """One human-readable status line for a terminal."""
    if snap["rate_cps"] is None:
        reading = f"{'NO SIGNAL':>22}"
    else:
        reading = f"{snap['rate_cps']:>10.1f} ± {snap['rate_sd_cps']:<7.1f}cps"
    dev = snap["device"]
    who = f"{dev['model']} #{dev['serial']}" if dev else "(identifying…)"
    faults = (" FAULT:" + ",".join(snap["faults"])) if snap["faults"] else ""
    if snap["link"] != "connected" and snap.get("link_reason"):
        faults += f" ({snap['link_reason']})"
    battery = f" bat {snap['battery_pct']}%" if snap["battery_pct"] is not None else ""
    sound = ""
    if "audio" in snap:  # monitor --audio
        sound = f"  sound: {snap['audio']}"
        if snap.get("alarm"):
            sound += f" ALARM {snap['alarm']}"
    return (
        f"{snap['t_s']:7.1f} s {reading}  link {snap['link']:<12} frames {snap['frames']}"
        f" lost {snap['dropped_frames']} bad {snap['bad_frames']}{battery}{faults}{sound}  {who}"
    )
