"""What the terminal monitor shows, free of I/O: a LiveSession snapshot in, one JSON-ready update
out (and a one-line text form of it).

The monitor runs on the same LiveSession as the console (probe_nav/cli/monitor.py builds it):
a number is only shown while the link is CONNECTED and the reading is in range. On STALE or
DISCONNECTED every number is None (the line says NO SIGNAL); while over range too (OVER RANGE):
the counter's reading is then not a valid rate, whatever it is.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from probe_nav.core.background import Background
from probe_nav.core.pipeline import Reading
from probe_nav.drivers.frames import (
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    FaultFlag,
    LinkState,
    LinkStats,
)


class SnapshotLike(Protocol):
    """The fields of probe_nav.live.LiveSnapshot the monitor reads."""

    link: LinkState
    link_reason: str
    reading: Reading | None
    last_frame: CountFrame | None
    info: DeviceInfo | None
    status: DeviceStatus | None
    stats: LinkStats
    battery_pct: int | None
    faults: FaultFlag
    over_range: bool
    background: Background | None

    @property
    def live(self) -> bool:
        """True when `reading` may be shown as a live number."""
        ...


def _number(x: float, digits: int = 3) -> float | None:
    """A JSON number, None for inf/NaN (e.g. the sd before any live time)."""
    return round(x, digits) if math.isfinite(x) else None


def monitor_update(snap: SnapshotLike, t_s: float) -> dict[str, Any]:
    """The monitor's output at host time `t_s` (s since it started): numbers None unless live
    and in range."""
    reading = snap.reading if snap.live else None
    connected = snap.link is LinkState.CONNECTED
    over = bool(snap.over_range and connected)
    shown = reading if not over else None
    frame, info = snap.last_frame, snap.info
    stats = snap.stats

    def field(name: str) -> float | None:
        return None if shown is None else _number(float(getattr(shown, name)))

    def background_field(name: str) -> float | None:
        background = snap.background
        return None if background is None else _number(float(getattr(background, name)))

    return {
        "t_s": round(t_s, 3),
        "rate_cps": field("rate_cps"),
        "rate_sd_cps": field("rate_sd_cps"),
        "net_cps": field("net_cps"),
        "z": field("z"),
        "background_cps": background_field("rate_cps"),
        "background_sd_cps": background_field("sd_cps"),
        # no background set (neither --background-cps nor --background-s): no hot decision
        "hot": None if snap.background is None else bool(shown is not None and shown.hot),
        "over_range": over,
        "link": snap.link.value,
        "link_reason": snap.link_reason,  # why the link is in that state (no answer, ...)
        "device_t_s": frame.t_s if frame is not None else None,
        "frames": stats.frames,
        "dropped_frames": stats.dropped_frames,
        "bad_frames": stats.bad_frames,
        "reconnects": stats.reconnects,
        "faults": [f.name.lower() for f in FaultFlag if f and f.name and f in snap.faults],
        "battery_pct": snap.battery_pct,
        "device": None if info is None else {
            "model": info.model, "serial": info.serial, "firmware": info.firmware,
            "protocol": info.protocol},
    }


def format_line(snap: dict[str, Any]) -> str:
    """One human-readable status line for a terminal."""
    if snap.get("over_range"):
        reading = f"{'OVER RANGE':>22}"
    elif snap["rate_cps"] is None:
        reading = f"{'NO SIGNAL':>22}"
    else:
        sd = snap["rate_sd_cps"]
        sd_text = f"{sd:<7.1f}" if sd is not None else f"{'?':<7}"
        reading = f"{snap['rate_cps']:>10.1f} ± {sd_text}cps"
    dev = snap["device"]
    who = f"{dev['model']} #{dev['serial']}" if dev else "(identifying…)"
    faults = (" FAULT:" + ",".join(snap["faults"])) if snap["faults"] else ""
    if snap["link"] != "connected" and snap.get("link_reason"):
        faults += f" ({snap['link_reason']})"
    battery = f" bat {snap['battery_pct']}%" if snap["battery_pct"] is not None else ""
    hot = " HOT" if snap.get("hot") else ""
    if snap["rate_cps"] is not None and snap.get("hot") is None:
        hot = " (background not set)"
    sound = ""
    if "audio" in snap:  # monitor --audio
        sound = f"  sound: {snap['audio']}"
        if snap.get("alarm"):
            sound += f" ALARM {snap['alarm']}"
    return (
        f"{snap['t_s']:7.1f} s {reading}{hot}  link {snap['link']:<12} frames {snap['frames']}"
        f" lost {snap['dropped_frames']} bad {snap['bad_frames']}{battery}{faults}{sound}  {who}"
    )
