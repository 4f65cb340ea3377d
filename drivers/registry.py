"""Driver registry: protocol name -> Device class, from the `probe_nav.drivers` entry-point group.

Built-in drivers register through the same group in probe-nav's own pyproject.toml, so a
third-party package adds a protocol by declaring an entry point, without touching probe-nav.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

from drivers.device import Device
from drivers.errors import UnknownProtocol

GROUP = "probe_nav.drivers"


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def protocol_names() -> list[str]:
    """The registered protocol names, sorted."""
    return sorted(_entry_points())


def driver_class(name: str) -> type[Device]:
    """The Device class registered as `name`; UnknownProtocol lists the known names."""
    ep = _entry_points().get(name)
    if ep is None:
        known = ", ".join(protocol_names()) or "none (is probe-nav installed?)"
        raise UnknownProtocol(f"unknown protocol {name!r}; known protocols: {known}")
    cls = ep.load()
    if not (isinstance(cls, type) and issubclass(cls, Device)):
        raise UnknownProtocol(f"entry point {name!r} ({ep.value}) is not a drivers.device.Device")
    return cls


def open_device(url: str, protocol: str = "probelink", **kwargs: object) -> Device:
    """Make the device object for `url` speaking `protocol` (not yet opened)."""
    return driver_class(protocol)(url, **kwargs)
