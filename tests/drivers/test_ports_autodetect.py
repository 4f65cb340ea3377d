"""Port discovery, the USB ID table, autodetection through the registry (third parties included)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from typing import ClassVar

import pytest
from serial.tools.list_ports_common import ListPortInfo

from probe_nav.drivers import registry
from probe_nav.drivers.autodetect import DeviceNotRecognised, candidates, detect, identify_port
from probe_nav.drivers.device import Device
from probe_nav.drivers.errors import DeviceNotFound
from probe_nav.drivers.ports import list_serial_ports, port_for_url, recognise
from probe_nav.drivers.probing import Identification
from probe_nav.simulator.engine import Simulation
from probe_nav.simulator.links import PtyLink
from probe_nav.simulator.registry import emulator_class
from probe_nav.simulator.scenario import load
from probe_nav.simulator.server import DeviceServer


def fake_port(device: str, vid: int | None = None, pid: int | None = None,
              serial_number: str | None = None, description: str = "n/a") -> ListPortInfo:
    info = ListPortInfo(device)
    info.vid, info.pid, info.serial_number, info.description = vid, pid, serial_number, description
    return info


@pytest.mark.parametrize(("vid", "pid", "protocols"), [
    (0x1A86, 0x7523, ("gmc",)), (0x2E8A, 0x000A, ("ogd",)), (0x0483, 0xF123, ()),
    (0x0403, 0x6001, ("mightyohm", "ascii")), (0x0403, 0x1234, ("mightyohm", "ascii")),
])
def test_usb_id_table(vid, pid, protocols) -> None:
    known = recognise(vid, pid)
    assert known is not None and known.protocols == protocols


def test_unknown_or_missing_ids() -> None:
    assert recognise(0xDEAD, 0xBEEF) is None and recognise(None, None) is None


def test_listing_and_resolving_symlinks(monkeypatch, tmp_path) -> None:
    tty = tmp_path / "ttyUSB0"
    tty.write_text("")
    (tmp_path / "gmc").symlink_to(tty)
    monkeypatch.setattr("serial.tools.list_ports.comports", lambda *a, **k: [
        fake_port(str(tty), 0x1A86, 0x7523, "A1B2", "USB Serial"), fake_port("/dev/ttyS0")])
    ports = list_serial_ports()
    assert [p.device for p in ports] == ["/dev/ttyS0", str(tty)]
    assert ports[1].vid_pid == "1A86:7523" and ports[1].known.protocols == ("gmc",)
    assert ports[0].vid_pid == "" and ports[0].description == ""
    assert port_for_url(str(tmp_path / "gmc")) == ports[1]
    assert port_for_url("socket://127.0.0.1:1") is None
    assert next(name for name, _ in candidates(str(tmp_path / "gmc"))) == "gmc"


def test_candidates_one_per_family_hints_first() -> None:
    names = [name for name, _cls in candidates("/nonexistent")]
    assert names == ["gmc", "probelink", "ogd", "mightyohm", "ascii"]  # gmc-3xx/5xx: same family
    assert next(n for n, _ in candidates("/nonexistent", hints=["mightyohm"])) == "mightyohm"


@pytest.fixture
def serving() -> Iterator:
    servers: list[DeviceServer] = []

    def start(protocol: str) -> str:
        emulator = emulator_class(protocol)(Simulation(load("sln-static"), 2))
        server = DeviceServer(emulator, PtyLink(), speed=10).start()
        servers.append(server)
        return server.url

    yield start
    for server in servers:
        server.stop()


@pytest.mark.parametrize(("protocol", "found", "words"), [
    ("gmc-320", "gmc", "GMC-320 firmware 4.26"), ("gmc-500", "gmc", "GMC-500+ firmware 2.22"),
    ("probelink", "probelink", "SIM-0001"), ("mightyohm", "mightyohm", "MightyOhm"),
    ("ogd", "ogd", "Open Gamma Detector firmware 4.2.0"), ("ascii", "ascii", "count per line"),
])
def test_each_emulated_device_is_recognised(serving, protocol, found, words) -> None:
    # Short time-outs: the emulators run at x10, a line every 0.1 s.
    identified = identify_port(serving(protocol), timeout_s=0.4, listen_s=0.5)
    assert identified is not None
    assert identified.protocol == found and words in identified.description
    assert identified.baudrate is not None


def test_silent_port_is_not_recognised_quickly() -> None:
    link = PtyLink()
    try:
        # Each attempt (a driver family at one baud rate) waits its 0.3 s time-out, GMC's settle
        # (0.25 s) before it: under 0.6 s, ~1.9 s for the lot on an idle machine. A bound of 1 s
        # per attempt leaves room for a loaded machine and still fails a prober that waits its
        # default time-outs (1.5 s listening per attempt) or hangs.
        attempts = sum(len(cls.identify_baudrates or (cls.default_baudrate,))
                       for _name, cls in candidates(link.url))
        started = time.monotonic()
        assert identify_port(link.url, timeout_s=0.3, listen_s=0.3) is None
        assert time.monotonic() - started < 1.0 * attempts
    finally:
        link.close()


def test_missing_port_and_open_device_auto(serving) -> None:
    with pytest.raises(DeviceNotFound, match="cannot open /dev/does-not-exist"):
        detect("/dev/does-not-exist")
    url = serving("mightyohm")
    device = registry.open_device(url, "auto")
    assert device.protocol == "mightyohm" and device.settings.baudrate == 9600
    assert issubclass(DeviceNotRecognised, DeviceNotFound)


class AcmeCounter(Device):
    """A third-party driver: lines 'ACME <n>'."""

    protocol: ClassVar[str] = "acme"
    identify_order: ClassVar[int] = 5

    def on_connect(self) -> None:
        """Nothing to say."""

    def on_data(self, data: bytes) -> None:
        """Not needed here."""

    @classmethod
    def recognise(cls, captured: bytes) -> Identification | None:
        return Identification("acme", "ACME counter") if b"ACME " in captured else None


def test_third_party_driver_from_an_entry_point(monkeypatch) -> None:
    original = registry._entry_points

    def with_acme() -> dict[str, EntryPoint]:
        eps = dict(original())
        eps["acme"] = EntryPoint("acme", f"{__name__}:AcmeCounter", registry.GROUP)
        return eps

    monkeypatch.setattr(registry, "_entry_points", with_acme)
    assert "acme" in registry.protocol_names() and registry.driver_class("acme") is AcmeCounter
    assert AcmeCounter.listens_only()
    link = PtyLink()
    stop = threading.Event()

    def talk() -> None:  # a line every 0.1 s, like a counter that was already running
        while not stop.wait(0.1):
            link.write(b"ACME 12\r\n")

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    try:
        found = identify_port(link.url, listen_s=0.5)
        assert found is not None and found.protocol == "acme"
    finally:
        stop.set()
        talker.join(1)
        link.close()
