"""Serial port discovery: what is plugged in, and what its USB IDs suggest it is.

USB IDs only name the USB-serial bridge, not the instrument behind it (a CH340 is in GQ counters
and in countless Arduino clones), so a match is a hint for autodetection, never a verdict.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from serial.tools import list_ports


@dataclass(frozen=True, slots=True)
class KnownUsb:
    """A USB vendor/product ID and the probes that are usually behind it."""

    vid: int
    pid: int | None  # None: any product of the vendor
    name: str
    protocols: tuple[str, ...]  # driver names to try first; empty if no built-in driver fits


KNOWN_USB_IDS: tuple[KnownUsb, ...] = (
    KnownUsb(0x1A86, 0x7523, "QinHeng CH340 (GQ GMC counters; also Arduino clones)", ("gmc",)),
    KnownUsb(0x0483, 0xF123, "RadiaCode 10x (USB bulk, not a serial port; no built-in driver)",
             ()),
    KnownUsb(0x2E8A, 0x000A, "Raspberry Pi Pico, arduino-pico (Open Gamma Detector)", ("ogd",)),
    KnownUsb(0x0403, 0x6001, "FTDI FT232R (MightyOhm kit's FTDI cable, ASCII counters)",
             ("mightyohm", "ascii")),
    KnownUsb(0x0403, 0x6015, "FTDI FT-X (MightyOhm kit's FTDI cable, ASCII counters)",
             ("mightyohm", "ascii")),
    KnownUsb(0x0403, None, "FTDI USB-serial", ("mightyohm", "ascii")),
    KnownUsb(0x10C4, 0xEA60, "Silicon Labs CP210x USB-serial", ("ascii",)),
    KnownUsb(0x067B, 0x2303, "Prolific PL2303 USB-serial", ("ascii",)),
    KnownUsb(0x2341, None, "Arduino", ("ascii", "probelink")),
)


def recognise(vid: int | None, pid: int | None) -> KnownUsb | None:
    """The table entry for a VID:PID (exact product first, then vendor-wide), None if unknown."""
    if vid is None:
        return None
    exact = [k for k in KNOWN_USB_IDS if k.vid == vid and k.pid == pid]
    vendor = [k for k in KNOWN_USB_IDS if k.vid == vid and k.pid is None]
    matches = exact or vendor
    return matches[0] if matches else None


@dataclass(frozen=True, slots=True)
class PortInfo:
    """One serial port as the operating system lists it."""

    device: str
    vid: int | None = None
    pid: int | None = None
    serial_number: str | None = None
    description: str = ""
    manufacturer: str | None = None

    @property
    def vid_pid(self) -> str:
        """'1A86:7523', or '' for a port without USB IDs."""
        if self.vid is None or self.pid is None:
            return ""
        return f"{self.vid:04X}:{self.pid:04X}"

    @property
    def known(self) -> KnownUsb | None:
        """What the USB IDs suggest."""
        return recognise(self.vid, self.pid)


def list_serial_ports() -> list[PortInfo]:
    """The serial ports of this machine, sorted by device name."""
    ports = [
        PortInfo(
            device=p.device,
            vid=p.vid,
            pid=p.pid,
            serial_number=p.serial_number,
            description="" if p.description in (None, "n/a") else str(p.description),
            manufacturer=p.manufacturer,
        )
        for p in list_ports.comports()
    ]
    return sorted(ports, key=lambda p: p.device)


def port_for_url(url: str) -> PortInfo | None:
    """The listed port a device path (or a symlink to one) refers to; None for URLs and ptys."""
    if "://" in url:
        return None
    target = os.path.realpath(url)
    for port in list_serial_ports():
        if os.path.realpath(port.device) == target:
            return port
    return None
