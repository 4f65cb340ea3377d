"""A port is silent when no bytes come, not when a late host has not read them yet: a reopen
asked for silence is void while bytes wait (closing the port would throw them away)."""

from __future__ import annotations

import os
import select
import tty

from probe_nav.drivers.transport import SerialSettings, SerialTransport, open_port


class Listener:
    def connection_made(self, transport) -> None: ...
    def data_received(self, data: bytes) -> None: ...
    def connection_lost(self, reason: str) -> None: ...
    def idle(self) -> None: ...


def pty_port():
    master, slave = os.openpty()
    tty.setraw(slave)
    port = open_port(os.ttyname(slave), SerialSettings())
    return master, slave, port


def test_a_reopen_for_silence_is_void_while_bytes_wait_and_taken_once_they_are_read():
    master, slave, port = pty_port()
    transport = SerialTransport(os.ttyname(slave), Listener())
    transport._port = port  # the reader thread is not started: the test is the late host
    try:
        os.write(master, b"\x00frame bytes\x00")
        # the kernel hands pty bytes to the reader side asynchronously: wait (bounded) for them
        assert select.select([port.fileno()], [], [], 10.0)[0]
        assert transport.bytes_waiting() == 13
        transport.request_reopen("no frame for 0.4 s", unless_bytes=True)
        assert transport._take_reopen(port) is None  # bytes wait: not silent
        port.read(13)
        transport.request_reopen("no frame for 0.4 s", unless_bytes=True)
        assert transport._take_reopen(port, got_bytes=True) is None  # bytes came this turn
        transport.request_reopen("no frame for 0.4 s", unless_bytes=True)
        assert transport._take_reopen(port) == ("no frame for 0.4 s", 0.0)  # truly silent
        os.write(master, b"more")
        assert select.select([port.fileno()], [], [], 10.0)[0]
        transport.request_reopen("now points at /dev/pts/9")  # not about silence: always taken
        assert transport._take_reopen(port) == ("now points at /dev/pts/9", 0.0)
    finally:
        port.close()
        os.close(master)
        os.close(slave)
