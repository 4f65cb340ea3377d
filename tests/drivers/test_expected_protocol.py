"""The byte-level test helper itself fails when a driver writes the wrong bytes or stops early."""

from __future__ import annotations

import time

import pytest

from probe_nav.drivers.device import Device
from tests.drivers.expected_protocol import HANG_S, ScriptedPort, expected_protocol


class Talker(Device):
    """Writes `greeting` on connect and nothing else."""

    greeting = b"<GETVER>>"

    def on_connect(self) -> None:
        self.send(self.greeting)

    def on_data(self, data: bytes) -> None:
        self.heard = data


class Typo(Talker):
    greeting = b"<GETVER>"


def test_matching_exchange_passes() -> None:
    with expected_protocol(Talker, [(b"<GETVER>>", b"hello")]) as (_device, port):
        assert port.wait_done()


def test_wrong_bytes_fail_the_test() -> None:
    with pytest.raises(AssertionError, match="expected write b'<GETVER>>', got b'<GETVER>'"), \
            expected_protocol(Typo, [(b"<GETVER>>", b"hello")]) as (_device, port):
        deadline = time.monotonic() + HANG_S
        while not port.written:  # the typo is written at once (however late the OS runs it)
            assert time.monotonic() < deadline
            time.sleep(0.01)


def test_unplayed_script_fails_the_test() -> None:
    with pytest.raises(AssertionError, match="not played"), \
            expected_protocol(Talker, [(b"<GETVER>>", b""), (b"<GETSERIAL>>", b"")]):
        pass


def test_unasked_bytes_come_before_the_reply() -> None:
    port = ScriptedPort([(None, b"ab"), (b"x", b"cd"), (None, b"ef")])
    port.write(b"x")
    assert port.read(10) == b"abcdef"
    assert port.done()
