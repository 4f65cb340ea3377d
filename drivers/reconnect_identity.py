"""Device's handling of who answers after a reconnection (link_identity.py's gate, put to work)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace

from probe_nav.drivers.frames import DeviceInfo
from probe_nav.drivers.link_identity import IdentityGate, who
from probe_nav.drivers.link_state import LinkStateMachine

log = logging.getLogger("probe_nav.drivers.device")  # logged as the Device this is a part of


class ReconnectIdentity(LinkStateMachine):
    """Who is at the other end of a Device's link (a base class of it; device.py's docstring
    tells the rules): what it says is withheld until it has proved it is the device seen before,
    held writes go out once it has, and a different device is reported and its port reopened."""

    # The device's own parts (device.py).
    _identity: IdentityGate
    count_bad: Callable[..., None]
    on_identity_confirmed: Callable[[], None]

    @property
    def identity_confirmed(self) -> bool:
        """True when what this connection says may be shown: the first connection, or a
        reconnection whose device has proved it is the one seen before."""
        return self._identity.proved

    def _frame_arrived(self, now: float, dropped_before: int = 0) -> bool:
        """A valid frame came: False if it must be withheld (this connection's device has not
        proved who it is); else it proves a listen-only device and feeds the jitter estimate."""
        if not self._identity.proved and (self.identifies_by_query or self._identity.rejected):
            self.count_bad(unverified_frames=1, details={
                "unverified_frames": "withheld until the device has said who it is"})
            lost = 1 + max(0, dropped_before)  # it, and the gap before it, never shown
            with self._lock:  # lost to the reading like dropped frames
                self._stats = replace(self._stats,
                                      dropped_frames=self._stats.dropped_frames + lost)
            return False
        self._prove_identity()
        last = self._last_frame_host_s
        if last is not None:
            self._jitter.add(now - last, self.expected_period_s)
        self._silent_reopens = 0
        return True

    def _prove_identity(self) -> None:
        held = self._identity.prove()
        if held is None:
            return
        log.info("%s: the same device is back%s", self.describe(),
                 f"; sending the {len(held)} write(s) held for it" if held else "")
        for data in held:
            self._transport.write(data)
        self.on_identity_confirmed()

    def _different_device(self, info: DeviceInfo) -> None:
        expected = self._identity.reference
        reason = (f"a different device answers at {self.url}: {who(info)}"
                  f"{f' (expected {who(expected)})' if expected else ''}; not used, "
                  "waiting for the original device")
        delay_s = self._next_reopen_s()
        with self._lock:
            self._stats = replace(self._stats, identity_rejects=self._stats.identity_rejects + 1)
        self.log_limiter.log(logging.WARNING, f"{self.url}: different device", "%s: %s",
                             self.describe(), reason)
        self.problem = reason
        self._transport.request_reopen(reason, delay_s)
