"""The live monitor's logic, free of I/O: device events in, one snapshot per update out.

A reading is only shown while the link is CONNECTED; on STALE or DISCONNECTED the rate is None
(the display says NO SIGNAL) and the estimator restarts when frames come back, so nothing from
before a gap is passed off as live.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from drivers.device import DeviceEvent, FrameEvent, InfoEvent, LinkEvent, StatusEvent
from drivers.frames import CountFrame, DeviceInfo, DeviceStatus, FaultFlag, LinkState, LinkStats


class ExponentialMeter:
    """The classic rate meter r += (dt/tau)(x/dt - r) in its exact discrete form, on live time.

    Frame i of live time l_i and age a_i gets weight l_i exp(-a_i / tau), so the first second is a
    plain mean rather than a climb from zero; the Poisson variance of the weighted mean is
    r S2 / S1^2 with S1 = sum of weights and S2 = sum of weight^2 / l_i, which tends to the
    textbook r / (2 tau) in steady state (DOMAIN.md).
    """

    def __init__(self, tau_s: float = 1.0) -> None:
        self.tau_s = tau_s
        self.reset()

    def reset(self) -> None:
        """Forget everything (after a gap in the data)."""
        self.rate_cps: float | None = None
        self._s1 = 0.0
        self._s2 = 0.0

    def push(self, counts: int, live_s: float) -> float | None:
        """Add one frame; returns the current rate estimate in cps (None before any live time)."""
        if live_s <= 0:
            return self.rate_cps
        q = math.exp(-live_s / self.tau_s)
        self._s1 = self._s1 * q + live_s
        self._s2 = self._s2 * q * q + live_s
        x_cps = counts / live_s
        alpha = live_s / self._s1
        self.rate_cps = x_cps if self.rate_cps is None else self.rate_cps + alpha * (
            x_cps - self.rate_cps
        )
        return self.rate_cps

    @property
    def rate_sd_cps(self) -> float | None:
        """Poisson sd of the estimate; the rate is floored at one count per memory so sd > 0."""
        if self.rate_cps is None:
            return None
        memory_s = self._s1 * self._s1 / self._s2
        return math.sqrt(max(self.rate_cps, 1.0 / memory_s) * self._s2) / self._s1


@dataclass
class MonitorState:
    """Accumulates device events; `snapshot` says what the monitor shows now."""

    tau_s: float = 1.0
    meter: ExponentialMeter = field(init=False)
    info: DeviceInfo | None = None
    status: DeviceStatus | None = None
    link: LinkState = LinkState.CONNECTING
    link_reason: str = ""
    last_frame: CountFrame | None = None
    frames: int = 0

    def __post_init__(self) -> None:
        self.meter = ExponentialMeter(self.tau_s)

    def handle(self, event: DeviceEvent) -> None:
        """Take one device event into account."""
        if isinstance(event, FrameEvent):
            self.frames += 1
            self.last_frame = event.frame
            self.meter.push(event.frame.total_window0, event.frame.live_s)
        elif isinstance(event, LinkEvent):
            if event.state is not LinkState.CONNECTED:
                self.meter.reset()
            self.link = event.state
            self.link_reason = event.reason
        elif isinstance(event, InfoEvent):
            self.info = event.info
        elif isinstance(event, StatusEvent):
            self.status = event.status

    def snapshot(self, t_s: float, link: LinkState, stats: LinkStats) -> dict[str, Any]:
        """The monitor's output at host time `t_s`: JSON-ready, rate None unless live."""
        if link is not LinkState.CONNECTED:
            self.meter.reset()
        live = link is LinkState.CONNECTED and self.meter.rate_cps is not None
        frame = self.last_frame
        flags = frame.flags if frame is not None else FaultFlag.NONE
        if self.status is not None:
            flags |= self.status.faults
        return {
            "t_s": round(t_s, 3),
            "rate_cps": round(self.meter.rate_cps, 3) if live else None,
            "rate_sd_cps": round(self.meter.rate_sd_cps or 0.0, 3) if live else None,
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
    return (
        f"{snap['t_s']:7.1f} s {reading}  link {snap['link']:<12} frames {snap['frames']}"
        f" lost {snap['dropped_frames']} bad {snap['bad_frames']}{battery}{faults}  {who}"
    )
