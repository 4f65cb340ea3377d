"""Drivers: bytes in, CountFrames out. Frame types, transports, protocol codecs and device classes."""

from drivers.frames import CountFrame, DeviceInfo, DeviceStatus, EnergyWindow, FaultFlag, LinkState

__all__ = ["CountFrame", "DeviceInfo", "DeviceStatus", "EnergyWindow", "FaultFlag", "LinkState"]
