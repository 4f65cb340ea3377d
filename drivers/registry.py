"""Driver registry: protocol name -> Device class, from the `probe_nav.drivers` entry-point group.

Built-in drivers register through the same group in probe-nav's own pyproject.toml, so a
third-party package adds a protocol by declaring an entry point, without touching probe-nav.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from probe_nav.drivers.device import Device
from probe_nav.drivers.errors import UnknownProtocol

GROUP = "probe_nav.drivers"
AUTO = "auto"  # not a driver: ask the port who it is (probe_nav.drivers.autodetect)


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def protocol_names() -> list[str]:
    """The registered protocol names, sorted."""
    return sorted(_entry_points())


def driver_class(name: str) -> type[Device]:
    """The Device class registered as `name`; UnknownProtocol lists the known names."""
    ep = _entry_points().get(name)
    if ep is None:
        names = protocol_names()
        known = f"{', '.join(names)} or {AUTO}" if names else "none (is probe-nav installed?)"
        raise UnknownProtocol(f"unknown protocol {name!r}; known protocols: {known}")
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Device)):
        raise UnknownProtocol(
            f"entry point {name!r} ({ep.value}) is not a probe_nav.drivers.device.Device")
    return cls


def open_device(url: str, protocol: str = "probelink", **kwargs: Any) -> Device:
    """Make the device object for `url` speaking `protocol` (not yet opened).

    `protocol="auto"` asks the port who it is first (probe_nav.drivers.autodetect): DeviceNotFound
    if the port cannot be opened or nothing recognises it. `kwargs` go to the driver class, each
    of which takes its own options (hence Any: the class is only known at run time).
    """
    if protocol == AUTO:
        from probe_nav.drivers.autodetect import detect

        found = detect(url)
        if found.baudrate is not None and "baudrate" not in kwargs:
            kwargs["baudrate"] = found.baudrate
        protocol = found.protocol
    return driver_class(protocol)(url, **kwargs)
