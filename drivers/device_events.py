"""What a Device puts on its event queue; apart from device.py so link_state.py can emit too."""

from __future__ import annotations

from dataclasses import dataclass

from probe_nav.drivers.frames import CountFrame, DeviceInfo, DeviceStatus, LinkState


@dataclass(frozen=True, slots=True)
class FrameEvent:
    """A new CountFrame, with the host clock at its arrival."""

    frame: CountFrame
    host_s: float


@dataclass(frozen=True, slots=True)
class StatusEvent:
    """A new DeviceStatus."""

    status: DeviceStatus
    host_s: float


@dataclass(frozen=True, slots=True)
class InfoEvent:
    """The device told us who it is."""

    info: DeviceInfo
    host_s: float


@dataclass(frozen=True, slots=True)
class LinkEvent:
    """The link state changed; `reason` says why in words."""

    state: LinkState
    reason: str
    host_s: float


DeviceEvent = FrameEvent | StatusEvent | InfoEvent | LinkEvent
