"""Requests a live session can send to its device, as jobs that run off the GUI thread (a request
blocks for up to ~1 s) and return the message for the user. Only protocols that have the command
get a job; for the others the builders return None and the session says it cannot."""

from __future__ import annotations

from collections.abc import Callable

from probe_nav.drivers.device import Device

Job = Callable[[], str]


def window_job(device: Device, lo_kev: float, hi_kev: float, name: str = "") -> Job | None:
    """Count window 0 in [lo, hi) keV (ProbeLink SET_WINDOW, then GET_INFO); None if the
    device's protocol cannot set windows."""
    from probe_nav.drivers.probelink.device import ProbeLinkDevice
    from probe_nav.drivers.probelink.messages import AckResult, Cmd

    if not isinstance(device, ProbeLinkDevice):
        return None

    def job() -> str:
        ack = device.request(Cmd.SET_WINDOW, 0, float(lo_kev), float(hi_kev))
        if ack.result != AckResult.OK:
            return f"window {lo_kev:g}-{hi_kev:g} keV refused ({AckResult(ack.result).name})"
        device.request(Cmd.GET_INFO)
        return f"window 0 set to {lo_kev:g}-{hi_kev:g} keV {name}".rstrip()

    return job


def spectrum_job(device: Device, on: bool) -> Job | None:
    """Spectra on or off (ProbeLink SET_SPECTRUM); None if the device cannot be asked."""
    from probe_nav.drivers.probelink.device import ProbeLinkDevice
    from probe_nav.drivers.probelink.messages import Cmd

    if not isinstance(device, ProbeLinkDevice):
        return None

    def job() -> str:
        device.request(Cmd.SET_SPECTRUM, int(on))
        return ""

    return job
