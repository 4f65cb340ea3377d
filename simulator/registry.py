"""Emulator registry: protocol name -> Emulator class, from `probe_nav.emulators` entry points."""

from __future__ import annotations

from importlib.metadata import entry_points

from probe_nav.simulator.emulators.base import Emulator

GROUP = "probe_nav.emulators"


class UnknownEmulator(ValueError):
    """No emulator is registered for the protocol."""


def emulator_names() -> list[str]:
    """Protocols the simulator can speak, sorted."""
    return sorted(ep.name for ep in entry_points(group=GROUP))


def emulator_class(name: str) -> type[Emulator]:
    """The Emulator class registered as `name`; UnknownEmulator lists the known ones."""
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            return ep.load()
    known = ", ".join(emulator_names()) or "none (is probe-nav installed?)"
    raise UnknownEmulator(f"the simulator cannot speak protocol {name!r}; it speaks: {known}")
