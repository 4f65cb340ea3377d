"""`--protocol auto`: find which registered driver speaks on a port.

Candidates come from the driver registry (so third-party drivers take part through their own
`identify`), the protocols that the port's USB IDs suggest first, then by each driver's
`identify_order` (drivers that can ask a harmless question before drivers that can only listen).
Each protocol family is asked once, at each of its baud rates, with short time-outs.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from dataclasses import replace

import serial

from probe_nav.drivers.device import Device
from probe_nav.drivers.errors import DeviceNotFound, DriverError, UnknownProtocol
from probe_nav.drivers.ports import port_for_url
from probe_nav.drivers.probing import Identification, read_for
from probe_nav.drivers.registry import driver_class, protocol_names

log = logging.getLogger(__name__)


class DeviceNotRecognised(DeviceNotFound):
    """Nothing registered recognised the device."""


def candidates(url: str, hints: Sequence[str] = ()) -> list[tuple[str, type[Device]]]:
    """Registered drivers that can identify a device, in the order to try them, one per family."""
    port = port_for_url(url)
    known = port.known if port is not None else None
    hinted = list(hints) + list(known.protocols if known else ())
    found: list[tuple[str, type[Device]]] = []
    for name in protocol_names():
        try:
            cls = driver_class(name)
        except (UnknownProtocol, ImportError, AttributeError) as exc:
            log.warning("driver %r cannot be loaded, skipped: %s", name, exc)
            continue  # a broken third-party entry point must not stop autodetection
        if _family(cls) is not None:
            found.append((name, cls))

    def rank(item: tuple[str, type[Device]]) -> tuple[int, int, str]:
        name, cls = item
        hint = hinted.index(name) if name in hinted else len(hinted)
        return (hint, cls.identify_order, name)

    families: dict[object, tuple[str, type[Device]]] = {}
    for name, cls in sorted(found, key=rank):
        families.setdefault(_family(cls), (name, cls))
    return list(families.values())


def _family(cls: type[Device]) -> object | None:
    """What makes two registered classes the same protocol family (None: cannot identify)."""
    if cls.listens_only():
        return cls.recognise.__func__  # type: ignore[attr-defined]
    identify = cls.identify.__func__  # type: ignore[attr-defined]
    return None if identify is Device.identify.__func__ else identify  # type: ignore[attr-defined]


class _Prober:
    """Opens the port per attempt; listen-only drivers share one capture per baud rate."""

    def __init__(self, url: str, listen_s: float) -> None:
        self.url = url
        self.listen_s = listen_s
        self.captured: dict[int, bytes] = {}
        self.opened_once = False
        self.last_error = ""

    def attempt(self, cls: type[Device], baud: int,
                timeout_s: float | None) -> Identification | None:
        """One identification attempt at one baud rate; None if not recognised or not opened."""
        if cls.listens_only() and baud in self.captured:
            return cls.recognise(self.captured[baud])
        try:
            port = serial.serial_for_url(self.url, baudrate=baud, timeout=0.05, exclusive=None)
        except (serial.SerialException, OSError, ValueError) as exc:
            self.last_error = str(exc)
            return None
        self.opened_once = True
        try:
            with contextlib.suppress(serial.SerialException, OSError):
                port.reset_input_buffer()
            if cls.listens_only():
                self.captured[baud] = read_for(port, timeout_s or self.listen_s,
                                               done=lambda buf: cls.recognise(buf) is not None)
                return cls.recognise(self.captured[baud])
            return cls.identify(port) if timeout_s is None else cls.identify(port, timeout_s)
        except (serial.SerialException, OSError, DriverError):
            return None
        finally:
            with contextlib.suppress(Exception):
                port.close()


def identify_port(url: str, hints: Sequence[str] = (), timeout_s: float | None = None,
                  listen_s: float = 1.5) -> Identification | None:
    """Ask the port at `url` who it is; None if no registered driver recognises it.

    Listen-only drivers judge one shared capture of `listen_s` per baud rate (their devices print
    about once a second). DeviceNotFound if the port cannot be opened at all.
    """
    prober = _Prober(url, listen_s)
    for _name, cls in candidates(url, hints):
        for baud in cls.identify_baudrates or (cls.default_baudrate,):
            found = prober.attempt(cls, baud, timeout_s)
            log.debug("%s: %s at %d baud: %s", url, cls.protocol, baud, found or "no")
            if found is not None:
                log.info("%s: identified as %s (%s) at %d baud", url, found.protocol,
                         found.description, found.baudrate or baud)
                return replace(found, baudrate=found.baudrate or baud)
    if not prober.opened_once:
        why = prober.last_error or "no driver can identify it"
        raise DeviceNotFound(f"cannot open {url}: {why}")
    return None


def detect(url: str, hints: Sequence[str] = ()) -> Identification:
    """Like identify_port, but DeviceNotRecognised (with what was tried) instead of None."""
    found = identify_port(url, hints)
    if found is None:
        tried = ", ".join(name for name, _cls in candidates(url, hints))
        raise DeviceNotRecognised(
            f"no driver recognised the device at {url} (tried {tried}); "
            "name its protocol with --protocol"
        )
    return found
