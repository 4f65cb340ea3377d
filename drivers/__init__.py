"""Drivers: bytes in, CountFrames out (frame types, transports, codecs, device classes)."""

from probe_nav.drivers.frames import (
    CountFrame,
    DeviceInfo,
    DeviceStatus,
    EnergyWindow,
    FaultFlag,
    LinkState,
)

__all__ = ["CountFrame", "DeviceInfo", "DeviceStatus", "EnergyWindow", "FaultFlag", "LinkState"]
